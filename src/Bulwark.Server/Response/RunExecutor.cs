using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Bulwark.Detection.Incidents;
using Bulwark.Identity;
using Bulwark.Response;
using Bulwark.Server.Hosting;
using Bulwark.Storage;

namespace Bulwark.Server.Response;

/// <summary>
/// Carries out playbook runs, durably. Every change of a run is stored before the executor acts on it: a call is stored
/// as running (with its idempotency key and attempt) before it goes out and with its outcome after, so after a crash
/// each active run resumes where it stopped, and a call whose outcome is unknown is made again with the same
/// <c>Idempotency-Key</c>. A run below its playbook's auto threshold, or a step that needs approval, waits for an
/// <see cref="Approval"/> (asked in the transaction that makes it wait; the answer is read from the store when the
/// executor is woken). A rollback (<see cref="RunState.Rollback"/>, asked through the store by
/// <see cref="RollbackService"/>) skips what has not run and runs the compensations in reverse order, each with its own
/// key. Runs are independent. Waiting is on the server's <see cref="TimeProvider"/>.
/// </summary>
internal sealed partial class RunExecutor(
    IControlStore store,
    PlaybookService playbooks,
    ConnectorService connectors,
    IEnumerable<IActionHandler> handlers,
    IRandomSource random,
    TimeProvider time,
    Metrics.ServerInstruments instruments,
    ILogger<RunExecutor> logger) : BackgroundService
{
    private readonly System.Diagnostics.Metrics.Counter<long> _runs =
        instruments.Meter.CreateCounter<long>("bulwark.playbook.runs", "{run}", "Playbook runs that ended, by playbook and status (succeeded, failed, denied, rolled_back, rollback_failed)");

    private readonly System.Diagnostics.Metrics.Counter<long> _calls =
        instruments.Meter.CreateCounter<long>("bulwark.playbook.calls", "{call}", "Calls of playbook steps and compensations, by action and outcome (succeeded, retrying, failed)");

    public const int MaxParallelCalls = 16;

    public static readonly TimeSpan Sweep = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, IActionHandler> _handlers = handlers.SelectMany(h => h.Actions.Select(a => (a, h))).ToDictionary(p => p.a, p => p.h, StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> _working = new(StringComparer.Ordinal);
    private readonly Channel<string> _woken = Channel.CreateUnbounded<string>();
    private CancellationToken _stopping;

    private readonly ConcurrentDictionary<string, TaskCompletionSource<StoredRun>> _finished = new(StringComparer.Ordinal);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<Task, bool> _sideWork = new();

    /// <summary>Completes with the stored run once it has finished (succeeded, failed, denied, rolled back or failed to roll back).</summary>
    public async Task<StoredRun> WhenFinishedAsync(string runId, CancellationToken cancellationToken)
    {
        var waiter = _finished.GetOrAdd(runId, _ => new TaskCompletionSource<StoredRun>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (await store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false) is { Active: false } done)
        {
            _finished.TryRemove(runId, out _);
            waiter.TrySetResult(done);
        }

        return await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Completes at the next stored change of any run. To wait for a condition without missing a change, take this
    /// task first, then read the run, then await it.
    /// </summary>
    public Task NextChange => Volatile.Read(ref _changed).Task;

    /// <summary>Asks the executor to look at a run now.</summary>
    public void Wake(string runId) => _woken.Writer.TryWrite(runId);

    /// <summary>A new id with a prefix (<c>run_</c>, <c>apr_</c>) and 80 random bits.</summary>
    public static string NewId(IRandomSource random, string prefix)
    {
        ArgumentNullException.ThrowIfNull(random);
        Span<byte> bytes = stackalloc byte[10];
        random.Fill(bytes);
        return prefix + Convert.ToHexStringLower(bytes);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        foreach (var run in await store.ListActiveRunsAsync(stoppingToken).ConfigureAwait(false))
        {
            Wake(run.Id);
        }

        using var sweep = new PeriodicTimer(Sweep, time);
        var tick = sweep.WaitForNextTickAsync(stoppingToken).AsTask();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var read = _woken.Reader.WaitToReadAsync(stoppingToken).AsTask();
                if (await Task.WhenAny(read, tick).ConfigureAwait(false) == tick)
                {
                    await tick.ConfigureAwait(false);
                    tick = sweep.WaitForNextTickAsync(stoppingToken).AsTask();
                    foreach (var run in await store.ListActiveRunsAsync(stoppingToken).ConfigureAwait(false))
                    {
                        if (Due(RunState.Read(run.Document), time.GetUtcNow()))
                        {
                            Start(run.Id);
                        }
                    }
                }

                while (_woken.Reader.TryRead(out var id))
                {
                    Start(id);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Whether a retry of a running or rolling-back run is due (everything else is woken when it changes).</summary>
    private static bool Due(RunState run, DateTimeOffset now) =>
        run.Status is RunStatus.Running or RunStatus.RollingBack
        && run.Steps.SelectMany(s => s.Targets.Concat(s.Compensations)).Any(t => t.Status == StepStatus.Pending && t.NextAttemptAt <= now);

    private void Start(string runId)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_working.TryAdd(runId, done.Task))
        {
            _ = _working[runId].ContinueWith(_ => Wake(runId), TaskScheduler.Default);
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await AdvanceAsync(runId, _stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
            }
#pragma warning disable CA1031 // One run's failure is logged; its stored state is kept and the sweep tries again.
            catch (Exception error)
#pragma warning restore CA1031
            {
                LogRunError(logger, runId, error);
            }
            finally
            {
                _working.TryRemove(runId, out _);
                done.SetResult();
            }
        });
    }

    /// <summary>The run being worked on, replaced immutably under its lock.</summary>
    private sealed class Box(RunState value)
    {
        public RunState Value { get; set; } = value;
    }

    private async Task AdvanceAsync(string runId, CancellationToken cancellationToken)
    {
        for (var round = 0; round < 1000; round++)
        {
            var stored = await store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
            if (stored is null || !stored.Active)
            {
                return;
            }

            var box = new Box(RunState.Read(stored.Document));
            var incident = await store.GetIncidentAsync(box.Value.IncidentId, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"Run {runId} answers incident {box.Value.IncidentId}, which does not exist.");
            var definition = await playbooks.FindAsync(box.Value.Playbook, cancellationToken).ConfigureAwait(false);
            if (definition is null)
            {
                await UpdateAsync(box, r => r with { Status = RunStatus.Failed, Reason = $"playbook '{r.Playbook}' no longer exists" }, "playbook.run.failed", cancellationToken).ConfigureAwait(false);
                return;
            }

            var playbook = CompiledPlaybook.Compile(definition);
            var more = box.Value.Status switch
            {
                RunStatus.WaitingApproval => await RunApprovalAsync(box, playbook, cancellationToken).ConfigureAwait(false),
                RunStatus.Running => await PassAsync(box, playbook, incident, cancellationToken).ConfigureAwait(false),
                RunStatus.RollingBack => await RollbackPassAsync(box, playbook, incident, cancellationToken).ConfigureAwait(false),
                _ => false,
            };
            if (!more)
            {
                return;
            }
        }
    }

    /// <summary>A run waiting for its run-level approval: asks (once), or applies the answer. Returns whether to go on now.</summary>
    private async Task<bool> RunApprovalAsync(Box box, CompiledPlaybook playbook, CancellationToken cancellationToken)
    {
        var run = box.Value;
        if (run.ApprovalId is null)
        {
            var asked = Approval.Ask(NewId(random, "apr_"), run, null, playbook.Definition.Approval, Question(run, null), time.GetUtcNow());
            await UpdateAsync(box, r => r with { ApprovalId = asked.Id }, "playbook.run.wait", cancellationToken, tx => ApprovalService.Ask(tx, asked, run.CorrelationId)).ConfigureAwait(false);
            return false;
        }

        var approval = await store.GetApprovalAsync(run.ApprovalId, cancellationToken).ConfigureAwait(false) is { } stored ? Approval.Read(stored) : null;
        if (approval is null || approval.Open)
        {
            return false;
        }

        if (approval.Status == ApprovalStatus.Approved)
        {
            await UpdateAsync(box, r => r with { Status = RunStatus.Running, Reason = $"approved by {approval.AnsweredBy}" }, "playbook.run.approved", cancellationToken).ConfigureAwait(false);
            return true;
        }

        var now = time.GetUtcNow();
        await UpdateAsync(
            box,
            r => r with
            {
                Status = RunStatus.Denied,
                Reason = approval.Refusal,
                Steps = [.. r.Steps.Select(s => s.Status == StepStatus.Pending ? s with { Status = StepStatus.Denied, Reason = approval.Refusal, FinishedAt = now } : s)],
            },
            "playbook.run.denied",
            cancellationToken).ConfigureAwait(false);
        return false;
    }

    /// <summary>What a run asks people: the whole run (no step), or one step.</summary>
    public static string Question(RunState run, PlaybookStep? step) => step is null
        ? $"Run playbook '{run.Playbook}' for incident {run.IncidentId}? Its confidence {Math.Round(run.Confidence, 4)} is below the playbook's auto threshold."
        : $"Run step '{step.Id}' ({step.Action}{(step.Reversible ? string.Empty : ", irreversible")}) of playbook '{run.Playbook}' for incident {run.IncidentId}?";

    /// <summary>One pass: plan, start ready steps, make due calls, settle. Returns whether another pass may do more now.</summary>
    private async Task<bool> PassAsync(Box box, CompiledPlaybook playbook, IncidentRecord incident, CancellationToken cancellationToken)
    {
        // Answers to the questions steps wait for, read before planning.
        var answers = new Dictionary<string, Approval>(StringComparer.Ordinal);
        foreach (var waiting in box.Value.Steps.Where(s => s.Status == StepStatus.WaitingApproval && s.ApprovalId is not null))
        {
            if (await store.GetApprovalAsync(waiting.ApprovalId!, cancellationToken).ConfigureAwait(false) is { } stored && Approval.Read(stored) is { Open: false } answer)
            {
                answers[waiting.Id] = answer;
            }
        }

        var now = time.GetUtcNow();
        var run = box.Value;
        var toStart = new List<string>();
        foreach (var (stepId, answer) in answers)
        {
            if (answer.Status == ApprovalStatus.Approved)
            {
                toStart.Add(stepId);
            }
            else
            {
                run = run.WithStep(run.Step(stepId)! with { Status = StepStatus.Denied, Reason = answer.Refusal, FinishedAt = now });
            }
        }

        var plan = RunPlanner.Plan(playbook.Definition, run);
        run = RunPlanner.Apply(run, plan, now);
        var outputs = Outputs(run);
        var context = ResponseContext.Create(incident, run.Id, run.Playbook, run.CorrelationId, null, null, outputs);
        var asked = new List<Approval>();
        var dryRunApprovals = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var id in plan.Ready)
        {
            var compiled = playbook.Step(id);
            var step = compiled.Step;
            if (compiled.RunIf is { } condition && !condition.Evaluate(context))
            {
                run = run.WithStep(run.Step(id)! with { Status = StepStatus.Skipped, Reason = "run_if is false: " + condition.Source, FinishedAt = now });
                continue;
            }

            // A running run with a run-level question was approved: that answer covers its irreversible steps. The
            // on_failure steps (telling people that the run failed) never wait.
            if (!playbook.Definition.OnFailure.Contains(step)
                && RunPlanner.ApprovalFor(playbook.Definition, step, run.Confidence, runApproved: run.ApprovalId is not null) is { } requirement)
            {
                if (run.DryRun)
                {
                    // A dry run asks nobody: it records whom a real run would ask, and goes on.
                    toStart.Add(id);
                    dryRunApprovals[id] = $"dry run; a real run would wait for approval by {string.Join(" or ", requirement.Roles.Select(Roles.Name))}";
                    continue;
                }

                var approval = Approval.Ask(NewId(random, "apr_"), run, id, requirement, Question(run, step), now);
                asked.Add(approval);
                run = run.WithStep(run.Step(id)! with { Status = StepStatus.WaitingApproval, ApprovalId = approval.Id, Reason = $"waiting for approval {approval.Id} by {string.Join(" or ", approval.Roles.Select(Roles.Name))}" });
                continue;
            }

            toStart.Add(id);
        }

        foreach (var id in toStart)
        {
            IReadOnlyList<string> targets = playbook.Step(id).Step.ForEach switch
            {
                StepTargets.Accounts => run.Accounts ?? incident.Accounts,
                StepTargets.Ips => run.Ips ?? incident.Ips,
                _ => [incident.Id],
            };
            run = run.WithStep(run.Step(id)! with
            {
                Status = StepStatus.Running,
                Reason = dryRunApprovals.GetValueOrDefault(id),
                StartedAt = now,
                Targets = [.. targets.Distinct(StringComparer.Ordinal).Select(t => new TargetState { Target = t, Status = StepStatus.Pending, IdempotencyKey = RunPlanner.IdempotencyKey(run.Id, id, t) })],
            });
        }

        var ready = run;
        await UpdateAsync(
            box,
            _ => ready,
            "playbook.run.step",
            cancellationToken,
            asked.Count == 0 ? null : tx => asked.ForEach(a => ApprovalService.Ask(tx, a, ready.CorrelationId))).ConfigureAwait(false);

        await CallDueAsync(box, playbook, incident, outputs, compensation: false, box.Value.Steps.Where(s => s.Status == StepStatus.Running).Select(s => s.Id), now, cancellationToken).ConfigureAwait(false);

        // Settle steps whose calls are all finished.
        var settled = box.Value;
        foreach (var step in settled.Steps.Where(s => s.Status == StepStatus.Running && s.Targets.All(t => t.Status is StepStatus.Succeeded or StepStatus.Failed)))
        {
            var failed = step.Targets.Where(t => t.Status == StepStatus.Failed).ToList();
            settled = settled.WithStep(step with
            {
                Status = failed.Count == 0 ? StepStatus.Succeeded : StepStatus.Failed,
                Reason = failed.Count == 0 ? step.Reason : $"{failed.Count} of {step.Targets.Count} calls failed: {failed[0].Error}",
                Output = step.Targets.Count == 1 ? step.Targets[0].Output : new JsonObject { ["calls"] = new JsonArray([.. step.Targets.Select(t => (JsonNode)new JsonObject { ["target"] = t.Target, ["output"] = t.Output?.DeepClone() })]) },
                FinishedAt = time.GetUtcNow(),
            });
        }

        var final = RunPlanner.Plan(playbook.Definition, settled);
        settled = RunPlanner.Apply(settled, final, time.GetUtcNow());
        await UpdateAsync(box, _ => settled, final.Finished ? "playbook.run." + ResponseNames.Name(ResponseNames.RunStatuses, final.Status) : "playbook.run.step", cancellationToken).ConfigureAwait(false);

        // A rollback asked for during the pass (merged in by UpdateAsync) is taken on the next round.
        return box.Value.Status == RunStatus.RollingBack || (!final.Finished && final.Ready.Count > 0);
    }

    /// <summary>
    /// One rollback pass: skip what has not run (cancelling its questions), then compensate the steps that acted, in
    /// <see cref="RunPlanner.RollbackOrder"/>, one step at a time. A compensation waiting for a long retry ends the pass
    /// (the sweep resumes it); the run ends <see cref="RunStatus.RolledBack"/>, or <see cref="RunStatus.RollbackFailed"/>
    /// when a compensation failed after its retries. Returns whether to go on now.
    /// </summary>
    private async Task<bool> RollbackPassAsync(Box box, CompiledPlaybook playbook, IncidentRecord incident, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var run = box.Value;
        var cancel = new List<string>();
        const string NotRun = "not run: the run was rolled back";
        if (run.ApprovalId is { } runApproval)
        {
            cancel.Add(runApproval);
        }

        foreach (var step in run.Steps)
        {
            switch (step.Status)
            {
                case StepStatus.Pending:
                    run = run.WithStep(step with { Status = StepStatus.Skipped, Reason = NotRun, FinishedAt = now });
                    break;
                case StepStatus.WaitingApproval:
                    run = run.WithStep(step with { Status = StepStatus.Skipped, Reason = NotRun, FinishedAt = now });
                    if (step.ApprovalId is { } stepApproval)
                    {
                        cancel.Add(stepApproval);
                    }

                    break;
                case StepStatus.Running:
                    // Calls waiting for a retry are not retried; a call whose outcome is unknown is compensated.
                    var stopped = step with { Targets = [.. step.Targets.Select(t => t.Status == StepStatus.Pending ? t with { Status = StepStatus.Failed, Error = "not retried: the run was rolled back", NextAttemptAt = null } : t)] };
                    run = run.WithStep(stopped with
                    {
                        Status = stopped.Targets.All(t => t.Status == StepStatus.Succeeded) ? StepStatus.Succeeded : StepStatus.Failed,
                        Reason = stopped.Targets.All(t => t.Status == StepStatus.Succeeded) ? null : "stopped by the rollback",
                        FinishedAt = now,
                    });
                    break;
            }
        }

        var stopping = run;
        await UpdateAsync(
            box,
            _ => stopping,
            null,
            cancellationToken,
            cancel.Count == 0 ? null : tx => cancel.ForEach(a => ApprovalService.Cancel(tx, a, "the run was rolled back", stopping.CorrelationId))).ConfigureAwait(false);

        var outputs = Outputs(box.Value);
        foreach (var stepId in RunPlanner.RollbackOrder(playbook.Definition, box.Value))
        {
            var step = box.Value.Step(stepId)!;
            if (step.Compensations.Count == 0)
            {
                var calls = step.Targets.Where(t => t.Status is StepStatus.Succeeded or StepStatus.Running)
                    .Select(t => new TargetState { Target = t.Target, Status = StepStatus.Pending, IdempotencyKey = RunPlanner.IdempotencyKey(box.Value.Id, stepId + ".compensate", t.Target) })
                    .ToList();
                await UpdateAsync(box, r => r.WithStep(r.Step(stepId)! with { Compensations = calls }), null, cancellationToken).ConfigureAwait(false);
            }

            await CallDueAsync(box, playbook, incident, outputs, compensation: true, [stepId], time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            step = box.Value.Step(stepId)!;
            if (step.Compensations.Any(c => c.Status is StepStatus.Pending or StepStatus.Running))
            {
                return false; // a long retry wait: the sweep resumes the rollback here, in order
            }

            var failed = step.Compensations.Where(c => c.Status == StepStatus.Failed).ToList();
            await UpdateAsync(
                box,
                r => r.WithStep(r.Step(stepId)! with
                {
                    Status = failed.Count == 0 ? StepStatus.Compensated : r.Step(stepId)!.Status,
                    Reason = failed.Count == 0 ? r.Step(stepId)!.Reason : $"{failed.Count} of {step.Compensations.Count} compensations failed: {failed[0].Error}",
                }),
                null,
                cancellationToken).ConfigureAwait(false);
        }

        var unfinished = box.Value.Steps.Where(s => s.Compensations.Any(c => c.Status == StepStatus.Failed)).Select(s => $"'{s.Id}'").ToList();
        var status = unfinished.Count == 0 ? RunStatus.RolledBack : RunStatus.RollbackFailed;
        var irreversible = box.Value.Steps.Where(s => s.Status == StepStatus.Succeeded && playbook.Step(s.Id).Step.Compensate is null).Select(s => $"'{s.Id}'").ToList();
        await UpdateAsync(
            box,
            r => r with
            {
                Status = status,
                Reason = (unfinished.Count == 0 ? $"rolled back by {r.Rollback?.RequestedBy}" : $"the compensation of {string.Join(", ", unfinished)} failed")
                    + (irreversible.Count == 0 ? string.Empty : $"; {string.Join(", ", irreversible)} cannot be undone"),
            },
            "playbook.run." + ResponseNames.Name(ResponseNames.RunStatuses, status),
            cancellationToken).ConfigureAwait(false);
        return false;
    }

    private static Dictionary<string, JsonObject> Outputs(RunState run) =>
        run.Steps.Where(s => s.Status is StepStatus.Succeeded or StepStatus.Compensated && s.Output is not null).ToDictionary(s => s.Id, s => s.Output!, StringComparer.Ordinal);

    /// <summary>Makes the due calls of some steps, forward or compensation, in parallel (bounded).</summary>
    private Task CallDueAsync(Box box, CompiledPlaybook playbook, IncidentRecord incident, Dictionary<string, JsonObject> outputs, bool compensation, IEnumerable<string> stepIds, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var calls = stepIds.Select(id => box.Value.Step(id)!)
            .SelectMany(s => s.Calls(compensation).Where(t => t.Status == StepStatus.Running || (t.Status == StepStatus.Pending && (t.NextAttemptAt is null || t.NextAttemptAt <= now))).Select(t => (Step: s.Id, t.Target)))
            .ToList();
        return Parallel.ForEachAsync(
            calls,
            new ParallelOptions { MaxDegreeOfParallelism = MaxParallelCalls, CancellationToken = cancellationToken },
            async (call, ct) => await CallAsync(box, playbook.Step(call.Step), call.Target, incident, outputs, compensation, ct).ConfigureAwait(false));
    }

    /// <summary>Makes one call with its retries; each attempt is stored before it goes out and after.</summary>
    private async Task CallAsync(Box box, CompiledStep compiled, string target, IncidentRecord incident, Dictionary<string, JsonObject> outputs, bool compensation, CancellationToken cancellationToken)
    {
        var step = compiled.Step;
        var action = compensation ? step.Compensate!.Action : step.Action;
        var connector = step.Connector is { } name ? await connectors.FindAsync(name, cancellationToken).ConfigureAwait(false) : null;
        var context = ResponseContext.Create(incident, box.Value.Id, box.Value.Playbook, box.Value.CorrelationId, target, connector?.Platform, outputs);
        var parameters = compensation ? compiled.CompensateWith!.Render(context) : compiled.With.Render(context);
        var forward = compensation ? box.Value.Step(step.Id)!.Targets.FirstOrDefault(t => t.Target == target)?.Output : null;
        while (true)
        {
            TargetState current = null!;
            await UpdateAsync(
                box,
                r =>
                {
                    var s = r.Step(step.Id)!;
                    current = s.Calls(compensation).First(t => t.Target == target);
                    current = current with { Status = StepStatus.Running, Attempts = current.Attempts + 1, NextAttemptAt = null };
                    return r.WithStep(s.WithCall(current, compensation));
                },
                null,
                cancellationToken).ConfigureAwait(false);

            ActionOutcome outcome;
            if (!_handlers.TryGetValue(action, out var handler))
            {
                outcome = ActionOutcome.Failed(RetryOn.None, $"no handler carries out '{action}' on this server");
            }
            else
            {
                var call = new ActionCall
                {
                    RunId = box.Value.Id,
                    Playbook = box.Value.Playbook,
                    StepId = compensation ? step.Id + ".compensate" : step.Id,
                    Action = action,
                    Target = target,
                    IdempotencyKey = current.IdempotencyKey,
                    CorrelationId = box.Value.CorrelationId,
                    Parameters = (JsonObject)parameters.DeepClone(),
                    Incident = incident,
                    Connector = connector,
                    Timeout = step.Timeout,
                    Attempt = current.Attempts,

                    // A compensation gets what the forward call left (the state it found, the ticket it filed).
                    Previous = compensation ? forward : current.Output,
                };
                outcome = box.Value.DryRun
                    ? ActionOutcome.Success(output: new JsonObject { ["dry_run"] = true, ["would_send"] = handler.Describe(call) })
                    : await ExecuteAsync(handler, call, cancellationToken).ConfigureAwait(false);
            }

            var now = time.GetUtcNow();
            var retry = !outcome.Succeeded && step.Retry.ShouldRetry(outcome.Failure, current.Attempts);
            var wait = retry ? step.Retry.DelayBeforeRetry(current.Attempts, Random.Shared, outcome.RetryAfter) : TimeSpan.Zero;
            var settledCall = current with
            {
                Status = outcome.Succeeded ? StepStatus.Succeeded : retry ? StepStatus.Pending : StepStatus.Failed,
                NextAttemptAt = retry ? now + wait : null,
                HttpStatus = outcome.HttpStatus,
                Error = outcome.Error,
                Output = outcome.Output ?? current.Output,
            };
            await UpdateAsync(box, r => r.WithStep(r.Step(step.Id)!.WithCall(settledCall, compensation)), null, cancellationToken).ConfigureAwait(false);
            _calls.Add(1, new("action", action), new("outcome", outcome.Succeeded ? "succeeded" : retry ? "retrying" : "failed"));

            // Finished; or a long backoff left to the sweep (stored as pending with its due time); or a rollback was
            // asked for meanwhile, which stops forward retries.
            if (!retry || wait > Sweep * 5 || (!compensation && box.Value.Status == RunStatus.RollingBack))
            {
                return;
            }

            // Until the stored due time (not for the wait itself): a clock that moved meanwhile is honoured.
            var left = settledCall.NextAttemptAt!.Value - time.GetUtcNow();
            if (left > TimeSpan.Zero)
            {
                await Task.Delay(left, time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// After an incident is resolved: resolves the PagerDuty alert of every <c>notify.pagerduty</c> step of its runs that
    /// triggered one and was not compensated, in the background (each call retried per its step's policy, with its own
    /// key, audited as <c>playbook.alert.resolve</c>). Best effort: a process that stops first leaves the alert open,
    /// and a rollback of the run resolves it again harmlessly (PagerDuty drops a resolve of a resolved alert).
    /// </summary>
    public void ResolveAlerts(string incidentId)
    {
        var work = Task.Run(async () =>
        {
            try
            {
                await ResolveAlertsAsync(incidentId, _stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
            }
#pragma warning disable CA1031 // Logged: the incident is resolved whatever happens to its alerts.
            catch (Exception error)
#pragma warning restore CA1031
            {
                LogRunError(logger, incidentId, error);
            }
        });
        _sideWork[work] = true;
        _ = work.ContinueWith(t => _sideWork.TryRemove(t, out _), TaskScheduler.Default);
    }

    /// <summary>Completes when the background work started by <see cref="ResolveAlerts"/> so far is done.</summary>
    public Task WhenSideWorkDoneAsync() => Task.WhenAll(_sideWork.Keys);

    private async Task ResolveAlertsAsync(string incidentId, CancellationToken cancellationToken)
    {
        var incident = await store.GetIncidentAsync(incidentId, cancellationToken).ConfigureAwait(false);
        if (incident is null || !_handlers.TryGetValue(PagerDutyResolve, out var handler))
        {
            return;
        }

        foreach (var stored in await store.ListRunsAsync(new RunQuery(IncidentId: incidentId, Limit: 1000), cancellationToken).ConfigureAwait(false))
        {
            var run = RunState.Read(stored.Value.Document);
            var definition = await playbooks.FindAsync(run.Playbook, cancellationToken).ConfigureAwait(false);
            if (definition is null || run.DryRun)
            {
                continue;
            }

            foreach (var step in definition.AllSteps.Where(s => s.Action == "notify.pagerduty"))
            {
                if (run.Step(step.Id) is not { } state || state.Compensations.Count > 0 || !state.Targets.Any(t => t.Status == StepStatus.Succeeded))
                {
                    continue;
                }

                var connector = step.Connector is { } name ? await connectors.FindAsync(name, cancellationToken).ConfigureAwait(false) : null;
                var outcome = ActionOutcome.Failed(RetryOn.None, "not called");
                for (var attempt = 1; ; attempt++)
                {
                    outcome = await ExecuteAsync(
                        handler,
                        new ActionCall
                        {
                            RunId = run.Id,
                            Playbook = run.Playbook,
                            StepId = step.Id + ".resolve",
                            Action = PagerDutyResolve,
                            Target = incident.Id,
                            IdempotencyKey = RunPlanner.IdempotencyKey(run.Id, step.Id + ".resolve", incident.Id),
                            CorrelationId = run.CorrelationId,
                            Parameters = [],
                            Incident = incident,
                            Connector = connector,
                            Timeout = step.Timeout,
                            Attempt = attempt,
                            Previous = state.Targets[0].Output,
                        },
                        cancellationToken).ConfigureAwait(false);
                    if (outcome.Succeeded || !step.Retry.ShouldRetry(outcome.Failure, attempt))
                    {
                        break;
                    }

                    await Task.Delay(step.Retry.DelayBeforeRetry(attempt, Random.Shared, outcome.RetryAfter), time, cancellationToken).ConfigureAwait(false);
                }

                var after = new JsonObject { ["run_id"] = run.Id, ["step"] = step.Id, ["succeeded"] = outcome.Succeeded, ["http_status"] = outcome.HttpStatus, ["error"] = outcome.Error };
                await store.WriteAsync(
                    tx =>
                    {
                        tx.Append(ChangeContext.System("playbook/" + run.Playbook, run.CorrelationId).Draft("playbook.alert.resolve", "run/" + run.Id, null, after));
                        return true;
                    },
                    CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private const string PagerDutyResolve = "notify.pagerduty_resolve";

    /// <summary>A handler that throws (a defect) fails its call visibly rather than leaving it running.</summary>
    private async Task<ActionOutcome> ExecuteAsync(IActionHandler handler, ActionCall call, CancellationToken cancellationToken)
    {
        try
        {
            return await handler.ExecuteAsync(call, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // A defect in one handler fails its call, not the executor.
        catch (Exception error)
#pragma warning restore CA1031
        {
            LogHandlerError(logger, call.Action, call.RunId, error);
            return ActionOutcome.Failed(RetryOn.None, $"the handler of '{call.Action}' failed: {error.GetType().Name}");
        }
    }

    /// <summary>
    /// Applies a change to the run and stores it (with <paramref name="also"/>, in the same transaction); the snapshot
    /// is taken on the store's writer, so the last commit is the newest state. A rollback asked for through the store
    /// while the run was being worked on is merged in, never overwritten.
    /// </summary>
    private async Task UpdateAsync(Box box, Func<RunState, RunState> change, string? auditAction, CancellationToken cancellationToken, Action<IWriteTransaction>? also = null)
    {
        lock (box)
        {
            box.Value = change(box.Value) with { UpdatedAt = time.GetUtcNow() };
        }

        var context = ChangeContext.System("playbook/" + box.Value.Playbook, box.Value.CorrelationId);
        var ended = false;
        var saved = await store.WriteAsync(
            tx =>
            {
                var before = tx.GetRun(box.Value.Id);
                RunState run;
                lock (box)
                {
                    if (box.Value.Rollback is null && before?.Document["rollback"] is JsonObject requested)
                    {
                        box.Value = box.Value with { Rollback = RollbackRequest.Read(requested), Status = RunStatus.RollingBack };
                    }

                    run = box.Value;
                }

                var document = run.ToDocument();
                var stored = new StoredRun
                {
                    Id = run.Id,
                    Playbook = run.Playbook,
                    IncidentId = run.IncidentId,
                    Status = ResponseNames.Name(ResponseNames.RunStatuses, run.Status),
                    Active = !run.Finished,
                    CreatedAt = before?.CreatedAt ?? run.CreatedAt,
                    UpdatedAt = run.UpdatedAt,
                    Document = document,
                };
                tx.PutRun(stored);
                also?.Invoke(tx);
                ended = before is { Active: true } && !stored.Active;
                tx.Append(context.Draft(auditAction ?? "playbook.run.call", "run/" + run.Id, auditAction is null ? null : before?.Document, document));
                return stored;
            },
            CancellationToken.None).ConfigureAwait(false);
        if (ended)
        {
            _runs.Add(1, new("playbook", saved.Playbook), new("status", saved.Status));
            if (saved.Status is "failed" or "rollback_failed")
            {
                LogRunFailed(logger, saved.Id, saved.Playbook, saved.IncidentId, saved.Status);
            }
        }

        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        if (!saved.Active && _finished.TryRemove(saved.Id, out var waiter))
        {
            waiter.TrySetResult(saved); // only runs someone waits for are remembered
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Playbook run {Run} stopped with an error; its stored state is kept and the sweep tries again")]
    private static partial void LogRunError(ILogger logger, string run, Exception error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Playbook run {Run} of {Playbook} for incident {Incident} ended {Status}")]
    private static partial void LogRunFailed(ILogger logger, string run, string playbook, string incident, string status);

    [LoggerMessage(Level = LogLevel.Error, Message = "The handler of {Action} threw in run {Run}; the call fails")]
    private static partial void LogHandlerError(ILogger logger, string action, string run, Exception error);
}
