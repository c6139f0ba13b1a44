using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Identity;

namespace Bulwark.Response;

/// <summary>
/// A playbook (manifest kind <c>Playbook</c>): what to do about the incidents of some rules and detectors. A run starts
/// when an incident matches the trigger; at or above <see cref="AutoThreshold"/> confidence it runs by itself, below it
/// the run waits for approval. Steps form a graph through <see cref="PlaybookStep.DependsOn"/>.
/// </summary>
public sealed record PlaybookDefinition
{
    /// <summary>The playbook's name (a manifest name).</summary>
    public required string Name { get; init; }

    /// <summary>What it is for, for people.</summary>
    public string? Description { get; init; }

    /// <summary>Which incidents start a run.</summary>
    public required PlaybookTrigger Trigger { get; init; }

    /// <summary>Incident confidence at or above which a run starts by itself; below it, the whole run waits for approval.</summary>
    /// <value>Defaults to 0.9.</value>
    public double AutoThreshold { get; init; } = 0.9;

    /// <summary>
    /// Confidence an incident needs before a step without <see cref="PlaybookStep.Compensate"/> (an irreversible step)
    /// runs without approval; never below <see cref="AutoThreshold"/>.
    /// </summary>
    /// <value>Defaults to 0.95.</value>
    public double IrreversibleThreshold { get; init; } = 0.95;

    /// <summary>
    /// Who answers the approvals the confidence gates ask for: the whole run below <see cref="AutoThreshold"/>, and an
    /// irreversible step below <see cref="IrreversibleThreshold"/> (a step's own
    /// <see cref="PlaybookStep.RequiresApproval"/> takes precedence for that step).
    /// </summary>
    /// <value>Defaults to <see cref="ApprovalRequirement.Default"/>.</value>
    public ApprovalRequirement Approval { get; init; } = ApprovalRequirement.Default;

    /// <summary>Whether every run of this playbook is a dry run: it records what it would call and calls nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary>The steps, in the order written; ids are unique.</summary>
    public required IReadOnlyList<PlaybookStep> Steps { get; init; }

    /// <summary>
    /// Steps that run only when the run fails (a step failed after its retries): to tell people, open a ticket. They
    /// take no <c>depends_on</c>, <c>compensate</c> or <c>requires_approval</c>; they may read the outputs of the steps
    /// that succeeded. Whatever they do, the run ends failed.
    /// </summary>
    public IReadOnlyList<PlaybookStep> OnFailure { get; init; } = [];

    /// <summary>Every step: <see cref="Steps"/>, then <see cref="OnFailure"/>.</summary>
    public IEnumerable<PlaybookStep> AllSteps => Steps.Concat(OnFailure);

    /// <summary>The manifest as given (without <c>kind</c>), for the API and the store.</summary>
    public required JsonObject Document { get; init; }
}

/// <summary>Which incidents start a run of a playbook.</summary>
/// <param name="Rules">Rule and detector names whose incidents it answers; empty for any.</param>
/// <param name="MinSeverity">The least severity.</param>
/// <param name="MinConfidence">The least confidence (0..1).</param>
public sealed record PlaybookTrigger(IReadOnlyList<string> Rules, Severity MinSeverity, double MinConfidence)
{
    /// <summary>Whether an incident starts a run: one of its rules is named (or none are), and its severity and confidence reach the minimums.</summary>
    /// <param name="incident">The incident.</param>
    /// <returns>Whether it matches.</returns>
    public bool Matches(IncidentRecord incident)
    {
        ArgumentNullException.ThrowIfNull(incident);
        return (Rules.Count == 0 || incident.Rules.Any(r => Rules.Contains(r, StringComparer.Ordinal)))
            && incident.Severity >= MinSeverity
            && incident.Confidence >= MinConfidence;
    }
}

/// <summary>One step of a playbook.</summary>
public sealed record PlaybookStep
{
    /// <summary>The step's id, unique in its playbook (<c>[a-z0-9][a-z0-9_-]*</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The action, such as <c>platform.revoke_tokens</c> or <c>notify.slack</c> (see <c>PlaybookActions</c>).</summary>
    public required string Action { get; init; }

    /// <summary>The <c>Connector</c> manifest the action calls through, for actions that call out.</summary>
    public string? Connector { get; init; }

    /// <summary>What the step acts on, one call each: <see cref="StepTargets.Accounts"/>, <see cref="StepTargets.Ips"/>, or one call for the incident.</summary>
    public StepTargets ForEach { get; init; } = StepTargets.Incident;

    /// <summary>The action's parameters, with <c>{{ … }}</c> templates (see <c>Templates</c>).</summary>
    public JsonObject With { get; init; } = [];

    /// <summary>Steps that must have succeeded first.</summary>
    public IReadOnlyList<string> DependsOn { get; init; } = [];

    /// <summary>A condition over the incident and earlier steps (see <c>Conditions</c>); the step is skipped when false.</summary>
    public string? RunIf { get; init; }

    /// <summary>How a failed call is retried.</summary>
    public RetryPolicy Retry { get; init; } = RetryPolicy.Default;

    /// <summary>How long one call may take before it counts as a timeout.</summary>
    /// <value>Defaults to 10 seconds.</value>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The reverse action, run by rollback; <see langword="null"/> when the step cannot be undone.</summary>
    public StepCompensation? Compensate { get; init; }

    /// <summary>A human approval this step needs before it runs, whatever the confidence.</summary>
    public ApprovalRequirement? RequiresApproval { get; init; }

