using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.Json;
using Bulwark.Manifests;
using Bulwark.MassActions;
using Bulwark.Problems;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Server.Identity;
using Bulwark.Server.Metrics;
using Bulwark.Server.Throttles;
using Bulwark.Storage;
using Bulwark.Throttling;
using Microsoft.Extensions.Options;

namespace Bulwark.Server.MassActions;

/// <summary>A declaration refused because of what it names (a missing flag, a flag in <c>EMERGENCY_OFF</c>, a throttle that cannot apply).</summary>
internal sealed class MassActionRefusedException : Exception
{
    public MassActionRefusedException(IReadOnlyList<ManifestError> errors)
        : base(string.Join("; ", errors)) => Errors = errors;

    public MassActionRefusedException()
        : this([])
    {
    }

    public MassActionRefusedException(string message)
        : base(message) => Errors = [];

    public MassActionRefusedException(string message, Exception innerException)
        : base(message, innerException) => Errors = [];

    public IReadOnlyList<ManifestError> Errors { get; }
}

/// <summary>
/// Mass actions: declarations, the two-person rule for large audiences and for resumes, halts, and the permits and
/// reports of their workers. Every state change is audited (actions <c>mass_action.create</c>, <c>.approve</c>,
/// <c>.halt</c>, <c>.resume.request</c>, <c>.resume</c>, <c>.complete</c>) with the action's document, counters
/// included; permits and reports that change only counters are committed without an entry. Permits are decided inside
/// the store's write transaction, reading the flag there, so none is granted after a kill has committed.
/// </summary>
internal sealed class MassActionService(IControlStore store, IRandomSource random, ThrottleRegistry throttles, TimeProvider time, IOptions<BulwarkServerOptions> options, ServerInstruments instruments)
{
    /// <summary>The throttle keys of a mass action's permits: its id, and what it does.</summary>
    public const string MassActionKey = "mass_action";

    /// <summary>The throttle key that carries the declaration's <c>action</c>.</summary>
    public const string ActionKey = "action";

    private static readonly HashSet<string> ApplicableLayerKeys = new(StringComparer.Ordinal) { "global", MassActionKey, ActionKey };

    private readonly Counter<long> _granted = instruments.Meter.CreateCounter<long>(
        "bulwark.mass_action.permits", "{unit}", "Units granted to mass action workers, by action and by what limited the grant");

    public DateTimeOffset Now => time.GetUtcNow();

    /// <summary>Declares a mass action. <paramref name="createOnly"/> (POST) refuses an existing name; otherwise (PUT, manifests) an identical declaration is unchanged.</summary>
    public Task<(MassActionRecord Action, PutOutcome Outcome)> DeclareAsync(MassActionDefinition definition, ChangeContext context, bool createOnly, CancellationToken cancellationToken)
    {
        var id = MassActionKind.IdPrefix + Convert.ToHexStringLower(RandomBytes(8));
        var threshold = options.Value.MassActionApprovalThreshold;
        return store.WriteAsync(
            tx =>
            {
                if (tx.GetMassAction(definition.Name) is { } existing)
                {
                    if (!createOnly && CanonicalJson.AreEqual(MassActionKind.Instance.ToDocument(existing.Definition), MassActionKind.Instance.ToDocument(definition)))
                    {
                        return (existing, PutOutcome.Unchanged);
                    }

                    throw new ProblemException(ProblemKind.Conflict, createOnly
                        ? $"Mass action '{definition.Name}' exists ({existing.Id}); give a new declaration a new name."
                        : $"Mass action '{definition.Name}' exists ({existing.Id}) with another declaration; a declaration cannot change: give it a new name.");
                }

                var errors = CheckReferences(tx, definition);
                if (errors.Count > 0)
                {
                    throw new MassActionRefusedException(errors);
                }

                var approval = MassActionRules.NeedsApproval(definition.AudienceSize, threshold);
                var action = new MassActionRecord
                {
                    Id = id,
                    Definition = definition,
                    State = approval ? MassActionState.PendingApproval : MassActionState.Running,
                    CreatedBy = context.Actor,
                    CreatedAt = tx.Now,
                    UpdatedAt = tx.Now,
                    Approval = approval ? new MassActionApproval(MassActionApprovalKind.Start, context.Actor, context.Reason, tx.Now) : null,
                };
                Save(tx, action, null, "mass_action.create", context);
                return (action, PutOutcome.Created);
            },
            cancellationToken);
    }

