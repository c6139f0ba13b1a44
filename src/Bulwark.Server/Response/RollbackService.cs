using System.Text.Json.Nodes;
using Bulwark.Problems;
using Bulwark.Response;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Storage;

namespace Bulwark.Server.Response;

/// <summary>
/// One-click rollback of an incident's response: every run of the incident that acted (or is still acting) is asked to
/// roll back, in one transaction, audited as the person who asked (<c>incident.rollback</c> and
/// <c>playbook.run.rollback</c>). The executor then skips what has not run and compensates the rest in reverse order.
/// Asking again changes nothing: a run that was asked once is left alone, so the compensations run exactly once.
/// </summary>
internal sealed class RollbackService(IControlStore store, PlaybookService playbooks, RunExecutor executor)
{
    /// <summary>What a rollback request did to one run.</summary>
    public const string Requested = "rolling_back";

    /// <summary>The run had been asked to roll back before: left alone.</summary>
    public const string AlreadyRequested = "already_requested";

    /// <summary>The run finished without anything a compensation could undo: left alone.</summary>
    public const string NothingToUndo = "nothing_to_undo";

    /// <summary>Asks every run of an incident to roll back; returns, per run, what the request did.</summary>
    /// <exception cref="ProblemException">404 when the incident does not exist.</exception>
    public async Task<JsonObject> RollbackAsync(string incidentId, ChangeContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (await store.GetIncidentAsync(incidentId, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new ProblemException(ProblemKind.NotFound, $"Incident '{incidentId}' does not exist.");
        }

        var listed = await store.ListRunsAsync(new RunQuery(IncidentId: incidentId, Limit: 1000), cancellationToken).ConfigureAwait(false);
        var definitions = new Dictionary<string, PlaybookDefinition?>(StringComparer.Ordinal);
        foreach (var name in listed.Select(r => r.Value.Playbook).Distinct(StringComparer.Ordinal))
        {
            definitions[name] = await playbooks.FindAsync(name, cancellationToken).ConfigureAwait(false);
        }

        var (result, woken) = await store.WriteAsync(
            tx =>
            {
                var items = new JsonArray();
                var asked = new List<string>();
                foreach (var id in listed.Select(r => r.Value.Id))
                {
                    var stored = tx.GetRun(id)!;
                    var run = RunState.Read(stored.Document);
                    var outcome = run.Rollback is not null ? AlreadyRequested
                        : run.Finished && (definitions[run.Playbook] is not { } playbook || RunPlanner.RollbackOrder(playbook, run).Count == 0) ? NothingToUndo
                        : Requested;
                    if (outcome == Requested)
                    {
                        var next = run with { Rollback = new RollbackRequest(context.Actor, tx.Now, context.Reason), Status = RunStatus.RollingBack, UpdatedAt = tx.Now };
                        var document = next.ToDocument();
                        tx.PutRun(stored with { Status = ResponseNames.Name(ResponseNames.RunStatuses, next.Status), Active = true, UpdatedAt = tx.Now, Document = document });
                        tx.Append(context.Draft("playbook.run.rollback", "run/" + id, stored.Document, document));
                        asked.Add(id);
                        run = next;
                    }

                    items.Add(new JsonObject
                    {
                        ["run_id"] = id,
                        ["playbook"] = run.Playbook,
                        ["status"] = ResponseNames.Name(ResponseNames.RunStatuses, run.Status),
                        ["outcome"] = outcome,
                    });
                }

                var result = new JsonObject { ["incident_id"] = incidentId, ["runs"] = items };
                if (asked.Count > 0)
                {
                    tx.Append(context.Draft("incident.rollback", "incident/" + incidentId, null, (JsonObject)result.DeepClone()));
                }

                return (result, asked);
            },
            cancellationToken).ConfigureAwait(false);
        foreach (var id in woken)
        {
            executor.Wake(id);
        }

        return result;
    }
}