    /// <summary>Whether the step can be undone.</summary>
    public bool Reversible => Compensate is not null;
}

/// <summary>What a step acts on.</summary>
public enum StepTargets
{
    /// <summary>One call for the incident.</summary>
    Incident = 0,

    /// <summary>One call per account of the incident.</summary>
    Accounts = 1,

    /// <summary>One call per IP of the incident.</summary>
    Ips = 2,
}

/// <summary>The reverse of a step: an action with its own parameters, run once per target the step acted on.</summary>
/// <param name="Action">The action.</param>
/// <param name="With">Its parameters (templates).</param>
public sealed record StepCompensation(string Action, JsonObject With);

/// <summary>A human approval a step (or a run below the auto threshold) waits for.</summary>
/// <param name="Roles">Roles that may answer (an admin always may).</param>
/// <param name="Ttl">How long the question stays open.</param>
/// <param name="OnExpiry">What happens when nobody answers in time: never silent, always recorded.</param>
/// <param name="EscalateTo">With <see cref="ApprovalExpiry.Escalate"/>: the roles asked next, with a new TTL of the same length.</param>
public sealed record ApprovalRequirement(IReadOnlyList<Role> Roles, TimeSpan Ttl, ApprovalExpiry OnExpiry, IReadOnlyList<Role> EscalateTo)
{
    /// <summary>Responders answer within 30 minutes; unanswered, the question is denied.</summary>
    public static ApprovalRequirement Default { get; } = new([Role.Responder], TimeSpan.FromMinutes(30), ApprovalExpiry.Deny, []);
}

/// <summary>What an unanswered approval does at its expiry.</summary>
public enum ApprovalExpiry
{
    /// <summary>Deny: the step (or run) does not run, and the run says why.</summary>
    Deny = 1,

    /// <summary>Ask the escalation roles, once; then deny.</summary>
    Escalate = 2,
}

/// <summary>
/// How a step's failed calls are retried: up to <see cref="Count"/> more attempts, with exponential backoff and full
/// jitter between <see cref="Initial"/> and <see cref="Max"/>, on the failures named in <see cref="On"/>. A
/// <c>Retry-After</c> answer is honoured (capped at <see cref="Max"/>).
/// </summary>
/// <param name="Count">Retries after the first attempt.</param>
/// <param name="Initial">The first backoff.</param>
/// <param name="Max">The longest backoff.</param>
/// <param name="On">Failures that are retried; any other failure fails the step at once.</param>
public sealed record RetryPolicy(int Count, TimeSpan Initial, TimeSpan Max, RetryOn On)
{
    /// <summary>3 retries from 0.5 s up to 30 s, on timeouts, 5xx and 429.</summary>
    public static RetryPolicy Default { get; } = new(3, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), RetryOn.Timeout | RetryOn.ServerError | RetryOn.TooManyRequests);

    /// <summary>Whether a failed attempt is retried: its failure is one of <see cref="On"/> and retries are left.</summary>
    /// <param name="failure">How the attempt failed (one flag; <see cref="RetryOn.None"/> for a failure no retry can fix).</param>
    /// <param name="attempt">The attempt that failed, from 1 (the first call).</param>
    /// <returns><see langword="true"/> when attempt <paramref name="attempt"/> + 1 should be made.</returns>
    public bool ShouldRetry(RetryOn failure, int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        return failure != RetryOn.None && (On & failure) == failure && attempt <= Count;
    }

    /// <summary>
    /// The wait before retry <paramref name="retry"/>: with a <c>Retry-After</c> from the service, that (capped at
    /// <see cref="Max"/>); otherwise full jitter, a uniform draw from zero to <c>min(Max, Initial × 2^(retry−1))</c>.
    /// </summary>
    /// <param name="retry">The retry, from 1 (the second attempt).</param>
    /// <param name="random">The source of jitter (injected so that tests and replays are deterministic).</param>
    /// <param name="retryAfter">The service's <c>Retry-After</c>, if it sent one.</param>
    /// <returns>The delay.</returns>
    public TimeSpan DelayBeforeRetry(int retry, Random random, TimeSpan? retryAfter = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retry, 1);
        ArgumentNullException.ThrowIfNull(random);
        if (retryAfter is { } after)
        {
            return after <= TimeSpan.Zero ? TimeSpan.Zero : after < Max ? after : Max;
        }

        return TimeSpan.FromTicks((long)(random.NextDouble() * BackoffCeiling(retry).Ticks));
    }

    /// <summary>The longest wait before retry <paramref name="retry"/> without a <c>Retry-After</c>: <c>min(Max, Initial × 2^(retry−1))</c>.</summary>
    /// <param name="retry">The retry, from 1.</param>
    /// <returns>The ceiling of the jittered delay.</returns>
    public TimeSpan BackoffCeiling(int retry)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retry, 1);
        var ticks = Initial.Ticks * Math.Pow(2, Math.Min(retry - 1, 62));
        return ticks >= Max.Ticks ? Max : TimeSpan.FromTicks((long)ticks);
    }
}

/// <summary>Failures a retry policy retries.</summary>
[Flags]
public enum RetryOn
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>No answer within the step's timeout, or the connection failed.</summary>
    Timeout = 1,

    /// <summary>An HTTP 5xx answer.</summary>
    ServerError = 2,

    /// <summary>An HTTP 429 answer.</summary>
    TooManyRequests = 4,
}
