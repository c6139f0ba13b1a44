using Bulwark.Flags;
using Bulwark.Throttling;

namespace Bulwark.MassActions;

/// <summary>What limited a permit; on the wire as its snake-case name (numbers pinned by a test).</summary>
public enum PermitLimit
{
    /// <summary>Everything asked for was granted.</summary>
    None = 0,

    /// <summary>The <c>max_per_minute</c> cap.</summary>
    Cap = 1,

    /// <summary>The named throttle.</summary>
    Throttle = 2,

    /// <summary>What is left of the audience.</summary>
    Audience = 3,

    /// <summary>The action's state: pending approval, paused, halted or completed.</summary>
    State = 4,
}

/// <summary>What a throttle gave a permit request.</summary>
/// <param name="Granted">Units granted, at most those asked for.</param>
/// <param name="RetryAfter">When none were, how long until one could be.</param>
public readonly record struct ThrottleGrant(long Granted, TimeSpan? RetryAfter);

/// <summary>The answer to a permit request, and the record as it must be stored after it.</summary>
public sealed record PermitDecision
{
    /// <summary>Units granted.</summary>
    public required long Granted { get; init; }

    /// <summary>
    /// How long to wait before asking again: zero when something was granted, the time until the cap or throttle frees
    /// a unit, <see cref="MassActionPermits.IdleRetry"/> while paused, pending approval or waiting for results, and
    /// <see langword="null"/> when the action is halted or completed (asking again will not help).
    /// </summary>
    public required TimeSpan? RetryAfter { get; init; }

    /// <summary>The action's state, <see cref="MassActionState.Paused"/> included.</summary>
    public required MassActionState State { get; init; }

    /// <summary>What limited the grant.</summary>
    public required PermitLimit LimitedBy { get; init; }

    /// <summary>Why, for people.</summary>
    public required string Reason { get; init; }

    /// <summary>The record after the decision: new counters, or a halt.</summary>
    public required MassActionRecord Record { get; init; }

    /// <summary>Whether the decision halted the action (a state change: it must be audited).</summary>
    public bool Halted { get; init; }
}

/// <summary>What a report did.</summary>
public enum ReportTransition
{
    /// <summary>Counted; the state is unchanged.</summary>
    None = 0,

    /// <summary>The breaker tripped: the action halted.</summary>
    BreakerHalted = 1,

    /// <summary>The whole audience is reported: the action completed.</summary>
    Completed = 2,
}

/// <summary>The record after a report, what it changed, or why it was refused.</summary>
/// <param name="Record">The record to store.</param>
/// <param name="Transition">The state change it caused (a state change must be audited).</param>
/// <param name="Refusal">Why the report cannot be counted; <see langword="null"/> when it was.</param>
public sealed record ReportOutcome(MassActionRecord Record, ReportTransition Transition, string? Refusal);

/// <summary>
/// The permit and report rules of a mass action, as pure functions over its record: the server runs them inside the
/// store's write transaction, reading the flag there, so a permit decided after a kill's commit sees the kill.
/// </summary>
public static class MassActionPermits
{
    /// <summary>How long a worker waits before asking again while nothing can be granted for a while.</summary>
    public static readonly TimeSpan IdleRetry = TimeSpan.FromSeconds(5);

    /// <summary>The period of <c>max_per_minute</c>.</summary>
    public static readonly TimeSpan CapPeriod = TimeSpan.FromMinutes(1);

    /// <summary>The most error codes kept per mass action; further codes are counted under <c>other</c>.</summary>
    public const int MaxErrorCodes = 100;

    /// <summary>The most units one permit request may ask for.</summary>
    public const long MaxRequested = 1_000_000;

    /// <summary>The code that counts errors beyond <see cref="MaxErrorCodes"/>.</summary>
    public const string OtherErrors = "other";

    /// <summary>
    /// The cap's burst: ten seconds' worth of <c>max_per_minute</c> (at least 1), so a cap of 600 grants at most 100 at
    /// once and 10 a second after that. Over any interval of length <c>d</c> the cap grants at most
    /// <c>burst + d × max_per_minute / 1 min</c>.
    /// </summary>
    /// <param name="maxPerMinute">The cap.</param>
    /// <returns>The burst.</returns>
    public static long CapBurst(long maxPerMinute) => Math.Max(1, maxPerMinute / 6);

