using System.Text.Json.Nodes;
using Bulwark.Audit;

namespace Bulwark.MassActions;

/// <summary>
/// Where a mass action is in its life; on the wire as its snake-case name (numbers pinned by a test). The store holds
/// <see cref="PendingApproval"/>, <see cref="Running"/>, <see cref="Halted"/> and <see cref="Completed"/>;
/// <see cref="Paused"/> is never stored: it is a running action whose flag is <c>OFF</c> or archived.
/// </summary>
public enum MassActionState
{
    /// <summary>Declared with an audience above the approval threshold: waits for a second person's approval.</summary>
    PendingApproval = 1,

    /// <summary>Permits are granted (within the cap, the throttle and the audience).</summary>
    Running = 2,

    /// <summary>Stopped by a person, its flag's kill switch or its breaker; resuming needs a second person.</summary>
    Halted = 3,

    /// <summary>Every unit of the audience has been reported (succeeded or failed).</summary>
    Completed = 4,

    /// <summary>Running, but its flag is <c>OFF</c> or archived: nothing is granted until the flag is on again.</summary>
    Paused = 5,
}

/// <summary>Why a mass action halted; on the wire as its snake-case name (numbers pinned by a test).</summary>
public enum MassActionHaltCause
{
    /// <summary>A person halted it.</summary>
    Manual = 1,

    /// <summary>Its flag went <c>EMERGENCY_OFF</c>.</summary>
    KillSwitch = 2,

    /// <summary>Its failure-rate breaker tripped.</summary>
    Breaker = 3,
}

/// <summary>What a pending approval would do; on the wire as its lower-case name (numbers pinned by a test).</summary>
public enum MassActionApprovalKind
{
    /// <summary>Start an action whose audience is above the approval threshold.</summary>
    Start = 1,

    /// <summary>Resume a halted action.</summary>
    Resume = 2,
}

/// <summary>A request waiting for a second person: start or resume.</summary>
/// <param name="Kind">What approving it does.</param>
/// <param name="RequestedBy">Who asked (that identity can never approve it).</param>
/// <param name="Reason">Why, if given.</param>
/// <param name="At">When it was asked for.</param>
public sealed record MassActionApproval(MassActionApprovalKind Kind, string RequestedBy, string? Reason, DateTimeOffset At);

/// <summary>Why, by whom and when a mass action halted.</summary>
/// <param name="Cause">The cause.</param>
/// <param name="Reason">The reason, for people (a kill includes the kill's own reason).</param>
/// <param name="By">The identity, or <c>system:&lt;component&gt;</c>.</param>
/// <param name="At">When.</param>
public sealed record MassActionHalt(MassActionHaltCause Cause, string Reason, string By, DateTimeOffset At);

/// <summary>
/// The counters of a mass action, written with every permit and report. They are not audited one by one (the audit
/// entries of creation, approval, halts, resumes and completion carry them); they are committed before the answer that
/// reports them, so nothing acknowledged is lost.
/// </summary>
public sealed record MassActionProgress
{
    /// <summary>Nothing granted or reported yet.</summary>
    public static MassActionProgress Empty { get; } = new();

    /// <summary>Permits granted in total (never above the audience).</summary>
    public long Granted { get; init; }

    /// <summary>Results reported as succeeded.</summary>
    public long Succeeded { get; init; }

    /// <summary>Results reported as failed.</summary>
    public long Failed { get; init; }

    /// <summary>Failures by error code, as reported (at most <see cref="MassActionPermits.MaxErrorCodes"/> codes; the rest under <c>other</c>).</summary>
    public IReadOnlyDictionary<string, long> Errors { get; init; } = new Dictionary<string, long>(StringComparer.Ordinal);

    /// <summary>Results reported as succeeded since the action started or was last resumed (what the breaker judges).</summary>
    public long WindowSucceeded { get; init; }

    /// <summary>Results reported as failed since the action started or was last resumed.</summary>
    public long WindowFailed { get; init; }

    /// <summary>The <c>max_per_minute</c> cap's theoretical arrival time, in UTC ticks (GCRA).</summary>
    public long CapTat { get; init; }

    /// <summary>Results reported in total.</summary>
    public long Reported => Succeeded + Failed;

    /// <summary>The stored shape of <see cref="Errors"/>: a JSON object, keys sorted.</summary>
    /// <returns>The object.</returns>
    public JsonObject ErrorsDocument()
    {
        var errors = new JsonObject();
        foreach (var (code, count) in Errors.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            errors[code] = count;
        }

        return errors;
    }

    /// <summary>Reads <see cref="ErrorsDocument"/> output.</summary>
    /// <param name="document">The object.</param>
    /// <returns>Code → count.</returns>
    public static Dictionary<string, long> ReadErrors(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        return document.ToDictionary(e => e.Key, e => e.Value!.GetValue<long>(), StringComparer.Ordinal);
    }
}

/// <summary>A stored mass action: its declaration, its state and its progress.</summary>
public sealed record MassActionRecord
{
    /// <summary>The id, <c>ma_</c> and 16 hex digits.</summary>
    public required string Id { get; init; }

    /// <summary>The declaration.</summary>
    public required MassActionDefinition Definition { get; init; }

    /// <summary>The stored state (never <see cref="MassActionState.Paused"/>).</summary>
    public required MassActionState State { get; init; }