    /// <summary>Approves the pending start or resume as a second person.</summary>
    public Task<MassActionRecord> ApproveAsync(string idOrName, IdentityRecord caller, ChangeContext context, CancellationToken cancellationToken) =>
        store.WriteAsync(
            tx =>
            {
                var action = Require(tx, idOrName);
                if (action.Approval is not { } approval)
                {
                    throw new ProblemException(ProblemKind.Conflict, $"Mass action '{action.Name}' has nothing waiting for approval; it is {StateName(action.State)}.");
                }

                var decision = MassActionRules.DecideApproval(approval.RequestedBy, caller.Name, caller.Roles);
                if (decision.Outcome != TransitionOutcome.Apply)
                {
                    throw new ProblemException(ProblemKind.Forbidden, decision.Explanation);
                }

                RefuseWhileKilled(tx, action);
                var resume = approval.Kind == MassActionApprovalKind.Resume;
                var approved = action with
                {
                    State = MassActionState.Running,
                    Approval = null,
                    ApprovedBy = caller.Name,
                    ApprovedAt = tx.Now,
                    UpdatedAt = tx.Now,

                    // The breaker judges what happens after a resume, not the failures that halted the action.
                    Progress = resume ? action.Progress with { WindowSucceeded = 0, WindowFailed = 0 } : action.Progress,
                };
                return Save(tx, approved, action, resume ? "mass_action.resume" : "mass_action.approve", context with { Reason = approval.Reason ?? context.Reason });
            },
            cancellationToken);

    /// <summary>Halts a pending or running action at once.</summary>
    public Task<MassActionRecord> HaltAsync(string idOrName, IdentityRecord caller, ChangeContext context, CancellationToken cancellationToken) =>
        store.WriteAsync(
            tx =>
            {
                var action = RequireResponder(tx, idOrName, caller, "halting a mass action");
                if (!action.IsActive)
                {
                    throw new ProblemException(ProblemKind.Conflict, $"Mass action '{action.Name}' is {StateName(action.State)}; only a pending or running action can halt.");
                }

                var halted = MassActionPermits.Halt(action, new MassActionHalt(MassActionHaltCause.Manual, context.Reason!, caller.Name, tx.Now));
                return Save(tx, halted, action, "mass_action.halt", context);
            },
            cancellationToken);

    /// <summary>Asks to resume a halted action: recorded as pending until a second person approves it.</summary>
    public Task<MassActionRecord> RequestResumeAsync(string idOrName, IdentityRecord caller, ChangeContext context, CancellationToken cancellationToken) =>
        store.WriteAsync(
            tx =>
            {
                var action = RequireResponder(tx, idOrName, caller, "requesting a resume");
                if (action.State != MassActionState.Halted)
                {
                    throw new ProblemException(ProblemKind.Conflict, $"Mass action '{action.Name}' is {StateName(action.State)}; only a halted action can resume.");
                }

                if (action.Approval is { } pending)
                {
                    throw new ProblemException(ProblemKind.Conflict, $"A resume of '{action.Name}' requested by {pending.RequestedBy} is already waiting for approval.");
                }

                RefuseWhileKilled(tx, action);
                var requested = action with { Approval = new MassActionApproval(MassActionApprovalKind.Resume, caller.Name, context.Reason, tx.Now), UpdatedAt = tx.Now };
                return Save(tx, requested, action, "mass_action.resume.request", context);
            },
            cancellationToken);

    /// <summary>
    /// Grants up to <paramref name="requested"/> units to a worker, deciding inside the write transaction with the flag
    /// read there; halts the action (audited) when its flag is <c>EMERGENCY_OFF</c>.
    /// </summary>
    public async Task<PermitDecision> PermitAsync(string idOrName, IdentityRecord caller, long requested, ChangeContext context, CancellationToken cancellationToken)
    {
        var found = await RequireWorkerAsync(idOrName, caller, cancellationToken).ConfigureAwait(false);
        var throttle = found.Definition.Throttle is { } name ? await throttles.FindAsync(name, cancellationToken).ConfigureAwait(false) : null;
        var keys = new ThrottleKeys(new Dictionary<string, string>(StringComparer.Ordinal) { [MassActionKey] = found.Id, [ActionKey] = found.Definition.Action });
        Func<long, ThrottleGrant>? take = found.Definition.Throttle is null ? null : units =>
        {
            // A named throttle this node cannot find grants nothing: fail closed.
            if (throttle is null)
            {
                return new ThrottleGrant(0, MassActionPermits.IdleRetry);
            }

            var taken = throttles.Take(throttle, keys, units);
            return new ThrottleGrant(taken.Granted, taken.Decision.RetryAfter);
        };
        var decision = await store.WriteAsync(
            tx =>
            {
                var action = Require(tx, found.Id);
                var decision = MassActionPermits.Decide(action, FlagStatusOf(tx, action), tx.Now, requested, take, () => KillReason(tx, action));
                if (decision.Halted)
                {
                    AuditKillSwitchHalt(tx, action, decision.Record, context);
                }
                else if (decision.Granted > 0)
                {
                    tx.PutMassActionProgress(action.Id, decision.Record.Progress);
                }

                return decision;
            },
            cancellationToken).ConfigureAwait(false);
        _granted.Add(
            decision.Granted,
            new KeyValuePair<string, object?>("action", found.Definition.Action),
            new KeyValuePair<string, object?>("limited_by", MassActionNames.Name(MassActionNames.Limits, decision.LimitedBy)));
        return decision;
    }

