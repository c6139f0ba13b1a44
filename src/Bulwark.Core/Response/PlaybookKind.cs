using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Bulwark.Detection.Incidents;
using Bulwark.Identity;
using Bulwark.Manifests;

namespace Bulwark.Response;

/// <summary>
/// Manifest kind <c>Playbook</c> (API collection <c>playbooks</c>). Every error is reported with its JSON Pointer path.
/// <code>
/// name: contain-account-takeover
/// trigger: { rules: [contact-change-then-token-rotation], min_severity: high, min_confidence: 0.6 }
/// auto_threshold: 0.8            # at or above: runs by itself; below: the run waits for approval
/// irreversible_threshold: 0.95   # below it, a step without compensate waits for approval
/// approval: { roles: [responder], ttl: 30m, on_expiry: deny }   # who answers those (the default)
/// dry_run: false
/// steps:
///   - id: revoke
///     action: platform.revoke_tokens
///     connector: instagram-api
///     for_each: accounts         # accounts | ips | absent: one call for the incident
///     with: { reason: "incident {{incident.id}}" }
///     retry: { count: 3, initial: 500ms, max: 30s, on: [timeout, 5xx, 429] }
///     timeout: 5s
///     compensate: { action: platform.unsuspend, with: {} }
///   - id: page
///     action: notify.pagerduty
///     connector: pagerduty
///     depends_on: [revoke]
///     run_if: "incident.severity == 'critical' || incident.confidence >= 0.9"
///     requires_approval: { roles: [responder], ttl: 15m, on_expiry: escalate, escalate_to: [admin] }
/// </code>
/// </summary>
/// <remarks>
/// A playbook whose irreversible steps would run automatically below <c>irreversible_threshold</c> is valid: the
/// executor asks for approval (<see cref="PlaybookDefinition.Approval"/>) before each such step of a run whose incident
/// is below that confidence, so the threshold is a gate, not a lint. Connector names are checked against the
/// connectors that exist by <see cref="PlaybookChecks.CheckConnectors"/>, where the server knows them.
/// </remarks>
public sealed partial class PlaybookKind : ManifestKind<PlaybookDefinition>
{
    /// <summary>The most steps a playbook may have.</summary>
    public const int MaxSteps = 50;

    /// <summary>The most retries a step may make.</summary>
    public const int MaxRetries = 10;

    /// <summary>The instance.</summary>
    public static PlaybookKind Instance { get; } = new();

    /// <inheritdoc />
    public override string Kind => "Playbook";

    /// <inheritdoc />
    public override string Plural => "playbooks";

    /// <inheritdoc />
    public override Capability ChangeCapability => Capability.Configure;

    /// <inheritdoc />
    protected override PlaybookDefinition? ReadCore(ManifestReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var name = reader.ReadName();
        var description = reader.ReadString("description", maxLength: 2000);
        var trigger = ReadTrigger(reader);
        var auto = reader.ReadNumber("auto_threshold", 0, 1);
        var irreversible = reader.ReadNumber("irreversible_threshold", 0, 1);
        if ((irreversible ?? 0.95) < (auto ?? 0.9) && (auto is not null || irreversible is not null))
        {
            reader.Error("irreversible_threshold", $"must be at least auto_threshold ({(auto ?? 0.9).ToString(System.Globalization.CultureInfo.InvariantCulture)}): irreversible steps need more confidence than reversible ones");
        }

        var approvalReader = reader.ReadObject("approval");
        var approval = approvalReader is null ? ApprovalRequirement.Default : ReadApproval(approvalReader);
        var dryRun = reader.ReadBoolean("dry_run") ?? false;
        var steps = ReadSteps(reader);
        var onFailure = ReadOnFailure(reader, steps);

        var document = (JsonObject)reader.Object.DeepClone();
        document.Remove("kind");
        return name is null || trigger is null || steps is null || onFailure is null || approval is null ? null : new PlaybookDefinition
        {
            Name = name,
            Description = description,
            Trigger = trigger,
            AutoThreshold = auto ?? 0.9,
            IrreversibleThreshold = irreversible ?? 0.95,
            Approval = approval,
            DryRun = dryRun,
            Steps = steps,
            OnFailure = onFailure,
            Document = document,
        };
    }

