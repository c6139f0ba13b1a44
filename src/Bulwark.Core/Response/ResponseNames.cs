namespace Bulwark.Response;

/// <summary>Wire names of the response enums, shared by manifests, the API, the CLI and the store.</summary>
public static class ResponseNames
{
    /// <summary>Step targets by wire name (<c>for_each</c>; absent means <see cref="StepTargets.Incident"/>).</summary>
    public static IReadOnlyDictionary<string, StepTargets> Targets { get; } = new Dictionary<string, StepTargets>(StringComparer.Ordinal)
    {
        ["incident"] = StepTargets.Incident,
        ["accounts"] = StepTargets.Accounts,
        ["ips"] = StepTargets.Ips,
    };

    /// <summary>Approval expiry behaviours by wire name.</summary>
    public static IReadOnlyDictionary<string, ApprovalExpiry> Expiries { get; } = new Dictionary<string, ApprovalExpiry>(StringComparer.Ordinal)
    {
        ["deny"] = ApprovalExpiry.Deny,
        ["escalate"] = ApprovalExpiry.Escalate,
    };

    /// <summary>Retried failures by wire name.</summary>
    public static IReadOnlyDictionary<string, RetryOn> RetryFailures { get; } = new Dictionary<string, RetryOn>(StringComparer.Ordinal)
    {
        ["timeout"] = RetryOn.Timeout,
        ["5xx"] = RetryOn.ServerError,
        ["429"] = RetryOn.TooManyRequests,
    };

    /// <summary>Connector types by wire name.</summary>
    public static IReadOnlyDictionary<string, ConnectorType> ConnectorTypes { get; } = new Dictionary<string, ConnectorType>(StringComparer.Ordinal)
    {
        ["platform"] = ConnectorType.Platform,
        ["slack"] = ConnectorType.Slack,
        ["pagerduty"] = ConnectorType.PagerDuty,
        ["jira"] = ConnectorType.Jira,
        ["webhook"] = ConnectorType.Webhook,
        ["http"] = ConnectorType.Http,
    };

    /// <summary>Run statuses by wire name.</summary>
    public static IReadOnlyDictionary<string, RunStatus> RunStatuses { get; } = new Dictionary<string, RunStatus>(StringComparer.Ordinal)
    {
        ["waiting_approval"] = RunStatus.WaitingApproval,
        ["running"] = RunStatus.Running,
        ["succeeded"] = RunStatus.Succeeded,
        ["failed"] = RunStatus.Failed,
        ["denied"] = RunStatus.Denied,
        ["rolled_back"] = RunStatus.RolledBack,
        ["rolling_back"] = RunStatus.RollingBack,
        ["rollback_failed"] = RunStatus.RollbackFailed,
    };

    /// <summary>Approval statuses by wire name.</summary>
    public static IReadOnlyDictionary<string, ApprovalStatus> ApprovalStatuses { get; } = new Dictionary<string, ApprovalStatus>(StringComparer.Ordinal)
    {
        ["pending"] = ApprovalStatus.Pending,
        ["escalated"] = ApprovalStatus.Escalated,
        ["approved"] = ApprovalStatus.Approved,
        ["denied"] = ApprovalStatus.Denied,
        ["expired"] = ApprovalStatus.Expired,
        ["cancelled"] = ApprovalStatus.Cancelled,
    };

    /// <summary>Step statuses by wire name.</summary>
    public static IReadOnlyDictionary<string, StepStatus> StepStatuses { get; } = new Dictionary<string, StepStatus>(StringComparer.Ordinal)
    {
        ["pending"] = StepStatus.Pending,
        ["waiting_approval"] = StepStatus.WaitingApproval,
        ["running"] = StepStatus.Running,
        ["succeeded"] = StepStatus.Succeeded,
        ["failed"] = StepStatus.Failed,
        ["skipped"] = StepStatus.Skipped,
        ["denied"] = StepStatus.Denied,
        ["compensated"] = StepStatus.Compensated,
    };

    /// <summary>The wire name of a value.</summary>
    /// <typeparam name="T">The enum.</typeparam>
    /// <param name="names">One of the tables above.</param>
    /// <param name="value">The value.</param>
    /// <returns>Its wire name.</returns>
    public static string Name<T>(IReadOnlyDictionary<string, T> names, T value)
        where T : struct, Enum => Flags.FlagNames.Name(names, value);

    /// <summary>The wire names of the failures in a set, in table order.</summary>
    /// <param name="on">The set.</param>
    /// <returns>For example <c>[timeout, 5xx]</c>.</returns>
    public static IReadOnlyList<string> Names(RetryOn on) => [.. RetryFailures.Where(p => (on & p.Value) != 0).Select(p => p.Key)];
}