    /// <summary>Counts a worker's results; halts the action when its breaker trips and completes it when all are in.</summary>
    public async Task<MassActionRecord> ReportAsync(string idOrName, IdentityRecord caller, long succeeded, long failed, IReadOnlyDictionary<string, long> errors, ChangeContext context, CancellationToken cancellationToken)
    {
        var found = await RequireWorkerAsync(idOrName, caller, cancellationToken).ConfigureAwait(false);
        return await store.WriteAsync(
            tx =>
            {
                var action = Require(tx, found.Id);
                var outcome = MassActionPermits.Report(action, succeeded, failed, errors, tx.Now);
                if (outcome.Refusal is { } refusal)
                {
                    throw new ProblemException(ProblemKind.Conflict, $"Mass action '{action.Name}' {refusal}.");
                }

                switch (outcome.Transition)
                {
                    case ReportTransition.BreakerHalted:
                        var halt = outcome.Record.Halt!;
                        return Save(tx, outcome.Record, action, "mass_action.halt", ChangeContext.System("breaker", context.CorrelationId) with { Reason = halt.Reason });
                    case ReportTransition.Completed:
                        return Save(tx, outcome.Record, action, "mass_action.complete", context);
                    default:
                        tx.PutMassActionProgress(action.Id, outcome.Record.Progress);
                        return outcome.Record;
                }
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Halts every pending or running action whose flag is <c>EMERGENCY_OFF</c> in <paramref name="flags"/>: run on each
    /// new flag snapshot, so a kill halts its actions even while no worker asks for a permit.
    /// </summary>
    public async Task<int> HaltKilledAsync(IEnumerable<FlagRecord> flags, CancellationToken cancellationToken)
    {
        var killed = flags.Where(f => f.Status.State == FlagState.EmergencyOff).Select(f => f.Key).ToHashSet(StringComparer.Ordinal);
        if (killed.Count == 0)
        {
            return 0;
        }

        var halted = 0;
        foreach (var candidate in (await store.ListMassActionsAsync(cancellationToken).ConfigureAwait(false)).Where(a => a.IsActive && killed.Contains(a.Definition.Flag)))
        {
            var done = await store.WriteAsync(
                tx =>
                {
                    // Decided again here: a permit or another node may have halted it meanwhile.
                    var action = tx.GetMassAction(candidate.Id);
                    if (action is null || !action.IsActive || FlagStatusOf(tx, action)?.State != FlagState.EmergencyOff)
                    {
                        return false;
                    }

                    AuditKillSwitchHalt(tx, action, MassActionPermits.KillSwitchHalt(action, KillReason(tx, action), tx.Now), ChangeContext.System("kill-switch"));
                    return true;
                },
                cancellationToken).ConfigureAwait(false);
            halted += done ? 1 : 0;
        }

        return halted;
    }

    /// <summary>The action's API and audit document: the declaration plus a read-only <c>status</c>.</summary>
    public static JsonObject Document(MassActionRecord action, MassActionState state)
    {
        var document = MassActionKind.Instance.ToDocument(action.Definition);
        var progress = action.Progress;
        document["status"] = new JsonObject
        {
            ["id"] = action.Id,
            ["state"] = StateName(state),
            ["created_by"] = action.CreatedBy,
            ["created_at"] = AuditChain.FormatTime(action.CreatedAt),
            ["updated_at"] = AuditChain.FormatTime(action.UpdatedAt),
            ["approval"] = action.ApprovalDocument(),
            ["approved_by"] = action.ApprovedBy,
            ["approved_at"] = action.ApprovedAt is { } approved ? AuditChain.FormatTime(approved) : null,
            ["halt"] = action.HaltDocument(),
            ["completed_at"] = action.CompletedAt is { } completed ? AuditChain.FormatTime(completed) : null,
            ["granted"] = progress.Granted,
            ["remaining"] = action.Definition.AudienceSize - progress.Granted,
            ["succeeded"] = progress.Succeeded,
            ["failed"] = progress.Failed,
            ["errors"] = progress.ErrorsDocument(),
            ["breaker"] = new JsonObject
            {
                ["results"] = progress.WindowSucceeded + progress.WindowFailed,
                ["failed"] = progress.WindowFailed,
            },
        };
        return document;
    }

    /// <summary>The state to show: <see cref="MassActionPermits.StateOf"/> with the flag as it is now.</summary>
    public static MassActionState StateOf(MassActionRecord action, FlagRecord? flag) =>
        MassActionPermits.StateOf(action, flag is null || flag.Archived ? null : flag.Status);

    public static string StateName(MassActionState state) => MassActionNames.Name(MassActionNames.States, state);

    private static List<ManifestError> CheckReferences(IWriteTransaction tx, MassActionDefinition definition)
    {
        var errors = new List<ManifestError>();
        var flag = tx.GetFlag(definition.Flag);
        if (flag is null || flag.Archived)
        {
            errors.Add(new ManifestError("/flag", $"flag '{definition.Flag}' does not exist" + (flag is null ? string.Empty : " (it is archived)")));
        }
        else if (flag.Status.State == FlagState.EmergencyOff)
        {
            errors.Add(new ManifestError("/flag", $"flag '{definition.Flag}' is EMERGENCY_OFF: a mass action cannot be declared behind a killed flag"));
        }

        if (definition.Throttle is { } name)
        {
            var throttle = tx.GetThrottle(name);
            if (throttle is null)
            {
                errors.Add(new ManifestError("/throttle", $"throttle '{name}' does not exist"));
            }
            else if (!throttle.Policy.Layers.Any(l => ApplicableLayerKeys.Contains(l.Key)))
            {
                errors.Add(new ManifestError("/throttle", $"throttle '{name}' has no layer keyed by global, {MassActionKey} or {ActionKey}, so it could never limit a mass action"));
            }
        }

        return errors;
    }

    private static FlagStatus? FlagStatusOf(IWriteTransaction tx, MassActionRecord action) =>
        tx.GetFlag(action.Definition.Flag) is { Archived: false } flag ? flag.Status : null;

    private static string? KillReason(IWriteTransaction tx, MassActionRecord action) =>
        tx.FindLastAudit("flag/" + action.Definition.Flag, "flag.state")?.Reason;

    private static void RefuseWhileKilled(IWriteTransaction tx, MassActionRecord action)
    {
        if (FlagStatusOf(tx, action)?.State == FlagState.EmergencyOff)
        {
            throw new ProblemException(ProblemKind.Conflict, $"Flag '{action.Definition.Flag}' is EMERGENCY_OFF: leave EMERGENCY_OFF first (that change needs a second person too).");
        }
    }

    private static void AuditKillSwitchHalt(IWriteTransaction tx, MassActionRecord before, MassActionRecord halted, ChangeContext context) =>
        Save(tx, halted, before, "mass_action.halt", ChangeContext.System("kill-switch", context.CorrelationId) with { Reason = halted.Halt!.Reason });

    private static MassActionRecord Require(IWriteTransaction tx, string idOrName) =>
        tx.GetMassAction(idOrName) ?? throw new ProblemException(ProblemKind.NotFound, $"Mass action '{idOrName}' does not exist.");

    /// <summary>The action, once the caller may halt it or ask to resume it (404 before 403, as everywhere).</summary>
    private static MassActionRecord RequireResponder(IWriteTransaction tx, string idOrName, IdentityRecord caller, string what)
    {
        var action = Require(tx, idOrName);
        return MassActionRules.MayHaltOrResume(caller.Roles)
            ? action
            : throw new ProblemException(ProblemKind.Forbidden, what + " needs the responder, operator or admin role");
    }

    private async Task<MassActionRecord> RequireWorkerAsync(string idOrName, IdentityRecord caller, CancellationToken cancellationToken)
    {
        var action = await store.GetMassActionAsync(idOrName, cancellationToken).ConfigureAwait(false)
            ?? throw new ProblemException(ProblemKind.NotFound, $"Mass action '{idOrName}' does not exist.");
        if (!MassActionRules.MayWork(action.Definition, caller.Name, caller.Roles))
        {
            throw new ProblemException(ProblemKind.Forbidden, action.Definition.Workers.Count == 0
                ? "asking for permits and reporting needs the operator or admin role, or a worker identity named in the mass action's workers"
                : $"only the mass action's workers ({string.Join(", ", action.Definition.Workers)}) or an admin may ask for permits and report");
        }

        return action;
    }

    private static MassActionRecord Save(IWriteTransaction tx, MassActionRecord action, MassActionRecord? before, string auditAction, ChangeContext context)
    {
        tx.PutMassAction(action);
        tx.Append(context.Draft(auditAction, "mass_action/" + action.Id, before is null ? null : Document(before, before.State), Document(action, action.State)));
        return action;
    }

    private byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        random.Fill(bytes);
        return bytes;
    }
}
