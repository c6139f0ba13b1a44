using Bulwark.Identity;

namespace Bulwark.Flags;

/// <summary>What a requested state change does.</summary>
public enum TransitionOutcome
{
    /// <summary>Applied at once.</summary>
    Apply = 1,

    /// <summary>Recorded as a pending change that another person with the <c>approver</c> role must approve.</summary>
    RequiresApproval = 2,

    /// <summary>Applied at once by an admin over the two-person rule; audited as <c>break_glass</c>.</summary>
    BreakGlass = 3,

    /// <summary>The caller's roles do not allow it.</summary>
    Forbidden = 4,

    /// <summary>The request itself is wrong (a missing reason, a percentage out of range).</summary>
    Invalid = 5,
}

/// <summary>A decision on a requested state change, with a sentence saying why.</summary>
/// <param name="Outcome">The outcome.</param>
/// <param name="Explanation">Why, for the answer and the audit entry.</param>
public readonly record struct TransitionDecision(TransitionOutcome Outcome, string Explanation);

/// <summary>A requested state change.</summary>
/// <param name="From">The flag's current status.</param>
/// <param name="To">The requested status.</param>
/// <param name="Reason">The reason given, if any.</param>
/// <param name="BreakGlass">Whether an admin asks to skip the second person.</param>
public readonly record struct TransitionRequest(FlagStatus From, FlagStatus To, string? Reason, bool BreakGlass = false);

/// <summary>
/// The rules for moving a flag between states (see <c>docs/flags.md</c>):
/// any state → <c>EMERGENCY_OFF</c>: <c>responder</c> or <c>admin</c>, one call, reason required, applied at once;
/// → <c>GLOBAL</c>, and <c>EMERGENCY_OFF</c> → anything: a pending change that a different identity with <c>approver</c>
/// must approve (an <c>admin</c> may break glass with a reason to leave <c>EMERGENCY_OFF</c> at once);
/// other transitions: <c>operator</c> (or <c>admin</c>), applied at once.
/// </summary>
public static class FlagTransitions
{
    /// <summary>How long a pending change waits for its second person before it expires.</summary>
    public static readonly TimeSpan DefaultApprovalTtl = TimeSpan.FromHours(24);

    /// <summary>Decides what a request by an identity holding <paramref name="roles"/> does.</summary>
    /// <param name="request">The request.</param>
    /// <param name="roles">The caller's roles.</param>
    /// <returns>The decision.</returns>
    public static TransitionDecision Decide(TransitionRequest request, IReadOnlyCollection<Role> roles)
    {
        ArgumentNullException.ThrowIfNull(roles);
        var (from, to) = (request.From.State, request.To.State);
        var hasReason = !string.IsNullOrWhiteSpace(request.Reason);
        if (to is FlagState.Canary or FlagState.Gradual && request.To.Millipercent is < 0 or > Bucketing.Buckets)
        {
            return new(TransitionOutcome.Invalid, "the percentage must be from 0 to 100");
        }

        if (to == FlagState.EmergencyOff)
        {
            if (!Roles.AnyGrants(roles, Capability.Respond))
            {
                return new(TransitionOutcome.Forbidden, "EMERGENCY_OFF needs the responder or admin role");
            }

            return hasReason
                ? new(TransitionOutcome.Apply, "emergency off applies at once")
                : new(TransitionOutcome.Invalid, "a reason is required to turn a flag EMERGENCY_OFF");
        }

        var leavingEmergency = from == FlagState.EmergencyOff;
        if (leavingEmergency || to == FlagState.Global)
        {
            if (request.BreakGlass)
            {
                if (!leavingEmergency)
                {
                    return new(TransitionOutcome.Invalid, "break glass only leaves EMERGENCY_OFF; going GLOBAL always needs a second person");
                }

                if (!roles.Contains(Role.Admin))
                {
                    return new(TransitionOutcome.Forbidden, "only an admin may break glass");
                }

                return hasReason
                    ? new(TransitionOutcome.BreakGlass, "break glass: leaving EMERGENCY_OFF without a second person")
                    : new(TransitionOutcome.Invalid, "breaking glass requires a reason");
            }

            if (!Roles.AnyGrants(roles, Capability.Configure) && !Roles.AnyGrants(roles, Capability.Respond))
            {
                return new(TransitionOutcome.Forbidden, "requesting this change needs the operator, responder or admin role");
            }

            return new(TransitionOutcome.RequiresApproval, leavingEmergency
                ? "leaving EMERGENCY_OFF needs a second person's approval"
                : "going GLOBAL needs a second person's approval");
        }

        return Roles.AnyGrants(roles, Capability.Configure)
            ? new(TransitionOutcome.Apply, "applied")
            : new(TransitionOutcome.Forbidden, "changing a flag's state needs the operator or admin role");
    }

