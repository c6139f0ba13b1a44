namespace Bulwark.Response;

/// <summary>
/// A built-in action a playbook step (or a compensation) can name: whether it calls out through a connector and of
/// which type, what it may act on, and its natural reverse.
/// </summary>
/// <param name="Name">The action's name, such as <c>platform.revoke_tokens</c>.</param>
/// <param name="Connector">The connector type it calls through, or <see langword="null"/> for an action the server carries out itself.</param>
/// <param name="Targets">What a step running it may act on (<c>for_each</c>).</param>
/// <param name="Reverse">The action that undoes it, or <see langword="null"/> when there is no natural one.</param>
/// <param name="Summary">What it does, for people.</param>
public sealed record PlaybookAction(string Name, ConnectorType? Connector, IReadOnlyList<StepTargets> Targets, string? Reverse, string Summary)
{
    /// <summary>Whether it calls out through a connector.</summary>
    public bool CallsOut => Connector is not null;
}

/// <summary>The built-in actions of playbook steps, by name.</summary>
public static class PlaybookActions
{
    private static readonly StepTargets[] IncidentOnly = [StepTargets.Incident];
    private static readonly StepTargets[] AccountsOnly = [StepTargets.Accounts];
    private static readonly StepTargets[] AccountsOrIps = [StepTargets.Accounts, StepTargets.Ips];
    private static readonly StepTargets[] Any = [StepTargets.Incident, StepTargets.Accounts, StepTargets.Ips];

    /// <summary>Every built-in action, in documentation order.</summary>
    public static IReadOnlyList<PlaybookAction> All { get; } =
    [
        new("flag.kill", null, IncidentOnly, "flag.set_state", "Sets a flag to EMERGENCY_OFF (with: flag, reason)"),
        new("flag.set_state", null, IncidentOnly, "flag.set_state", "Sets a flag's state (with: flag, state); as a compensation, restores the state the step found"),
        new("throttle.tighten", null, IncidentOnly, "throttle.relax", "Leaves a share of a throttle's rates until an expiry (with: throttle, factor: the share left, default 0.5; for, default 1h)"),
        new("throttle.relax", null, IncidentOnly, null, "Restores a throttle's adaptive factor (with: throttle)"),
        new("throttle.block", null, AccountsOrIps, "throttle.unblock", "Blocks a key of a throttle for a while, whatever its limits (with: throttle, key: default the target, for: default 24h, at most 30d, reason)"),
        new("throttle.unblock", null, AccountsOrIps, null, "Lifts a key's blocks (with: throttle, key: default the target); as a compensation of throttle.block, restores the block the key had"),
        new("mass_action.halt", null, IncidentOnly, null, "Halts running mass actions (with: mass_action, or every running one); resuming needs a person"),
        new("platform.revoke_tokens", ConnectorType.Platform, AccountsOnly, null, "Revokes an account's tokens on the platform"),
        new("platform.expire_sessions", ConnectorType.Platform, AccountsOnly, null, "Expires an account's sessions on the platform"),
        new("platform.force_password_reset", ConnectorType.Platform, AccountsOnly, null, "Forces a password reset of an account on the platform"),
        new("platform.suspend", ConnectorType.Platform, AccountsOnly, "platform.unsuspend", "Suspends an account on the platform (with: until)"),
        new("platform.unsuspend", ConnectorType.Platform, AccountsOnly, "platform.suspend", "Lifts an account's suspension on the platform"),
        new("notify.slack", ConnectorType.Slack, IncidentOnly, null, "Posts a message to a Slack incoming webhook (with: text)"),
        new("notify.pagerduty", ConnectorType.PagerDuty, IncidentOnly, "notify.pagerduty_resolve", "Triggers a PagerDuty alert whose dedup_key is the incident's (with: summary, severity)"),
        new("notify.pagerduty_resolve", ConnectorType.PagerDuty, IncidentOnly, null, "Resolves the incident's PagerDuty alert"),
        new("ticket.jira", ConnectorType.Jira, IncidentOnly, null, "Opens one Jira issue per incident, never a second (with: summary, description, labels, priority)"),
        new("webhook.signed", ConnectorType.Webhook, Any, null, "POSTs a Standard Webhooks-signed JSON body to a partner (with: type, data)"),
        new("http.request", ConnectorType.Http, Any, null, "Makes a templated HTTP call (with: method, path, body)"),
        new("evidence.snapshot", null, IncidentOnly, null, "Freezes the incident's raw snapshots, events, detections and audit range with their hashes into one write-once record (with: note)"),
    ];

    private static readonly Dictionary<string, PlaybookAction> ByName = All.ToDictionary(a => a.Name, StringComparer.Ordinal);

    /// <summary>Finds an action by name.</summary>
    /// <param name="name">For example <c>notify.slack</c>.</param>
    /// <returns>The action, or <see langword="null"/> when there is none by that name.</returns>
    public static PlaybookAction? Find(string? name) => name is not null && ByName.TryGetValue(name, out var action) ? action : null;

    /// <summary>The natural reverse of an action.</summary>
    /// <param name="name">The action's name.</param>
    /// <returns>The reverse action's name, or <see langword="null"/> when the action is unknown or has none.</returns>
    public static string? ReverseOf(string name) => Find(name)?.Reverse;

    /// <summary>The names of every action, for error messages.</summary>
    public static string Names => string.Join(", ", All.Select(a => a.Name));
}