    /// <summary>The state to show for <paramref name="action"/> while its flag has <paramref name="flag"/>.</summary>
    /// <param name="action">The stored action.</param>
    /// <param name="flag">The flag's status; <see langword="null"/> when the flag is missing or archived.</param>
    /// <returns>The state, <see cref="MassActionState.Paused"/> included; a pending or running action whose flag is <c>EMERGENCY_OFF</c> is <see cref="MassActionState.Halted"/>.</returns>
    public static MassActionState StateOf(MassActionRecord action, FlagStatus? flag)
    {
        ArgumentNullException.ThrowIfNull(action);
        return action.State switch
        {
            MassActionState.Halted or MassActionState.Completed => action.State,
            _ when flag?.State == FlagState.EmergencyOff => MassActionState.Halted,
            MassActionState.PendingApproval => MassActionState.PendingApproval,
            _ when flag is null || flag.Value.State == FlagState.Off => MassActionState.Paused,
            _ => MassActionState.Running,
        };
    }

    /// <summary>Halts an active action because its flag went <c>EMERGENCY_OFF</c>; a pending start is dropped.</summary>
    /// <param name="action">The action.</param>
    /// <param name="killReason">The reason given with the kill, when known.</param>
    /// <param name="now">The time.</param>
    /// <returns>The halted record.</returns>
    public static MassActionRecord KillSwitchHalt(MassActionRecord action, string? killReason, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(action);
        var reason = $"flag '{action.Definition.Flag}' went EMERGENCY_OFF" + (string.IsNullOrWhiteSpace(killReason) ? string.Empty : ": " + killReason);
        return Halt(action, new MassActionHalt(MassActionHaltCause.KillSwitch, reason, "system:kill-switch", now));
    }