    /// <summary>Whether <paramref name="approver"/> may approve a change requested by <paramref name="requester"/>.</summary>
    /// <param name="requester">The identity that requested the change.</param>
    /// <param name="approver">The identity approving.</param>
    /// <param name="approverRoles">The approving identity's roles.</param>
    /// <returns>The decision: <see cref="TransitionOutcome.Apply"/> or <see cref="TransitionOutcome.Forbidden"/>.</returns>
    public static TransitionDecision DecideApproval(string requester, string approver, IReadOnlyCollection<Role> approverRoles)
    {
        ArgumentNullException.ThrowIfNull(approverRoles);
        if (!Roles.AnyGrants(approverRoles, Capability.Approve))
        {
            return new(TransitionOutcome.Forbidden, "approving needs the approver or admin role");
        }

        // Identities, not tokens, are people: a second token of the requester is the same person.
        return string.Equals(requester, approver, StringComparison.Ordinal)
            ? new(TransitionOutcome.Forbidden, "the requester cannot approve their own change; a second person must")
            : new(TransitionOutcome.Apply, "approved by a second person");
    }
}

/// <summary>The lifecycle of a pending change; persisted as lower-case names (numbers pinned by a test).</summary>
public enum ChangeStatus
{
    /// <summary>Waiting for a second person.</summary>
    Pending = 1,

    /// <summary>Approved and applied.</summary>
    Approved = 2,

    /// <summary>Rejected by an approver (or withdrawn by the requester).</summary>
    Rejected = 3,

    /// <summary>Nobody decided before it expired.</summary>
    Expired = 4,

    /// <summary>The flag changed in the meantime, so the change no longer applies.</summary>
    Superseded = 5,
}

/// <summary>A state change waiting for, or decided by, a second person.</summary>
public sealed record PendingChange
{
    /// <summary>The change id.</summary>
    public required string Id { get; init; }

    /// <summary>The flag key.</summary>
    public required string FlagKey { get; init; }

    /// <summary>The status when requested; approval fails if the flag has moved since.</summary>
    public required FlagStatus From { get; init; }

    /// <summary>The requested status.</summary>
    public required FlagStatus To { get; init; }

    /// <summary>Who requested it.</summary>
    public required string RequestedBy { get; init; }

    /// <summary>Why.</summary>
    public string? Reason { get; init; }

    /// <summary>When it was requested.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it expires unless decided.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Its status as stored (see <see cref="StatusAt"/> for expiry).</summary>
    public required ChangeStatus Status { get; init; }

    /// <summary>Who decided, once decided.</summary>
    public string? DecidedBy { get; init; }

    /// <summary>When it was decided, expired or superseded.</summary>
    public DateTimeOffset? DecidedAt { get; init; }

    /// <summary>The status at <paramref name="now"/>: a pending change past its expiry is <see cref="ChangeStatus.Expired"/>.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>The effective status.</returns>
    public ChangeStatus StatusAt(DateTimeOffset now) =>
        Status == ChangeStatus.Pending && now >= ExpiresAt ? ChangeStatus.Expired : Status;
}
