using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;

namespace Bulwark.Response;

/// <summary>
/// The values templates and conditions read, as one JSON object:
/// <code>
/// incident:       { id, title, kind, severity, confidence, accounts, ips, platforms, rules }
/// target:         the account id or IP a call acts on (the incident id for a step with one call)
/// platform:       the platform of the step's connector, when it has one
/// correlation_id: the incident's correlation id
/// run:            { id, playbook }
/// steps:          { &lt;step id&gt;: { output: { … } } }   what earlier steps left
/// with:           the step's rendered parameters (in a connector's HTTP mappings only)
/// </code>
/// Paths are dotted (<c>incident.accounts</c>, <c>steps.revoke.output.count</c>); a numeric segment indexes an array.
/// </summary>
public static class ResponseContext
{
    /// <summary>The fields of <c>incident</c> that paths may name.</summary>
    public static IReadOnlyList<string> IncidentFields { get; } = ["id", "title", "kind", "severity", "confidence", "accounts", "ips", "platforms", "rules"];

    /// <summary>The fields of <c>run</c> that paths may name.</summary>
    public static IReadOnlyList<string> RunFields { get; } = ["id", "playbook"];

    /// <summary>The roots paths may start with.</summary>
    public static IReadOnlyList<string> Roots { get; } = ["incident", "target", "platform", "correlation_id", "run", "steps"];

    /// <summary>Builds the context of one call.</summary>
    /// <param name="incident">The incident.</param>
    /// <param name="runId">The run.</param>
    /// <param name="playbook">The playbook.</param>
    /// <param name="correlationId">The incident's correlation id.</param>
    /// <param name="target">The call's target, or <see langword="null"/> before a target is chosen (for <c>run_if</c>).</param>
    /// <param name="platform">The platform of the step's connector, if any.</param>
    /// <param name="stepOutputs">The outputs of finished steps, by step id.</param>
    /// <param name="parameters">The step's rendered parameters, for rendering a connector's HTTP mapping.</param>
    /// <returns>A new context object.</returns>
    public static JsonObject Create(
        IncidentRecord incident,
        string runId,
        string playbook,
        string correlationId,
        string? target = null,
        string? platform = null,
        IReadOnlyDictionary<string, JsonObject>? stepOutputs = null,
        JsonObject? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(incident);
        var steps = new JsonObject();
        foreach (var (id, output) in stepOutputs ?? new Dictionary<string, JsonObject>())
        {
            steps[id] = new JsonObject { ["output"] = output.DeepClone() };
        }

        return new JsonObject
        {
            ["incident"] = new JsonObject
            {
                ["id"] = incident.Id,
                ["title"] = incident.Title,
                ["kind"] = DetectionNames.Name(DetectionNames.IncidentKinds, incident.Kind),
                ["severity"] = DetectionNames.Name(DetectionNames.Severities, incident.Severity),
                ["confidence"] = Math.Round(incident.Confidence, 4),
                ["accounts"] = new JsonArray([.. incident.Accounts.Select(a => (JsonNode)a)]),
                ["ips"] = new JsonArray([.. incident.Ips.Select(a => (JsonNode)a)]),
                ["platforms"] = new JsonArray([.. incident.Platforms.Select(a => (JsonNode)a)]),
                ["rules"] = new JsonArray([.. incident.Rules.Select(a => (JsonNode)a)]),
            },
            ["target"] = target,
            ["platform"] = platform,
            ["correlation_id"] = correlationId,
            ["run"] = new JsonObject { ["id"] = runId, ["playbook"] = playbook },
            ["steps"] = steps,
            ["with"] = parameters?.DeepClone(),
        };
    }

