using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Bulwark.Detection.Incidents;
using Bulwark.Response;
using Bulwark.Server.Hosting;
using Bulwark.Storage;

namespace Bulwark.Server.Response;

/// <summary>
/// Carries out playbook runs, durably (WIP: forward path only; rollback and approvals per EXECUTOR-PLAN.md). Every change
/// of a run is stored before the executor acts on it: a call is stored as running (with its idempotency key and attempt)
/// before it goes out and with its outcome after, so after a crash each active run resumes where it stopped, and a call
/// whose outcome is unknown is made again with the same <c>Idempotency-Key</c>. Runs are independent. Waiting is on the
/// server's <see cref="TimeProvider"/>.
/// </summary>
internal sealed partial class RunExecutor(
    IControlStore store,
    PlaybookService playbooks,
    ConnectorService connectors,
    IEnumerable<IActionHandler> handlers,
    TimeProvider time,
    ILogger<RunExecutor> logger) : BackgroundService
{
    public const int MaxParallelCalls = 16;

    public static readonly TimeSpan Sweep = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, IActionHandler> _handlers = handlers.SelectMany(h => h.Actions.Select(a => (a, h))).ToDictionary(p => p.a, p => p.h, StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> _working = new(StringComparer.Ordinal);
    private readonly Channel<string> _woken = Channel.CreateUnbounded<string>();
    private CancellationToken _stopping;

    private readonly ConcurrentDictionary<string, TaskCompletionSource<StoredRun>> _finished = new(StringComparer.Ordinal);

    /// <summary>Completes with the stored run once it has finished (succeeded, failed, denied or rolled back).</summary>
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

    /// <summary>Asks the executor to look at a run now.</summary>
    public void Wake(string runId) => _woken.Writer.TryWrite(runId);

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

    private static bool Due(RunState run, DateTimeOffset now) =>
        run.Status == RunStatus.Running && run.Steps.SelectMany(s => s.Targets).Any(t => t.Status == StepStatus.Pending && t.NextAttemptAt <= now);

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
            if (box.Value.Status != RunStatus.Running)
            {
                return;
            }

            var incident = await store.GetIncidentAsync(box.Value.IncidentId, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"Run {runId} answers incident {box.Value.IncidentId}, which does not exist.");
            var definition = await playbooks.FindAsync(box.Value.Playbook, cancellationToken).ConfigureAwait(false);
            if (definition is null)
            {
                await UpdateAsync(box, r => r with { Status = RunStatus.Failed, Reason = $"playbook '{r.Playbook}' no longer exists" }, "playbook.run.failed", cancellationToken).ConfigureAwait(false);
                return;
            }

            if (!await PassAsync(box, CompiledPlaybook.Compile(definition), incident, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>One pass: plan, start ready steps, make due calls, settle. Returns whether another pass may do more now.</summary>
    private async Task<bool> PassAsync(Box box, CompiledPlaybook playbook, IncidentRecord incident, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var plan = RunPlanner.Plan(playbook.Definition, box.Value);
        var run = RunPlanner.Apply(box.Value, plan, now);
        var outputs = run.Steps.Where(s => s.Status == StepStatus.Succeeded && s.Output is not null).ToDictionary(s => s.Id, s => s.Output!, StringComparer.Ordinal);
        var context = ResponseContext.Create(incident, run.Id, run.Playbook, run.CorrelationId, null, null, outputs);
        foreach (var id in plan.Ready)
        {
            var compiled = playbook.Step(id);
            var step = compiled.Step;
            if (compiled.RunIf is { } condition && !condition.Evaluate(context))
            {
                run = run.WithStep(run.Step(id)! with { Status = StepStatus.Skipped, Reason = "run_if is false: " + condition.Source, FinishedAt = now });
                continue;
            }

            if (RunPlanner.ApprovalFor(playbook.Definition, step, run.Confidence) is not null && run.Step(id)!.ApprovalId is null)
            {
                // WIP: ask through ApprovalService (StoredApproval, audit, expiry); until then the step waits visibly.
                run = run.WithStep(run.Step(id)! with { Status = StepStatus.WaitingApproval, Reason = "needs approval (approvals are not wired yet)" });
                continue;
            }

            IReadOnlyList<string> targets = step.ForEach switch
            {
                StepTargets.Accounts => incident.Accounts,
                StepTargets.Ips => incident.Ips,
                _ => [incident.Id],
            };
            run = run.WithStep(run.Step(id)! with
            {
                Status = StepStatus.Running,
                StartedAt = now,
                Targets = [.. targets.Distinct(StringComparer.Ordinal).Select(t => new TargetState { Target = t, Status = StepStatus.Pending, IdempotencyKey = RunPlanner.IdempotencyKey(run.Id, id, t) })],
            });
        }

        await UpdateAsync(box, _ => run, "playbook.run.step", cancellationToken).ConfigureAwait(false);

        var calls = run.Steps.Where(s => s.Status == StepStatus.Running)
            .SelectMany(s => s.Targets.Where(t => t.Status == StepStatus.Running || (t.Status == StepStatus.Pending && (t.NextAttemptAt is null || t.NextAttemptAt <= now))).Select(t => (Step: s.Id, t.Target)))
            .ToList();
        await Parallel.ForEachAsync(
            calls,
            new ParallelOptions { MaxDegreeOfParallelism = MaxParallelCalls, CancellationToken = cancellationToken },
            async (call, ct) => await CallAsync(box, playbook.Step(call.Step), call.Target, incident, outputs, ct).ConfigureAwait(false)).ConfigureAwait(false);

        // Settle steps whose targets are all finished.
        var settled = box.Value;
        foreach (var step in settled.Steps.Where(s => s.Status == StepStatus.Running && s.Targets.All(t => t.Status is StepStatus.Succeeded or StepStatus.Failed)))
        {
            var failed = step.Targets.Where(t => t.Status == StepStatus.Failed).ToList();
            settled = settled.WithStep(step with
            {
                Status = failed.Count == 0 ? StepStatus.Succeeded : StepStatus.Failed,
                Reason = failed.Count == 0 ? null : $"{failed.Count} of {step.Targets.Count} calls failed: {failed[0].Error}",
                Output = step.Targets.Count == 1 ? step.Targets[0].Output : new JsonObject { ["calls"] = new JsonArray([.. step.Targets.Select(t => (JsonNode)new JsonObject { ["target"] = t.Target, ["output"] = t.Output?.DeepClone() })]) },
                FinishedAt = time.GetUtcNow(),
            });
        }

        var final = RunPlanner.Plan(playbook.Definition, settled);
        settled = RunPlanner.Apply(settled, final, time.GetUtcNow());
        await UpdateAsync(box, _ => settled, final.Finished ? "playbook.run." + ResponseNames.Name(ResponseNames.RunStatuses, final.Status) : "playbook.run.step", cancellationToken).ConfigureAwait(false);
        return !final.Finished && final.Ready.Count > 0;
    }

    /// <summary>Makes one target's call with its retries; each attempt is stored before it goes out and after.</summary>
    private async Task CallAsync(Box box, CompiledStep compiled, string target, IncidentRecord incident, Dictionary<string, JsonObject> outputs, CancellationToken cancellationToken)
    {
        var step = compiled.Step;
        var connector = step.Connector is { } name ? await connectors.FindAsync(name, cancellationToken).ConfigureAwait(false) : null;
        var context = ResponseContext.Create(incident, box.Value.Id, box.Value.Playbook, box.Value.CorrelationId, target, connector?.Platform, outputs);
        var parameters = compiled.With.Render(context);
        while (true)
        {
            TargetState current = null!;
            await UpdateAsync(
                box,
                r =>
                {
                    var s = r.Step(step.Id)!;
                    current = s.Targets.First(t => t.Target == target);
                    current = current with { Status = StepStatus.Running, Attempts = current.Attempts + 1, NextAttemptAt = null };
                    return r.WithStep(s with { Targets = [.. s.Targets.Select(t => t.Target == target ? current : t)] });
                },
                null,
                cancellationToken).ConfigureAwait(false);

            ActionOutcome outcome;
            if (!_handlers.TryGetValue(step.Action, out var handler))
            {
                outcome = ActionOutcome.Failed(RetryOn.None, $"no handler carries out '{step.Action}' on this server");
            }
            else
            {
                var call = new ActionCall
                {
                    RunId = box.Value.Id,
                    Playbook = box.Value.Playbook,
                    StepId = step.Id,
                    Action = step.Action,
                    Target = target,
                    IdempotencyKey = current.IdempotencyKey,
                    CorrelationId = box.Value.CorrelationId,
                    Parameters = (JsonObject)parameters.DeepClone(),
                    Incident = incident,
                    Connector = connector,
                    Timeout = step.Timeout,
                    Attempt = current.Attempts,
                    Previous = current.Output,
                };
                outcome = box.Value.DryRun
                    ? ActionOutcome.Success(output: new JsonObject { ["dry_run"] = true, ["would_send"] = handler.Describe(call) })
                    : await handler.ExecuteAsync(call, cancellationToken).ConfigureAwait(false);
            }

            var now = time.GetUtcNow();
            var retry = !outcome.Succeeded && step.Retry.ShouldRetry(outcome.Failure, current.Attempts);
            var wait = retry ? step.Retry.DelayBeforeRetry(current.Attempts, Random.Shared, outcome.RetryAfter) : TimeSpan.Zero;
            var settledTarget = current with
            {
                Status = outcome.Succeeded ? StepStatus.Succeeded : retry ? StepStatus.Pending : StepStatus.Failed,
                NextAttemptAt = retry ? now + wait : null,
                HttpStatus = outcome.HttpStatus,
                Error = outcome.Error,
                Output = outcome.Output ?? current.Output,
            };
            await UpdateAsync(
                box,
                r =>
                {
                    var s = r.Step(step.Id)!;
                    return r.WithStep(s with { Targets = [.. s.Targets.Select(t => t.Target == target ? settledTarget : t)] });
                },
                null,
                cancellationToken).ConfigureAwait(false);
            if (!retry || wait > Sweep * 5)
            {
                return; // finished, or a long backoff left to the sweep (stored as pending with its due time)
            }

            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Applies a change to the run and stores it; the snapshot is taken on the store's writer, so the last commit is the newest state.</summary>
    private async Task UpdateAsync(Box box, Func<RunState, RunState> change, string? auditAction, CancellationToken cancellationToken)
    {
        lock (box)
        {
            box.Value = change(box.Value) with { UpdatedAt = time.GetUtcNow() };
        }

        var context = ChangeContext.System("playbook/" + box.Value.Playbook, box.Value.CorrelationId);
        var saved = await store.WriteAsync(
            tx =>
            {
                RunState run;
                lock (box)
                {
                    run = box.Value;
                }

                var before = tx.GetRun(run.Id);
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
                tx.Append(context.Draft(auditAction ?? "playbook.run.call", "run/" + run.Id, auditAction is null ? null : before?.Document, document));
                return stored;
            },
            CancellationToken.None).ConfigureAwait(false);
        if (!saved.Active && _finished.TryRemove(saved.Id, out var waiter))
        {
            waiter.TrySetResult(saved); // only runs someone waits for are remembered
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Playbook run {Run} stopped with an error; its stored state is kept and the sweep tries again")]
    private static partial void LogRunError(ILogger logger, string run, Exception error);
}