    /// <summary>Who declared it.</summary>
    public required string CreatedBy { get; init; }

    /// <summary>When it was declared.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When its state last changed (counters do not count).</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The request waiting for a second person, if any.</summary>
    public MassActionApproval? Approval { get; init; }

    /// <summary>Who approved the last start or resume.</summary>
    public string? ApprovedBy { get; init; }

    /// <summary>When the last start or resume was approved.</summary>
    public DateTimeOffset? ApprovedAt { get; init; }

    /// <summary>The last halt (kept after a resume, for the record).</summary>
    public MassActionHalt? Halt { get; init; }

    /// <summary>When the whole audience had been reported.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>The counters.</summary>
    public MassActionProgress Progress { get; init; } = MassActionProgress.Empty;

    /// <summary>The name.</summary>
    public string Name => Definition.Name;

    /// <summary>Whether permits may still be granted some day without a resume: pending approval or running.</summary>
    public bool IsActive => State is MassActionState.PendingApproval or MassActionState.Running;

    /// <summary>The stored shape of <see cref="Approval"/>.</summary>
    /// <returns>The document, or <see langword="null"/>.</returns>
    public JsonObject? ApprovalDocument() => Approval is not { } approval ? null : new JsonObject
    {
        ["kind"] = MassActionNames.Name(MassActionNames.ApprovalKinds, approval.Kind),
        ["requested_by"] = approval.RequestedBy,
        ["reason"] = approval.Reason,
        ["requested_at"] = AuditChain.FormatTime(approval.At),
    };

    /// <summary>The stored shape of <see cref="Halt"/>.</summary>
    /// <returns>The document, or <see langword="null"/>.</returns>
    public JsonObject? HaltDocument() => Halt is not { } halt ? null : new JsonObject
    {
        ["cause"] = MassActionNames.Name(MassActionNames.HaltCauses, halt.Cause),
        ["reason"] = halt.Reason,
        ["by"] = halt.By,
        ["at"] = AuditChain.FormatTime(halt.At),
    };

    /// <summary>Reads <see cref="ApprovalDocument"/> output.</summary>
    /// <param name="document">The document.</param>
    /// <returns>The approval.</returns>
    public static MassActionApproval ReadApproval(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        return new MassActionApproval(
            MassActionNames.ApprovalKinds[document["kind"]!.GetValue<string>()],
            document["requested_by"]!.GetValue<string>(),
            document["reason"]?.GetValue<string>(),
            AuditChain.ParseTime(document["requested_at"]!.GetValue<string>()));
    }

    /// <summary>Reads <see cref="HaltDocument"/> output.</summary>
    /// <param name="document">The document.</param>
    /// <returns>The halt.</returns>
    public static MassActionHalt ReadHalt(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        return new MassActionHalt(
            MassActionNames.HaltCauses[document["cause"]!.GetValue<string>()],
            document["reason"]!.GetValue<string>(),
            document["by"]!.GetValue<string>(),
            AuditChain.ParseTime(document["at"]!.GetValue<string>()));
    }
}

/// <summary>Wire names of the mass action enums, shared by the API, the CLI and the SDK.</summary>
public static class MassActionNames
{
    /// <summary>States by wire name.</summary>
    public static IReadOnlyDictionary<string, MassActionState> States { get; } = new Dictionary<string, MassActionState>(StringComparer.Ordinal)
    {
        ["pending_approval"] = MassActionState.PendingApproval,
        ["running"] = MassActionState.Running,
        ["halted"] = MassActionState.Halted,
        ["completed"] = MassActionState.Completed,
        ["paused"] = MassActionState.Paused,
    };

    /// <summary>Halt causes by wire name.</summary>
    public static IReadOnlyDictionary<string, MassActionHaltCause> HaltCauses { get; } = new Dictionary<string, MassActionHaltCause>(StringComparer.Ordinal)
    {
        ["manual"] = MassActionHaltCause.Manual,
        ["kill_switch"] = MassActionHaltCause.KillSwitch,
        ["breaker"] = MassActionHaltCause.Breaker,
    };

    /// <summary>Approval kinds by wire name.</summary>
    public static IReadOnlyDictionary<string, MassActionApprovalKind> ApprovalKinds { get; } = new Dictionary<string, MassActionApprovalKind>(StringComparer.Ordinal)
    {
        ["start"] = MassActionApprovalKind.Start,
        ["resume"] = MassActionApprovalKind.Resume,
    };

    /// <summary>Permit limits by wire name.</summary>
    public static IReadOnlyDictionary<string, PermitLimit> Limits { get; } = new Dictionary<string, PermitLimit>(StringComparer.Ordinal)
    {
        ["none"] = PermitLimit.None,
        ["max_per_minute"] = PermitLimit.Cap,
        ["throttle"] = PermitLimit.Throttle,
        ["audience"] = PermitLimit.Audience,
        ["state"] = PermitLimit.State,
    };

    /// <summary>The wire name of a value (the lookup is the one flags use).</summary>
    /// <typeparam name="T">The enum.</typeparam>
    /// <param name="names">One of the tables above.</param>
    /// <param name="value">The value.</param>
    /// <returns>Its wire name.</returns>
    public static string Name<T>(IReadOnlyDictionary<string, T> names, T value)
        where T : struct, Enum => Flags.FlagNames.Name(names, value);
}
