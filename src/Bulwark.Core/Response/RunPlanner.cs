using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Response;

/// <summary>A step the planner skips, and why.</summary>
/// <param name="StepId">The step.</param>
/// <param name="Reason">Why, for people (<c>dependency 'revoke' failed</c>).</param>
public sealed record StepSkip(string StepId, string Reason);

/// <summary>What a run should do next.</summary>
/// <param name="Ready">Pending steps whose dependencies all succeeded, in the playbook's order: start them now (evaluating <c>run_if</c> and <see cref="RunPlanner.ApprovalFor"/> first).</param>
/// <param name="Skipped">Pending steps that can no longer run because a dependency failed, was skipped or was denied.</param>
/// <param name="Status">The run's status once <see cref="Skipped"/> is applied: <see cref="RunStatus.Running"/> while anything is left to do.</param>
/// <param name="Reason">Why the run ended the way it did, once finished.</param>
public sealed record RunPlan(IReadOnlyList<string> Ready, IReadOnlyList<StepSkip> Skipped, RunStatus Status, string? Reason)
{
    /// <summary>Whether the run is over.</summary>
    public bool Finished => !RunState.IsActive(Status);
}

/// <summary>
/// Decides, from the state of a run's steps alone, which steps start now, which can no longer run, and whether and how
/// the run ends. Pure: the executor applies the plan, runs the ready steps, stores the new states and plans again.
/// </summary>
public static class RunPlanner
{
    /// <summary>Plans a run.</summary>
    /// <param name="playbook">The playbook (valid: its steps form no cycle).</param>
    /// <param name="run">The run's state.</param>
    /// <returns>The plan. A run that is not <see cref="RunStatus.Running"/> gets an empty plan with its own status.</returns>
    public static RunPlan Plan(PlaybookDefinition playbook, RunState run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return Plan(playbook, run.Steps.ToDictionary(s => s.Id, s => s.Status, StringComparer.Ordinal), run.Status, run.Reason);
    }