    /// <summary>The most <c>on_failure</c> steps a playbook may have.</summary>
    public const int MaxOnFailure = 5;

    private static List<PlaybookStep>? ReadOnFailure(ManifestReader reader, List<PlaybookStep>? steps)
    {
        var readers = reader.ReadObjectArray("on_failure");
        if (readers is null)
        {
            return reader.ReadRaw("on_failure") is null ? [] : null;
        }

        if (readers.Count > MaxOnFailure)
        {
            reader.Error("on_failure", $"must list at most {MaxOnFailure} steps");
            return null;
        }

        var errorsBefore = reader.Errors.Count;
        var ids = new HashSet<string>((steps ?? []).Select(s => s.Id), StringComparer.Ordinal);
        var visible = new HashSet<string>(ids, StringComparer.Ordinal);
        var read = new List<PlaybookStep>(readers.Count);
        foreach (var stepReader in readers)
        {
            foreach (var field in (string[])["depends_on", "compensate", "requires_approval"])
            {
                if (stepReader.ReadRaw(field) is not null)
                {
                    stepReader.Error(field, $"an on_failure step runs when the run fails; it takes no {field}");
                }
            }

            var step = ReadStep(stepReader);
            if (step is null)
            {
                continue;
            }

            if (!ids.Add(step.Id))
            {
                stepReader.Error("id", $"'{step.Id}' is also the id of another step");
            }

            if (step.RunIf is { } runIf && !Conditions.TryCompile(runIf, out _, out var error, visible))
            {
                stepReader.Error("run_if", error!);
            }

            Templates.Compile(step.With, stepReader.PathOf("with"), stepReader.Errors, visible);
            read.Add(step);
        }

        return reader.Errors.Count == errorsBefore && read.Count == readers.Count ? read : null;
    }

    /// <inheritdoc />
    protected override string NameOfCore(PlaybookDefinition definition) => definition.Name;

    /// <inheritdoc />
    protected override JsonObject WriteCore(PlaybookDefinition definition) => (JsonObject)definition.Document.DeepClone();

    private static PlaybookTrigger? ReadTrigger(ManifestReader reader)
    {
        var trigger = reader.ReadObject("trigger");
        if (trigger is null)
        {
            if (reader.ReadRaw("trigger") is null)
            {
                reader.Error("trigger", "is required: { rules: [...], min_severity, min_confidence }");
            }

            return null;
        }

        var rules = trigger.ReadStringArray("rules") ?? [];
        var ok = true;
        for (var i = 0; i < rules.Count; i++)
        {
            if (!NamePattern().IsMatch(rules[i]))
            {
                trigger.ItemError("rules", i, "must be a rule or detector name");
                ok = false;
            }
        }

        var severity = trigger.ReadEnum("min_severity", DetectionNames.Severities) ?? Severity.Low;
        var confidence = trigger.ReadNumber("min_confidence", 0, 1) ?? 0;
        trigger.RejectUnknownFields();
        return ok ? new PlaybookTrigger(rules, severity, confidence) : null;
    }

    private static List<PlaybookStep>? ReadSteps(ManifestReader reader)
    {
        var readers = reader.ReadObjectArray("steps");
        if (readers is null)
        {
            if (reader.ReadRaw("steps") is null)
            {
                reader.Error("steps", "is required: at least one step");
            }

            return null;
        }

        if (readers.Count is 0 or > MaxSteps)
        {
            reader.Error("steps", $"must list from 1 to {MaxSteps} steps");
            return null;
        }

        var errorsBefore = reader.Errors.Count;
        var steps = new List<(PlaybookStep? Step, ManifestReader Reader)>(readers.Count);
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < readers.Count; i++)
        {
            var step = ReadStep(readers[i]);
            if (step is not null && !ids.TryAdd(step.Id, i))
            {
                readers[i].Error("id", $"'{step.Id}' is also the id of step {ids[step.Id]}");
            }

            steps.Add((step, readers[i]));
        }

