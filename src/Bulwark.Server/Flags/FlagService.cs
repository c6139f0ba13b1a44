using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.Json;
using Bulwark.Problems;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Server.Identity;
using Bulwark.Storage;

namespace Bulwark.Server.Flags;

/// <summary>The answer to a state change request: the flag as it now is, or the pending change created.</summary>
internal sealed record StateChangeResult(FlagRecord? Applied, PendingChange? Pending, bool BreakGlass);

/// <summary>
/// Flags: definitions, state changes under <see cref="FlagTransitions"/>, pending changes and their approval. Every
/// change is audited with the flag's status before and after; break-glass entries carry <c>"break_glass": true</c>.
/// </summary>
internal sealed class FlagService(IControlStore store, IRandomSource random, TimeProvider time, FlagSnapshotCache snapshots)
{
    public Task<(FlagRecord Flag, PutOutcome Outcome)> PutAsync(FlagDefinition definition, ChangeContext context, CancellationToken cancellationToken) =>
        AnnounceAfter(store.WriteAsync(
            tx =>
            {
                var existing = tx.GetFlag(definition.Key);
                if (existing is not null && CanonicalJson.AreEqual(FlagKind.Instance.ToDocument(existing.Definition), FlagKind.Instance.ToDocument(definition)))
                {
                    return (existing, PutOutcome.Unchanged);
                }

                var flag = new FlagRecord
                {
                    Definition = definition,
                    Status = existing?.Status ?? FlagStatus.Off,
                    Archived = existing?.Archived ?? false,
                    Version = 0,
                    CreatedAt = existing?.CreatedAt ?? tx.Now,
                    UpdatedAt = tx.Now,
                };
                var saved = Save(tx, flag, existing, existing is null ? "flag.create" : "flag.update", context);
                return (saved, existing is null ? PutOutcome.Created : PutOutcome.Updated);
            },
            cancellationToken), r => r.Item1);

    public Task<FlagRecord> ArchiveAsync(string key, ChangeContext context, CancellationToken cancellationToken) =>
        AnnounceAfter(store.WriteAsync(
            tx =>
            {
                var existing = RequireFlag(tx, key);
                return existing.Archived
                    ? existing
                    : Save(tx, existing with { Archived = true, Status = FlagStatus.Off, UpdatedAt = tx.Now }, existing, "flag.archive", context);
            },
            cancellationToken), f => f);

    /// <summary>Requests a state change for <paramref name="caller"/>, applying it or recording a pending change.</summary>
    public Task<StateChangeResult> RequestStateAsync(string key, FlagStatus to, bool breakGlass, IdentityRecord caller, ChangeContext context, CancellationToken cancellationToken)
    {
        var changeId = "ch_" + Convert.ToHexStringLower(RandomBytes(8));
        return AnnounceAfter(store.WriteAsync(
            tx =>
            {
                var flag = RequireFlag(tx, key);
                if (flag.Archived)
                {
                    throw new ProblemException(ProblemKind.Conflict, $"Flag '{key}' is archived.");
                }

                var decision = FlagTransitions.Decide(new TransitionRequest(flag.Status, to, context.Reason, breakGlass), caller.Roles);
                switch (decision.Outcome)
                {
                    case TransitionOutcome.Forbidden:
                        throw new ProblemException(ProblemKind.Forbidden, decision.Explanation);
                    case TransitionOutcome.Invalid:
                        throw new ProblemException(ProblemKind.Validation, decision.Explanation);
                    case TransitionOutcome.RequiresApproval:
                        var pending = new PendingChange
                        {
                            Id = changeId,
                            FlagKey = key,
                            From = flag.Status,
                            To = to,
                            RequestedBy = caller.Name,
                            Reason = context.Reason,
                            CreatedAt = tx.Now,
                            ExpiresAt = tx.Now + FlagTransitions.DefaultApprovalTtl,
                            Status = ChangeStatus.Pending,
                        };
                        tx.PutChange(pending);
                        tx.Append(Draft(context, "flag.change.request", "change/" + changeId, null, ChangeDocument(pending, tx.Now)));
                        return new StateChangeResult(null, pending, false);
                    default:
                        var glass = decision.Outcome == TransitionOutcome.BreakGlass;
                        var applied = Save(tx, flag with { Status = to, UpdatedAt = tx.Now }, flag, glass ? "flag.state.break_glass" : "flag.state", context, glass);
                        return new StateChangeResult(applied, null, glass);
                }
            },
            cancellationToken), r => r.Applied);
    }

