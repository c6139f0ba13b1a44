using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Bulwark.Server.Response.Connectors;

/// <summary>
/// Renders the templates of a connector's own mappings (<see cref="Bulwark.Response.HttpMapping"/>): only
/// <c>{{target}}</c>, <c>{{incident.id}}</c> and <c>{{correlation_id}}</c> for now. Any other placeholder is an error,
/// never sent as written. This is the one place to swap for the playbook template engine once it exists.
/// </summary>
internal static partial class ConnectorTemplates
{
    /// <summary>Renders a path: values are escaped as one path segment each.</summary>
    public static bool TryRenderPath(string template, ActionCall call, [NotNullWhen(true)] out string? path, out string error) =>
        TryRender(template, call, Uri.EscapeDataString, out path, out error);

    /// <summary>Renders every string in a copy of <paramref name="body"/>; values are inserted as they are.</summary>
    public static bool TryRenderBody(JsonObject? body, ActionCall call, out JsonObject? rendered, out string error)
    {
        error = string.Empty;
        rendered = null;
        if (body is null)
        {
            return true;
        }

        var copy = (JsonObject)body.DeepClone();
        if (!TryRenderNode(copy, call, out error))
        {
            return false;
        }

        rendered = copy;
        return true;
    }

    private static bool TryRenderNode(JsonNode node, ActionCall call, out string error)
    {
        error = string.Empty;
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, child) in obj.ToList())
                {
                    if (child is JsonValue value && value.TryGetValue<string>(out var text))
                    {
                        if (!TryRender(text, call, static s => s, out var result, out error))
                        {
                            return false;
                        }

                        obj[name] = result;
                    }
                    else if (child is not null && !TryRenderNode(child, call, out error))
                    {
                        return false;
                    }
                }

                return true;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue value && value.TryGetValue<string>(out var text))
                    {
                        if (!TryRender(text, call, static s => s, out var result, out error))
                        {
                            return false;
                        }

                        array[i] = result;
                    }
                    else if (array[i] is { } child && !TryRenderNode(child, call, out error))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return true;
        }
    }

    private static bool TryRender(string template, ActionCall call, Func<string, string> escape, [NotNullWhen(true)] out string? rendered, out string error)
    {
        string? unknown = null;
        rendered = Placeholder().Replace(template, match =>
        {
            switch (match.Groups[1].Value)
            {
                case "target":
                    return escape(call.Target);
                case "incident.id":
                    return escape(call.Incident.Id);
                case "correlation_id":
                    return escape(call.CorrelationId);
                default:
                    unknown ??= match.Groups[1].Value;
                    return match.Value;
            }
        });
        error = unknown is null ? string.Empty : $"the connector mapping uses {{{{{unknown}}}}}, which is not one of {{{{target}}}}, {{{{incident.id}}}}, {{{{correlation_id}}}}";
        if (unknown is not null)
        {
            rendered = null;
            return false;
        }

        return true;
    }

    [GeneratedRegex(@"\{\{\s*([^{}\s]*)\s*\}\}")]
    private static partial Regex Placeholder();
}
