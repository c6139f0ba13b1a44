using Bulwark.Detection.Incidents;
using Bulwark.Identity;
using Bulwark.Response;
using Bulwark.Server.Hosting;
using Bulwark.Storage;

namespace Bulwark.Server.Response;

/// <summary>
/// Starts playbook runs for incidents, in the transaction that stores the incident: a run exists exactly when its
/// incident does, and at most one run of a playbook per incident (<see cref="IWriteTransaction.FindRun"/>). Below the
/// playbook's auto threshold the run waits for an approval, asked in the same transaction. The executor is woken after the commit.
/// </summary>
internal sealed class RunStarter(PlaybookService playbooks, RunExecutor executor, IRandomSource random)
{
    /// <summary>The playbooks in force, read before the transaction.</summary>
    public async ValueTask<IReadOnlyList<PlaybookDefinition>> PrepareAsync(CancellationToken cancellationToken) =>
        (await playbooks.GetAsync(cancellationToken).ConfigureAwait(false)).Items;

    /// <summary>Inside the incident's transaction: starts the runs its playbooks call for, audited; returns their ids.</summary>
    public List<string> Start(IWriteTransaction tx, IncidentRecord incident, IReadOnlyList<PlaybookDefinition> set)
    {
        var started = new List<string>();
        foreach (var playbook in set)
        {
            if (!playbook.Trigger.Matches(incident) || tx.FindRun(playbook.Name, incident.Id) is not null)
            {
                continue;
            }

            var id = RunExecutor.NewId(random, "run_");
            var run = RunState.Start(id, playbook, incident, incident.Id, tx.Now);
            Approval? approval = null;
            if (run.Status == RunStatus.WaitingApproval)
            {
                // Below the auto threshold: the question is asked with the run, so the run never waits unasked.
                approval = Approval.Ask(RunExecutor.NewId(random, "apr_"), run, null, playbook.Approval, $"Run playbook '{playbook.Name}' for incident {incident.Id}? {run.Reason}.", tx.Now);
                run = run with { ApprovalId = approval.Id };
            }

            var document = run.ToDocument();
            tx.PutRun(new StoredRun
            {
                Id = id,
                Playbook = playbook.Name,
                IncidentId = incident.Id,
                Status = ResponseNames.Name(ResponseNames.RunStatuses, run.Status),
                Active = !run.Finished,
                CreatedAt = tx.Now,
                UpdatedAt = tx.Now,
                Document = document,
            });
            tx.Append(ChangeContext.System("playbook/" + playbook.Name, incident.Id).Draft("playbook.run.create", "run/" + id, null, document));
            if (approval is not null)
            {
                ApprovalService.Ask(tx, approval, incident.Id);
            }

            started.Add(id);
        }

        return started;
    }

    /// <summary>After an incident's resolution is committed: its runs' PagerDuty alerts are resolved.</summary>
    public void Resolved(string incidentId) => executor.ResolveAlerts(incidentId);

    /// <summary>After the commit: lets the executor take the new runs.</summary>
    public void Started(IEnumerable<string> runIds)
    {
        foreach (var id in runIds)
        {
            executor.Wake(id);
        }
    }
}