        // A step with an error elsewhere still has its id: its dependents are not told that it does not exist.
        for (var i = 0; i < readers.Count; i++)
        {
            if (steps[i].Step is null && readers[i].Object["id"] is JsonValue idValue && idValue.TryGetValue<string>(out var rawId))
            {
                ids.TryAdd(rawId, i);
            }
        }

        // The graph and the templates need every step's id: check them once all steps are read.
        var dependsOn = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (step, stepReader) in steps)
        {
            if (step is null)
            {
                continue;
            }

            var valid = new List<string>(step.DependsOn.Count);
            for (var d = 0; d < step.DependsOn.Count; d++)
            {
                var dependency = step.DependsOn[d];
                if (dependency == step.Id)
                {
                    stepReader.ItemError("depends_on", d, "a step cannot depend on itself");
                }
                else if (!ids.ContainsKey(dependency))
                {
                    stepReader.ItemError("depends_on", d, $"there is no step '{dependency}'");
                }
                else if (step.DependsOn.Take(d).Contains(dependency, StringComparer.Ordinal))
                {
                    stepReader.ItemError("depends_on", d, $"'{dependency}' is listed twice");
                }
                else
                {
                    valid.Add(dependency);
                }
            }

            // Only edges that exist form the graph: a self-reference is reported once, above, not again as a cycle.
            dependsOn.TryAdd(step.Id, valid);
        }

        foreach (var (step, stepReader) in steps)
        {
            if (step is null)
            {
                continue;
            }

            if (FindCycle(step.Id, dependsOn) is { } cycle)
            {
                stepReader.Error("depends_on", $"forms a cycle: {string.Join(" → ", cycle)}");
                continue;
            }

            var visible = Ancestors(step.Id, dependsOn);
            if (step.RunIf is { } runIf && !Conditions.TryCompile(runIf, out _, out var error, visible))
            {
                stepReader.Error("run_if", error!);
            }

            Templates.Compile(step.With, stepReader.PathOf("with"), stepReader.Errors, visible);
            if (step.Compensate is { } compensate)
            {
                visible.Add(step.Id);
                Templates.Compile(compensate.With, stepReader.PathOf("compensate") + "/with", stepReader.Errors, visible);
            }
        }

        return reader.Errors.Count == errorsBefore && steps.All(s => s.Step is not null) ? [.. steps.Select(s => s.Step!)] : null;
    }

    private static PlaybookStep? ReadStep(ManifestReader reader)
    {
        var id = reader.ReadString("id", required: true, maxLength: 63);
        if (id is not null && !StepIdPattern().IsMatch(id))
        {
            reader.Error("id", "must be 1-63 characters of a-z, 0-9, '_' or '-', starting with a letter or digit");
            id = null;
        }

        var action = ReadAction(reader, "action");
        var connector = reader.ReadString("connector", maxLength: 63);
        if (connector is not null && !NamePattern().IsMatch(connector))
        {
            reader.Error("connector", "must be a connector name");
            connector = null;
        }

        var forEach = reader.ReadEnum("for_each", ResponseNames.Targets) ?? StepTargets.Incident;
        if (action is not null && !action.Targets.Contains(forEach))
        {
            reader.Error("for_each", $"{action.Name} acts on {string.Join(" or ", action.Targets.Select(t => ResponseNames.Name(ResponseNames.Targets, t)))}, not {ResponseNames.Name(ResponseNames.Targets, forEach)}");
        }

        var with = ReadParameters(reader, "with");
        var dependsOn = reader.ReadStringArray("depends_on") ?? [];
        var runIf = reader.ReadString("run_if", maxLength: Conditions.MaxLength);
        var retry = ReadRetry(reader);
        var timeout = reader.ReadDuration("timeout", TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(15)) ?? TimeSpan.FromSeconds(10);
        var compensate = ReadCompensation(reader);
        var approvalReader = reader.ReadObject("requires_approval");
        var approval = approvalReader is null ? null : ReadApproval(approvalReader);

        var calls = new[] { action, compensate.Action }.Where(a => a is { CallsOut: true }).Select(a => a!).ToList();
        if (calls.Count > 0 && connector is null && reader.ReadRaw("connector") is null)
        {
            reader.Error("connector", $"is required: {calls[0].Name} calls out through a {ResponseNames.Name(ResponseNames.ConnectorTypes, calls[0].Connector!.Value)} connector");
        }
        else if (action is not null && compensate.Failed is false && calls.Count == 0 && connector is not null)
        {
            reader.Error("connector", $"{action.Name} is carried out by Bulwark itself and takes no connector");
        }

        if (calls.Count == 2 && calls[0].Connector != calls[1].Connector)
        {
            reader.Error("compensate", $"{calls[1].Name} calls a {ResponseNames.Name(ResponseNames.ConnectorTypes, calls[1].Connector!.Value)} connector, but the step's connector is for {calls[0].Name} ({ResponseNames.Name(ResponseNames.ConnectorTypes, calls[0].Connector!.Value)})");
        }

        reader.RejectUnknownFields();
        if (id is null || action is null || with is null || retry is null || compensate.Failed || (approvalReader is not null && approval is null))
        {
            return null;
        }

        return new PlaybookStep
        {
            Id = id,
            Action = action.Name,
            Connector = connector,
            ForEach = forEach,
            With = with,
            DependsOn = dependsOn,
            RunIf = runIf,
            Retry = retry,
            Timeout = timeout,
            Compensate = compensate.Value,
            RequiresApproval = approval,
        };
    }

    private static PlaybookAction? ReadAction(ManifestReader reader, string field)
    {
        var name = reader.ReadString(field, required: true, maxLength: 64);
        if (name is null)
        {
            return null;
        }

        var action = PlaybookActions.Find(name);
        if (action is null)
        {
            reader.Error(field, $"'{name}' is not an action: use one of {PlaybookActions.Names}");
        }

        return action;
    }

    private static JsonObject? ReadParameters(ManifestReader reader, string field)
    {
        var node = reader.ReadRaw(field);
        if (node is null)
        {
            return [];
        }

        if (node is not JsonObject parameters)
        {
            reader.Error(field, $"must be an object, not {ManifestReader.Describe(node)}");
            return null;
        }

        return (JsonObject)parameters.DeepClone();
    }

    private static RetryPolicy? ReadRetry(ManifestReader reader)
    {
        var retry = reader.ReadObject("retry");
        if (retry is null)
        {
            return reader.ReadRaw("retry") is null ? RetryPolicy.Default : null;
        }

        var before = retry.Errors.Count;
        var defaults = RetryPolicy.Default;
        var count = retry.ReadNumber("count", 0, MaxRetries);
        if (count is { } c && c != Math.Floor(c))
        {
            retry.Error("count", "must be a whole number");
        }

        var initial = retry.ReadDuration("initial", TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1)) ?? defaults.Initial;
        var max = retry.ReadDuration("max", TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(1)) ?? defaults.Max;
        if (max < initial)
        {
            retry.Error("max", $"must be at least initial ({Durations.Format(initial)})");
        }

        var on = defaults.On;
        // YAML reads a bare 429 as a number: take scalars as their text.
        if (retry.ReadScalarArray("on") is { } names)
        {
            on = RetryOn.None;
            for (var i = 0; i < names.Count; i++)
            {
                if (ResponseNames.RetryFailures.TryGetValue(names[i], out var failure))
                {
                    on |= failure;
                }
                else
                {
                    retry.ItemError("on", i, $"'{names[i]}' is not one of {string.Join(", ", ResponseNames.RetryFailures.Keys)}");
                }
            }
        }

        retry.RejectUnknownFields();
        return retry.Errors.Count == before ? new RetryPolicy((int)(count ?? defaults.Count), initial, max, on) : null;
    }

    private static (StepCompensation? Value, PlaybookAction? Action, bool Failed) ReadCompensation(ManifestReader reader)
    {
        var compensate = reader.ReadObject("compensate");
        if (compensate is null)
        {
            return (null, null, reader.ReadRaw("compensate") is not null);
        }

        var action = ReadAction(compensate, "action");
        var with = ReadParameters(compensate, "with");
        compensate.RejectUnknownFields();
        return action is null || with is null ? (null, action, true) : (new StepCompensation(action.Name, with), action, false);
    }

    /// <summary>Reads an approval block (<c>approval</c>, <c>requires_approval</c>).</summary>
    internal static ApprovalRequirement? ReadApproval(ManifestReader reader)
    {
        var before = reader.Errors.Count;
        var roles = ReadRoles(reader, "roles", required: true);
        var ttl = reader.ReadDuration("ttl", TimeSpan.FromMinutes(1), TimeSpan.FromDays(7)) ?? ApprovalRequirement.Default.Ttl;
        var onExpiry = reader.ReadEnum("on_expiry", ResponseNames.Expiries, required: true);
        var escalateTo = ReadRoles(reader, "escalate_to", required: false);
        if (onExpiry == ApprovalExpiry.Escalate && escalateTo is { Count: 0 } && reader.ReadRaw("escalate_to") is null)
        {
            reader.Error("escalate_to", "is required with on_expiry: escalate: the roles asked next");
        }
        else if (onExpiry == ApprovalExpiry.Deny && escalateTo is { Count: > 0 })
        {
            reader.Error("escalate_to", "applies only with on_expiry: escalate");
        }

        reader.RejectUnknownFields();
        return reader.Errors.Count == before && roles is not null && escalateTo is not null && onExpiry is not null
            ? new ApprovalRequirement(roles, ttl, onExpiry.Value, escalateTo)
            : null;
    }

    private static List<Role>? ReadRoles(ManifestReader reader, string field, bool required)
    {
        var names = reader.ReadStringArray(field, required);
        if (names is null)
        {
            return required || reader.ReadRaw(field) is not null ? null : [];
        }

        if (required && names.Count == 0)
        {
            reader.Error(field, "must name at least one role");
            return null;
        }

        var roles = new List<Role>();
        for (var i = 0; i < names.Count; i++)
        {
            if (!Roles.TryParse(names[i], out var role))
            {
                reader.ItemError(field, i, $"'{names[i]}' is not a role");
            }
            else if (!Roles.Grants(role, Capability.Respond) && !Roles.Grants(role, Capability.Approve))
            {
                reader.ItemError(field, i, $"'{names[i]}' cannot answer approvals: use responder, approver or admin");
            }
            else if (!roles.Contains(role))
            {
                roles.Add(role);
            }
        }

        return roles.Count == names.Count ? roles : null;
    }

    private static List<string>? FindCycle(string start, Dictionary<string, IReadOnlyList<string>> dependsOn)
    {
        var path = new List<string>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        return Visit(start);

        List<string>? Visit(string id)
        {
            var at = path.IndexOf(id);
            if (at >= 0)
            {
                // Only a cycle through the start is this step's to report; others are reported at their own steps.
                return at == 0 ? [.. path, id] : null;
            }

            if (!done.Add(id) || !dependsOn.TryGetValue(id, out var next))
            {
                return null;
            }

            path.Add(id);
            foreach (var dependency in next)
            {
                if (Visit(dependency) is { } cycle)
                {
                    return cycle;
                }
            }

            path.RemoveAt(path.Count - 1);
            return null;
        }
    }

    private static HashSet<string> Ancestors(string id, Dictionary<string, IReadOnlyList<string>> dependsOn)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([id]);
        while (stack.TryPop(out var current))
        {
            foreach (var dependency in dependsOn.GetValueOrDefault(current) ?? [])
            {
                if (dependency != id && found.Add(dependency))
                {
                    stack.Push(dependency);
                }
            }
        }

        return found;
    }

    [GeneratedRegex(@"\A[a-z0-9][a-z0-9_-]{0,62}\z", RegexOptions.CultureInvariant)]
    private static partial Regex StepIdPattern();

    [GeneratedRegex(@"\A[a-z0-9][a-z0-9._-]{0,62}\z", RegexOptions.CultureInvariant)]
    internal static partial Regex NamePattern();
}