    public Task<(PendingChange Change, FlagRecord? Flag)> DecideAsync(string changeId, bool approve, IdentityRecord caller, ChangeContext context, CancellationToken cancellationToken) =>
        AnnounceAfter(store.WriteAsync(
            tx =>
            {
                var change = tx.GetChange(changeId) ?? throw new ProblemException(ProblemKind.NotFound, $"Change '{changeId}' does not exist.");
                var status = change.StatusAt(tx.Now);
                if (status == ChangeStatus.Expired && change.Status == ChangeStatus.Pending)
                {
                    var expired = change with { Status = ChangeStatus.Expired, DecidedAt = change.ExpiresAt };
                    tx.PutChange(expired);
                    tx.Append(Draft(ChangeContext.System("approvals", context.CorrelationId), "flag.change.expire", "change/" + changeId, ChangeDocument(change, tx.Now), ChangeDocument(expired, tx.Now)));
                    return (expired, (FlagRecord?)null);
                }

                if (status != ChangeStatus.Pending)
                {
                    throw new ProblemException(ProblemKind.Conflict, $"Change '{changeId}' is {Name(status)}, not pending.");
                }

                var withdrawal = !approve && change.RequestedBy == caller.Name;
                if (!withdrawal)
                {
                    var decision = FlagTransitions.DecideApproval(change.RequestedBy, caller.Name, caller.Roles);
                    if (decision.Outcome != TransitionOutcome.Apply)
                    {
                        throw new ProblemException(ProblemKind.Forbidden, decision.Explanation);
                    }
                }

                var flag = RequireFlag(tx, change.FlagKey);
                if (approve && flag.Status != change.From)
                {
                    var superseded = change with { Status = ChangeStatus.Superseded, DecidedBy = caller.Name, DecidedAt = tx.Now };
                    tx.PutChange(superseded);
                    tx.Append(Draft(context, "flag.change.supersede", "change/" + changeId, ChangeDocument(change, tx.Now), ChangeDocument(superseded, tx.Now)));
                    return (superseded, (FlagRecord?)null);
                }

                var decided = change with { Status = approve ? ChangeStatus.Approved : ChangeStatus.Rejected, DecidedBy = caller.Name, DecidedAt = tx.Now };
                tx.PutChange(decided);
                tx.Append(Draft(context, approve ? "flag.change.approve" : "flag.change.reject", "change/" + changeId, ChangeDocument(change, tx.Now), ChangeDocument(decided, tx.Now)));
                if (!approve)
                {
                    return (decided, (FlagRecord?)null);
                }

                var applied = Save(tx, flag with { Status = change.To, UpdatedAt = tx.Now }, flag, "flag.state", context with { Reason = change.Reason ?? context.Reason });
                return (decided, applied);
            },
            cancellationToken), r => r.Item2);

    /// <summary>Once a write that saved a flag is durable, tells the snapshot cache (and so every stream) its version.</summary>
    private async Task<T> AnnounceAfter<T>(Task<T> write, Func<T, FlagRecord?> saved)
    {
        var result = await write.ConfigureAwait(false);
        if (saved(result) is { } flag)
        {
            snapshots.Announce(flag.Version);
        }

        return result;
    }

    public static JsonObject Document(FlagRecord flag)
    {
        var document = FlagKind.Instance.ToDocument(flag.Definition);
        document["status"] = StatusDocument(flag);
        return document;
    }

    public static JsonObject StatusDocument(FlagRecord flag) => new()
    {
        ["state"] = FlagNames.Name(FlagNames.States, flag.Status.State),
        ["percentage"] = flag.Status.Millipercent / (double)Bucketing.BucketsPerPercent,
        ["archived"] = flag.Archived,
        ["version"] = flag.Version,
        ["updated_at"] = AuditChain.FormatTime(flag.UpdatedAt),
    };

    public static JsonObject ChangeDocument(PendingChange change, DateTimeOffset now) => new()
    {
        ["id"] = change.Id,
        ["flag"] = change.FlagKey,
        ["from"] = StatusOnly(change.From),
        ["to"] = StatusOnly(change.To),
        ["requested_by"] = change.RequestedBy,
        ["reason"] = change.Reason,
        ["status"] = Name(change.StatusAt(now)),
        ["created_at"] = AuditChain.FormatTime(change.CreatedAt),
        ["expires_at"] = AuditChain.FormatTime(change.ExpiresAt),
        ["decided_by"] = change.DecidedBy,
        ["decided_at"] = change.DecidedAt is { } decided ? AuditChain.FormatTime(decided) : null,
    };

    public static string Name(ChangeStatus status) => status.ToString().ToLowerInvariant();

    private static JsonObject StatusOnly(FlagStatus status) => new()
    {
        ["state"] = FlagNames.Name(FlagNames.States, status.State),
        ["percentage"] = status.Millipercent / (double)Bucketing.BucketsPerPercent,
    };

    private static FlagRecord RequireFlag(IWriteTransaction tx, string key) =>
        tx.GetFlag(key) ?? throw new ProblemException(ProblemKind.NotFound, $"Flag '{key}' does not exist.");

    private static FlagRecord Save(IWriteTransaction tx, FlagRecord flag, FlagRecord? before, string action, ChangeContext context, bool breakGlass = false)
    {
        var version = tx.PutFlag(flag);
        var saved = flag with { Version = version };
        var after = Document(saved);
        if (breakGlass)
        {
            after["break_glass"] = true;
        }

        tx.Append(Draft(context, action, "flag/" + flag.Key, before is null ? null : Document(before), after));
        return saved;
    }

    private static AuditDraft Draft(ChangeContext context, string action, string target, JsonObject? before, JsonObject? after) =>
        context.Draft(action, target, before, after);

    private byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        random.Fill(bytes);
        return bytes;
    }

    internal DateTimeOffset Now => time.GetUtcNow();
}