    /// <summary>Halts an action for <paramref name="halt"/>'s cause; a pending start or resume is dropped.</summary>
    /// <param name="action">The action.</param>
    /// <param name="halt">Why, by whom, when.</param>
    /// <returns>The halted record.</returns>
    public static MassActionRecord Halt(MassActionRecord action, MassActionHalt halt)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(halt);
        return action with { State = MassActionState.Halted, Halt = halt, Approval = null, UpdatedAt = halt.At };
    }

    /// <summary>
    /// Decides a permit request for up to <paramref name="requested"/> units: nothing unless the action is running and
    /// its flag is on; then at most what is left of the audience, what the <c>max_per_minute</c> cap allows now and
    /// what the throttle grants, in that order (the cap is charged only for what the throttle granted).
    /// </summary>
    /// <param name="action">The stored action.</param>
    /// <param name="flag">The flag's status, read in the same transaction; <see langword="null"/> when missing or archived.</param>
    /// <param name="now">The transaction's time.</param>
    /// <param name="requested">Units asked for, from 1.</param>
    /// <param name="throttle">Takes up to the given units from the named throttle; <see langword="null"/> when none is named.</param>
    /// <param name="killReason">The kill's reason, read only when the decision halts the action.</param>
    /// <returns>The decision.</returns>
    public static PermitDecision Decide(MassActionRecord action, FlagStatus? flag, DateTimeOffset now, long requested, Func<long, ThrottleGrant>? throttle, Func<string?> killReason)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(killReason);
        ArgumentOutOfRangeException.ThrowIfLessThan(requested, 1);
        var definition = action.Definition;
        var progress = action.Progress;
        var state = StateOf(action, flag);
        if (state != MassActionState.Running)
        {
            var halting = action.IsActive && state == MassActionState.Halted;
            var record = halting ? KillSwitchHalt(action, killReason(), now) : action;
            return Refused(record, state, halting, state switch
            {
                MassActionState.Completed => $"completed: all {definition.AudienceSize} results reported",
                MassActionState.Halted => "halted: " + record.Halt!.Reason + (record.Approval is null ? string.Empty : $" (resume requested by {record.Approval.RequestedBy}, waiting for approval)"),
                MassActionState.PendingApproval => $"waiting for a second person's approval (requested by {action.Approval?.RequestedBy ?? action.CreatedBy})",
                _ => $"paused: flag '{definition.Flag}' is " + (flag is null ? "archived or missing" : "OFF"),
            });
        }

        var left = definition.AudienceSize - progress.Granted;
        if (left <= 0)
        {
            return new PermitDecision
            {
                Granted = 0,
                RetryAfter = IdleRetry,
                State = state,
                LimitedBy = PermitLimit.Audience,
                Reason = $"all {definition.AudienceSize} permits granted; waiting for results ({progress.Reported} reported)",
                Record = action,
            };
        }

        var ask = Math.Min(requested, left);
        var limit = ask < requested ? PermitLimit.Audience : PermitLimit.None;
        TimeSpan? retry = null;
        var (interval, burst) = definition.MaxPerMinute is { } cap ? (Gcra.EmissionInterval(cap, CapPeriod), CapBurst(cap)) : (0L, 0L);
        if (interval > 0)
        {
            var room = Gcra.Attempt(progress.CapTat, now.UtcTicks, interval, burst, 0).Remaining;
            if (room < ask)
            {
                (ask, limit) = (room, PermitLimit.Cap);
                if (room == 0)
                {
                    retry = TimeSpan.FromTicks(Math.Max(1, Gcra.Attempt(progress.CapTat, now.UtcTicks, interval, burst, 1).RetryAfter));
                }
            }
        }

        if (ask > 0 && throttle is not null)
        {
            var taken = throttle(ask);
            if (taken.Granted < ask)
            {
                (ask, limit) = (Math.Max(0, taken.Granted), PermitLimit.Throttle);
                retry = ask == 0 ? taken.RetryAfter ?? IdleRetry : null;
            }
        }

        var tat = progress.CapTat;
        if (ask > 0 && interval > 0)
        {
            tat = Gcra.Attempt(progress.CapTat, now.UtcTicks, interval, burst, ask).Tat;
        }

        return new PermitDecision
        {
            Granted = ask,
            RetryAfter = ask > 0 ? TimeSpan.Zero : retry,
            State = state,
            LimitedBy = limit,
            Reason = limit switch
            {
                PermitLimit.None => "granted",
                PermitLimit.Audience => $"limited by the audience: {left} of {definition.AudienceSize} left",
                PermitLimit.Cap => $"limited by max_per_minute ({definition.MaxPerMinute})",
                _ => $"limited by throttle '{definition.Throttle}'",
            },
            Record = ask == 0 ? action : action with { Progress = progress with { Granted = progress.Granted + ask, CapTat = tat } },
        };
    }

    /// <summary>
    /// Counts a report of results. Refused when it reports more results than permits granted and not yet reported. A
    /// running action halts when its breaker trips and completes when its whole audience is reported.
    /// </summary>
    /// <param name="action">The stored action.</param>
    /// <param name="succeeded">Results that succeeded.</param>
    /// <param name="failed">Results that failed.</param>
    /// <param name="errors">Failures by error code (their sum at most <paramref name="failed"/>).</param>
    /// <param name="now">The transaction's time.</param>
    /// <returns>The outcome.</returns>
    public static ReportOutcome Report(MassActionRecord action, long succeeded, long failed, IReadOnlyDictionary<string, long> errors, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentOutOfRangeException.ThrowIfNegative(succeeded);
        ArgumentOutOfRangeException.ThrowIfNegative(failed);
        var progress = action.Progress;
        var unreported = progress.Granted - progress.Reported;
        if (succeeded + failed > unreported)
        {
            return new ReportOutcome(action, ReportTransition.None, $"reports {succeeded + failed} results, but only {unreported} granted permits are unreported");
        }

        var merged = new Dictionary<string, long>(progress.Errors, StringComparer.Ordinal);
        foreach (var (code, count) in errors)
        {
            var key = merged.ContainsKey(code) || merged.Count < MaxErrorCodes ? code : OtherErrors;
            merged[key] = merged.GetValueOrDefault(key) + count;
        }

        var counted = progress with
        {
            Succeeded = progress.Succeeded + succeeded,
            Failed = progress.Failed + failed,
            WindowSucceeded = progress.WindowSucceeded + succeeded,
            WindowFailed = progress.WindowFailed + failed,
            Errors = merged,
        };
        var record = action with { Progress = counted };
        if (action.State != MassActionState.Running)
        {
            return new ReportOutcome(record, ReportTransition.None, null);
        }

        var breaker = action.Definition.Breaker;
        var window = counted.WindowSucceeded + counted.WindowFailed;
        if (breaker.Trips(window, counted.WindowFailed))
        {
            var reason = string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"breaker: {counted.WindowFailed} of {window} results failed ({(double)counted.WindowFailed / window:P1}), above max_failure_ratio {breaker.MaxFailureRatio}");
            return new ReportOutcome(Halt(record, new MassActionHalt(MassActionHaltCause.Breaker, reason, "system:breaker", now)), ReportTransition.BreakerHalted, null);
        }

        return counted.Reported >= action.Definition.AudienceSize
            ? new ReportOutcome(record with { State = MassActionState.Completed, CompletedAt = now, UpdatedAt = now }, ReportTransition.Completed, null)
            : new ReportOutcome(record, ReportTransition.None, null);
    }

    private static PermitDecision Refused(MassActionRecord record, MassActionState state, bool halted, string reason) => new()
    {
        Granted = 0,
        RetryAfter = state is MassActionState.Halted or MassActionState.Completed ? null : IdleRetry,
        State = state,
        LimitedBy = PermitLimit.State,
        Reason = reason,
        Record = record,
        Halted = halted,
    };
}
