using Bulwark.Detection.Incidents;
using Bulwark.Identity;
using Bulwark.Response;
using Bulwark.Server.Hosting;
using Bulwark.Storage;

namespace Bulwark.Server.Response;

/// <summary>
/// Starts playbook runs for incidents, in the transaction that stores the incident: a run exists exactly when its
/// incident does. A run acts on the incident's accounts and IPs as they are when it starts; when accounts or IPs join
/// the incident later (another detection merged into it), a follow-up run of the playbook acts on those, if the playbook
/// has steps for them (<see cref="IWriteTransaction.FindRuns"/>); otherwise nothing new starts. Below the
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
            if (!playbook.Trigger.Matches(incident))
            {
                continue;
            }

            // A follow-up run for what joined the incident since its runs started, if the playbook acts on it. Dry runs
            // a person started act on nothing, so they cover nothing.
            var earlier = tx.FindRuns(playbook.Name, incident.Id).Select(r => RunState.Read(r.Document)).Where(r => !r.DryRun || playbook.DryRun).ToList();
            var accounts = incident.Accounts.Except(earlier.SelectMany(r => r.Accounts ?? incident.Accounts), StringComparer.Ordinal).ToList();
            var ips = incident.Ips.Except(earlier.SelectMany(r => r.Ips ?? incident.Ips), StringComparer.Ordinal).ToList();
            if (earlier.Count > 0
                && !(accounts.Count > 0 && playbook.Steps.Any(s => s.ForEach == StepTargets.Accounts))
                && !(ips.Count > 0 && playbook.Steps.Any(s => s.ForEach == StepTargets.Ips)))
            {
                continue;
            }

            started.Add(StartOne(tx, playbook, incident, ChangeContext.System("playbook/" + playbook.Name, incident.Id), dryRun: false, earlier.Count == 0 ? null : accounts, earlier.Count == 0 ? null : ips));
        }

        return started;
    }

    /// <summary>
    /// Inside a transaction: stores a new run of <paramref name="playbook"/> for <paramref name="incident"/> (its
    /// question too, when it waits for approval), audited in <paramref name="context"/>; returns its id. A dry run never
    /// waits for approval: it records what it would do.
    /// </summary>
    public string StartOne(
        IWriteTransaction tx, PlaybookDefinition playbook, IncidentRecord incident, ChangeContext context, bool dryRun, IReadOnlyList<string>? accounts = null, IReadOnlyList<string>? ips = null)
    {
        var id = RunExecutor.NewId(random, "run_");
        var run = RunState.Start(id, playbook, incident, incident.Id, tx.Now, dryRun, accounts, ips);
        Approval? approval = null;
        if (run.Status == RunStatus.WaitingApproval)
        {
            // Below the auto threshold: the question is asked with the run, so the run never waits unasked.
            approval = Approval.Ask(RunExecutor.NewId(random, "apr_"), run, null, playbook.Approval, RunExecutor.Question(run, null), tx.Now);
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
        tx.Append(context.Draft("playbook.run.create", "run/" + id, null, document));
        if (approval is not null)
        {
            ApprovalService.Ask(tx, approval, incident.Id);
        }

        return id;
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