    /// <summary>Splits a dotted path into its segments.</summary>
    /// <param name="path">For example <c>incident.accounts</c>.</param>
    /// <param name="segments">The segments.</param>
    /// <returns>Whether every segment is 1–63 characters of letters, digits, <c>_</c> and <c>-</c>.</returns>
    public static bool TryParsePath(string path, out string[] segments)
    {
        ArgumentNullException.ThrowIfNull(path);
        segments = path.Split('.');
        foreach (var segment in segments)
        {
            if (segment.Length is 0 or > 63 || !segment.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Checks what can be known of a path before a run: its root, the fields of <c>incident</c> and <c>run</c>, and
    /// the shape <c>steps.&lt;id&gt;.output[.…]</c>, with the step being one <paramref name="visibleSteps"/> names.
    /// </summary>
    /// <param name="segments">The path's segments.</param>
    /// <param name="visibleSteps">The steps whose outputs exist when the path is read (those the step depends on), or <see langword="null"/> to accept any step id.</param>
    /// <param name="parameters">Whether <c>with.&lt;field&gt;</c> (the step's rendered parameters) may be read: in a connector's HTTP mappings.</param>
    /// <returns>What is wrong, or <see langword="null"/> when the path can resolve.</returns>
    public static string? Check(IReadOnlyList<string> segments, IReadOnlySet<string>? visibleSteps, bool parameters = false)
    {
        ArgumentNullException.ThrowIfNull(segments);
        var path = string.Join('.', segments);
        switch (segments[0])
        {
            case "target" or "platform" or "correlation_id":
                return segments.Count == 1 ? null : $"'{path}': {segments[0]} is a single value";
            case "incident":
                return segments.Count >= 2 && IncidentFields.Contains(segments[1]) && (segments.Count == 2 || IsIndex(segments, 2))
                    ? null
                    : $"'{path}' is not an incident field: use incident.{string.Join(", incident.", IncidentFields)}";
            case "run":
                return segments.Count == 2 && RunFields.Contains(segments[1]) ? null : $"'{path}' is not a run field: use run.id or run.playbook";
            case "steps":
                if (segments.Count < 3 || segments[2] != "output")
                {
                    return $"'{path}': a step's values are read as steps.<id>.output.<field>";
                }

                return visibleSteps is null || visibleSteps.Contains(segments[1])
                    ? null
                    : $"'{path}': step '{segments[1]}' has not run when this is read (name it in depends_on)";
            case "with" when parameters:
                return segments.Count >= 2 ? null : $"'{path}': read a parameter as with.<field>";
            default:
                return $"'{path}' starts with an unknown name: use {string.Join(", ", Roots)}";
        }
    }

    /// <summary>Reads the value at a path of a context.</summary>
    /// <param name="context">The context.</param>
    /// <param name="segments">The path's segments.</param>
    /// <returns>The value, or <see langword="null"/> when the path does not resolve (or holds JSON null).</returns>
    public static JsonNode? Resolve(JsonObject context, IReadOnlyList<string> segments)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(segments);
        JsonNode? node = context;
        foreach (var segment in segments)
        {
            node = node switch
            {
                JsonObject obj => obj.TryGetPropertyValue(segment, out var child) ? child : null,
                JsonArray array => int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < array.Count ? array[index] : null,
                _ => null,
            };
            if (node is null)
            {
                return null;
            }
        }

        return node;
    }

    /// <summary>A value as text: strings as they are, numbers and booleans as JSON writes them, arrays joined with <c>", "</c>, objects as JSON, null as empty.</summary>
    /// <param name="node">The value.</param>
    /// <returns>The text.</returns>
    public static string Text(JsonNode? node) => node switch
    {
        null => string.Empty,
        JsonArray array => string.Join(", ", array.Select(Text)),
        JsonObject obj => obj.ToJsonString(),
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        JsonValue value when value.GetValueKind() == JsonValueKind.Null => string.Empty,
        _ => node.ToJsonString(),
    };

    private static bool IsIndex(IReadOnlyList<string> segments, int at) =>
        segments.Count == at + 1 && int.TryParse(segments[at], NumberStyles.None, CultureInfo.InvariantCulture, out _);
}