    /// <summary>
    /// Plans a run from its steps' statuses. Once every main step is over and one failed, the <c>on_failure</c> steps
    /// are ready (and the run ends failed when they are over); when none failed they are skipped.
    /// </summary>
    /// <param name="playbook">The playbook (valid: its steps form no cycle).</param>
    /// <param name="steps">Each step's status; a step not listed is <see cref="StepStatus.Pending"/>.</param>
    /// <param name="status">The run's status.</param>
    /// <param name="reason">The run's reason, kept when the run is not running.</param>
    /// <returns>The plan.</returns>
    public static RunPlan Plan(PlaybookDefinition playbook, IReadOnlyDictionary<string, StepStatus> steps, RunStatus status = RunStatus.Running, string? reason = null)
    {
        ArgumentNullException.ThrowIfNull(playbook);
        ArgumentNullException.ThrowIfNull(steps);
        if (status != RunStatus.Running)
        {
            return new RunPlan([], [], status, reason);
        }

        var current = playbook.Steps.ToDictionary(s => s.Id, s => steps.GetValueOrDefault(s.Id, StepStatus.Pending), StringComparer.Ordinal);
        var skipped = new List<StepSkip>();

        // Skips propagate down the graph; the graph is acyclic, so this settles within one pass per step.
        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var step in playbook.Steps)
            {
                if (current[step.Id] != StepStatus.Pending)
                {
                    continue;
                }

                var blocker = step.DependsOn.FirstOrDefault(d => current[d] is StepStatus.Failed or StepStatus.Skipped or StepStatus.Denied);
                if (blocker is not null)
                {
                    var verb = current[blocker] switch
                    {
                        StepStatus.Failed => "failed",
                        StepStatus.Denied => "was denied",
                        _ => "was skipped",
                    };
                    current[step.Id] = StepStatus.Skipped;
                    skipped.Add(new StepSkip(step.Id, $"dependency '{blocker}' {verb}"));
                    changed = true;
                }
            }
        }

        var ready = playbook.Steps
            .Where(s => current[s.Id] == StepStatus.Pending && s.DependsOn.All(d => current[d] is StepStatus.Succeeded or StepStatus.Compensated))
            .Select(s => s.Id)
            .ToList();
        if (current.Values.Any(s => s is StepStatus.Pending or StepStatus.WaitingApproval or StepStatus.Running))
        {
            return new RunPlan(ready, skipped, RunStatus.Running, null);
        }

        // The main steps are over. The on_failure steps run if one failed, and are skipped otherwise.
        var onFailure = playbook.OnFailure.Select(s => (s.Id, Status: steps.GetValueOrDefault(s.Id, StepStatus.Pending))).ToList();
        var failed = playbook.Steps.Where(s => current[s.Id] == StepStatus.Failed).Select(s => s.Id).ToList();
        if (failed.Count > 0)
        {
            if (onFailure.Any(s => s.Status is StepStatus.Pending or StepStatus.WaitingApproval or StepStatus.Running))
            {
                return new RunPlan([.. onFailure.Where(s => s.Status == StepStatus.Pending).Select(s => s.Id)], skipped, RunStatus.Running, null);
            }

            return new RunPlan([], skipped, RunStatus.Failed, $"step{(failed.Count > 1 ? "s" : string.Empty)} {string.Join(", ", failed.Select(f => $"'{f}'"))} failed");
        }

        skipped.AddRange(onFailure.Where(s => s.Status == StepStatus.Pending).Select(s => new StepSkip(s.Id, "the run did not fail")));
        var denied = playbook.Steps.Where(s => current[s.Id] == StepStatus.Denied).Select(s => s.Id).ToList();
        return denied.Count > 0
            ? new RunPlan([], skipped, RunStatus.Denied, $"step{(denied.Count > 1 ? "s" : string.Empty)} {string.Join(", ", denied.Select(d => $"'{d}'"))} denied")
            : new RunPlan([], skipped, RunStatus.Succeeded, null);
    }

    /// <summary>Applies a plan's skips and status to a run.</summary>
    /// <param name="run">The run the plan was made for.</param>
    /// <param name="plan">The plan.</param>
    /// <param name="now">The wall time.</param>
    /// <returns>The new run state (unchanged when the plan changes nothing).</returns>
    public static RunState Apply(RunState run, RunPlan plan, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Skipped.Count == 0 && plan.Status == run.Status)
        {
            return run;
        }

        foreach (var skip in plan.Skipped)
        {
            run = run.WithStep(run.Step(skip.StepId)! with { Status = StepStatus.Skipped, Reason = skip.Reason, FinishedAt = now });
        }

        return run with { Status = plan.Status, Reason = plan.Finished ? plan.Reason ?? run.Reason : run.Reason, UpdatedAt = now };
    }

    /// <summary>
    /// The steps a rollback compensates, in the order it compensates them: the reverse of the order they finished in
    /// (steps that finished together, in reverse playbook order). A step is listed when it has a compensation, is not
    /// compensated yet, and at least one of its calls succeeded or has an unknown outcome (it was in flight when the
    /// process stopped: its effect may have happened, and a compensation of an effect that never happened is harmless).
    /// </summary>
    /// <param name="playbook">The playbook.</param>
    /// <param name="run">The run's state.</param>
    /// <returns>The step ids, first to compensate first.</returns>
    public static IReadOnlyList<string> RollbackOrder(PlaybookDefinition playbook, RunState run)
    {
        ArgumentNullException.ThrowIfNull(playbook);
        ArgumentNullException.ThrowIfNull(run);
        var index = playbook.Steps.Select((s, i) => (s.Id, i)).ToDictionary(p => p.Id, p => p.i, StringComparer.Ordinal);
        var byId = playbook.Steps.ToDictionary(s => s.Id, StringComparer.Ordinal);
        return [.. run.Steps
            .Where(s => byId.TryGetValue(s.Id, out var step) && step.Compensate is not null
                && s.Status != StepStatus.Compensated
                && s.Targets.Any(t => t.Status is StepStatus.Succeeded or StepStatus.Running))
            .OrderByDescending(s => s.FinishedAt ?? s.StartedAt ?? DateTimeOffset.MaxValue)
            .ThenByDescending(s => index[s.Id])
            .Select(s => s.Id)];
    }

    /// <summary>
    /// The approval a step needs before it runs in a run at <paramref name="confidence"/>: its own
    /// <see cref="PlaybookStep.RequiresApproval"/>; else, for an irreversible step (no compensation) below the
    /// playbook's <see cref="PlaybookDefinition.IrreversibleThreshold"/>, the playbook's
    /// <see cref="PlaybookDefinition.Approval"/>, unless a person approved the whole run already (that answer covers the
    /// playbook's irreversible steps); else none.
    /// </summary>
    /// <param name="playbook">The playbook.</param>
    /// <param name="step">The step.</param>
    /// <param name="confidence">The run's confidence.</param>
    /// <param name="runApproved">Whether a person approved the whole run (it was below the auto threshold).</param>
    /// <returns>The approval to ask for, or <see langword="null"/> to run at once.</returns>
    public static ApprovalRequirement? ApprovalFor(PlaybookDefinition playbook, PlaybookStep step, double confidence, bool runApproved = false)
    {
        ArgumentNullException.ThrowIfNull(playbook);
        ArgumentNullException.ThrowIfNull(step);
        return step.RequiresApproval ?? (!runApproved && !step.Reversible && confidence < playbook.IrreversibleThreshold ? playbook.Approval : null);
    }

    /// <summary>
    /// The <c>Idempotency-Key</c> of every attempt of one call: <c>bwk-</c> and the lower-case hex SHA-256 of the run,
    /// the step and the target joined by line feeds. A compensation uses <c>&lt;step&gt;.compensate</c> as its step.
    /// </summary>
    /// <param name="runId">The run.</param>
    /// <param name="stepId">The step.</param>
    /// <param name="target">The target.</param>
    /// <returns>For example <c>bwk-3f…</c> (68 characters).</returns>
    public static string IdempotencyKey(string runId, string stepId, string target)
    {
        ArgumentNullException.ThrowIfNull(runId);
        ArgumentNullException.ThrowIfNull(stepId);
        ArgumentNullException.ThrowIfNull(target);
        return "bwk-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(runId + "\n" + stepId + "\n" + target)));
    }
}
