using Bulwark.Identity;
using Bulwark.Problems;
using Bulwark.Response;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Storage;

namespace Bulwark.Server.Response;

/// <summary>
/// The questions runs ask people (<see cref="Approval"/>): asked in the transaction that makes a run or step wait,
/// answered once by someone holding one of its roles (or an admin), and expired explicitly on the server's clock —
/// denied, or escalated once and then denied. Every change is audited: <c>approval.ask</c> by the playbook,
/// <c>approval.approve</c> and <c>approval.deny</c> by the person who answered, <c>approval.escalate</c>,
/// <c>approval.expire</c> and <c>approval.cancel</c> by <c>system:approvals</c>. The run learns of an answer from the
/// store when the executor is woken; the approval service never writes a run.
/// </summary>
internal sealed class ApprovalService(IControlStore store, RunExecutor executor, TimeProvider time)
{
    /// <summary>The page size of the sweep's reads of open approvals.</summary>
    public const int SweepLimit = 1000;

    /// <summary>Inside a run's transaction: stores the question (audited as the playbook) and returns it.</summary>
    public static Approval Ask(IWriteTransaction tx, Approval approval, string correlationId)
    {
        tx.PutApproval(approval.ToStored());
        tx.Append(ChangeContext.System("playbook/" + approval.Playbook, correlationId).Draft("approval.ask", "approval/" + approval.Id, null, approval.ToDocument()));
        return approval;
    }

    /// <summary>Inside a run's transaction: cancels an open question the run no longer needs (audited).</summary>
    public static void Cancel(IWriteTransaction tx, string approvalId, string reason, string correlationId)
    {
        if (tx.GetApproval(approvalId) is not { } stored || Approval.Read(stored) is not { Open: true } approval)
        {
            return;
        }

        var cancelled = approval.Cancel(reason, tx.Now);
        tx.PutApproval(cancelled.ToStored());
        tx.Append(ChangeContext.System("approvals", correlationId).Draft("approval.cancel", "approval/" + approval.Id, approval.ToDocument(), cancelled.ToDocument()));
    }

    /// <summary>Records a person's answer, then wakes the run.</summary>
    /// <exception cref="ProblemException">404 when there is no such approval, 409 when it was answered (or expired) already, 403 when the caller holds none of its roles.</exception>
    public async Task<Approval> AnswerAsync(string id, bool approve, IdentityRecord caller, string? note, ChangeContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var answered = await store.WriteAsync(
            tx =>
            {
                var approval = tx.GetApproval(id) is { } stored ? Approval.Read(stored) : throw new ProblemException(ProblemKind.NotFound, $"Approval '{id}' does not exist.");
                if (!approval.Open)
                {
                    throw new ProblemException(
                        ProblemKind.Conflict,
                        $"Approval '{id}' is {ResponseNames.Name(ResponseNames.ApprovalStatuses, approval.Status)} already{(approval.AnsweredBy is { } by ? " (" + by + ")" : string.Empty)}: it is answered once.");
                }

                if (!approval.MayAnswer(caller.Roles))
                {
                    throw new ProblemException(
                        ProblemKind.Forbidden,
                        $"Approval '{id}' may be answered by {string.Join(" or ", approval.Roles.Select(Roles.Name))} (or an admin); '{caller.Name}' holds {string.Join(", ", caller.Roles.Select(Roles.Name))}.");
                }

                var next = approval.Answer(approve, caller.Name, note, tx.Now);
                tx.PutApproval(next.ToStored());
                tx.Append(context.Draft(approve ? "approval.approve" : "approval.deny", "approval/" + id, approval.ToDocument(), next.ToDocument()));
                return next;
            },
            cancellationToken).ConfigureAwait(false);
        executor.Wake(answered.RunId);
        return answered;
    }

    /// <summary>Escalates or expires every open approval that is due on the server's clock, and wakes their runs.</summary>
    /// <returns>How many changed.</returns>
    public async Task<int> ExpireDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var due = new List<string>();
        foreach (var status in new[] { ApprovalStatus.Pending, ApprovalStatus.Escalated })
        {
            // Every open approval, page by page (lists are newest first; the oldest are the likeliest to be due).
            for (long? before = null; ;)
            {
                var open = await store.ListApprovalsAsync(ResponseNames.Name(ResponseNames.ApprovalStatuses, status), null, before, SweepLimit, cancellationToken).ConfigureAwait(false);
                due.AddRange(open.Where(a => a.Value.ExpiresAt <= now).Select(a => a.Value.Id));
                if (open.Count < SweepLimit)
                {
                    break;
                }

                before = open[^1].Seq;
            }
        }

        var changed = 0;
        foreach (var id in due)
        {
            var expired = await store.WriteAsync(
                tx =>
                {
                    if (tx.GetApproval(id) is not { } stored || Approval.Read(stored) is not { Open: true } approval || approval.ExpiresAt > tx.Now)
                    {
                        return null; // answered meanwhile
                    }

                    var next = approval.Expire(tx.Now);
                    tx.PutApproval(next.ToStored());
                    var action = next.Status == ApprovalStatus.Escalated ? "approval.escalate" : "approval.expire";
                    tx.Append(ChangeContext.System("approvals", approval.IncidentId).Draft(action, "approval/" + id, approval.ToDocument(), next.ToDocument()));
                    return next;
                },
                cancellationToken).ConfigureAwait(false);
            if (expired is not null)
            {
                changed++;
                executor.Wake(expired.RunId);
            }
        }

        return changed;
    }
}

/// <summary>Expires due approvals once a second of the server's clock (<see cref="ApprovalService.ExpireDueAsync"/>).</summary>
internal sealed class ApprovalExpiry(ApprovalService approvals, TimeProvider time, ILogger<ApprovalExpiry> logger) : PeriodicWork(time, logger, Period)
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    protected override string Name => "Approval expiry sweep";

    protected override Task RunOnceAsync(CancellationToken stoppingToken) => approvals.ExpireDueAsync(stoppingToken);
}
