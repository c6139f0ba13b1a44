using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Bulwark.Audit;

namespace Bulwark.Server.Ingest;

/// <summary>
/// The replays of this server. One runs at a time: two at once would re-normalize the same snapshots twice, fight over
/// the consumers' offsets, and count two attempts on every quarantine entry they touch. A replay runs to its end whether
/// or not its caller waits; the running one and the last <see cref="Kept"/> finished ones can be read by id
/// (<c>GET /v1/events/replays/{id}</c>), which is how a caller that did not wait learns the outcome. They live in memory
/// only: after a restart the audit log (<c>events.replay</c>, with the replay's id) has each finished one. When the
/// server stops, it waits for the running replay, which stops before its next page.
/// </summary>
internal sealed class Replays(TimeProvider time) : IHostedService
{
    /// <summary>How many finished replays are kept to be read.</summary>
    public const int Kept = 20;

    private readonly Lock _lock = new();
    private readonly LinkedList<ReplayRun> _finished = new();
    private ReplayRun? _running;

    /// <summary>The replay running now, if any.</summary>
    public ReplayRun? Running
    {
        get
        {
            lock (_lock)
            {
                return _running;
            }
        }
    }

    /// <summary>
    /// Starts a replay whose answer begins as <paramref name="result"/>, with <paramref name="work"/> doing it (and
    /// auditing it) in the background. When another is running, nothing starts and that one is returned as
    /// <c>Running</c>. The work's <see cref="OperationCanceledException"/> means the server is stopping; any other
    /// exception, a failure.
    /// </summary>
    public (ReplayRun? Started, ReplayRun? Running) TryStart(JsonObject result, Func<ReplayRun, Task> work)
    {
        ReplayRun run;
        lock (_lock)
        {
            if (_running is { } running)
            {
                return (null, running);
            }

            run = new ReplayRun("rpl_" + RandomNumberGenerator.GetHexString(16, lowercase: true), time.GetUtcNow(), result);
            _running = run;
        }

        _ = Task.Run(async () =>
        {
            var (state, failure) = (ReplayState.Completed, (Exception?)null);
            try
            {
                await work(run).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The outcome is the run's state, read by whoever asks (the waiting caller rethrows it).
            catch (Exception error)
#pragma warning restore CA1031
            {
                (state, failure) = (error is OperationCanceledException ? ReplayState.Stopped : ReplayState.Failed, error);
            }

            // Ended and no longer running in one step: whoever reads it ended may start the next one at once.
            lock (_lock)
            {
                run.End(state, failure, time.GetUtcNow());
                _running = null;
                _finished.AddFirst(run);
                if (_finished.Count > Kept)
                {
                    _finished.RemoveLast();
                }
            }

            run.Finished();
        });
        return (run, null);
    }

    /// <summary>The running replay or a kept finished one with this id; null when this server does not know it.</summary>
    public ReplayRun? Find(string id)
    {
        lock (_lock)
        {
            return _running?.Id == id ? _running : _finished.FirstOrDefault(r => r.Id == id);
        }
    }

    /// <summary>The running replay first, then the finished ones kept, newest first.</summary>
    public IReadOnlyList<ReplayRun> List()
    {
        lock (_lock)
        {
            return [.. (_running is null ? [] : new[] { _running }), .. _finished];
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Waits for the running replay (the stop has told it to stop before its next page), so that the stores outlive it.</summary>
    public Task StopAsync(CancellationToken cancellationToken) =>
        Running is { } run ? run.Completion.WaitAsync(cancellationToken) : Task.CompletedTask;
}

/// <summary>Where a replay is.</summary>
internal enum ReplayState
{
    /// <summary>Still working.</summary>
    Running,

    /// <summary>Did all it was asked (some snapshots may have been left out: <c>failed</c> counts them).</summary>
    Completed,

    /// <summary>The server stopped it part-way (audited as not completed).</summary>
    Stopped,

    /// <summary>The store failed part-way (audited as not completed).</summary>
    Failed,
}

/// <summary>One replay: its answer so far, which its work updates, and how it ended.</summary>
internal sealed class ReplayRun
{
    private readonly Lock _lock = new();
    private readonly JsonObject _result;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private DateTimeOffset? _ended;

    public ReplayRun(string id, DateTimeOffset started, JsonObject result)
    {
        Id = id;
        Started = started;
        _result = result;
        _result.Insert(0, "id", id);
    }

    public string Id { get; }

    public DateTimeOffset Started { get; }

    public ReplayState State { get; private set; } = ReplayState.Running;

    /// <summary>What ended it when it did not complete.</summary>
    public Exception? Error { get; private set; }

    /// <summary>Completes (never faults) once the replay has ended and is no longer the running one.</summary>
    public Task Completion => _finished.Task;

    /// <summary>Changes the answer (the work's counts) under the run's lock.</summary>
    public void Update(Action<JsonObject> change)
    {
        lock (_lock)
        {
            change(_result);
        }
    }

    /// <summary>What the replay was asked and what it did so far (what its audit entry records).</summary>
    public JsonObject Result()
    {
        lock (_lock)
        {
            return (JsonObject)_result.DeepClone();
        }
    }

    /// <summary>The answer as it stands: <see cref="Result"/> with the replay's state and times.</summary>
    public JsonObject Snapshot()
    {
        lock (_lock)
        {
            var copy = (JsonObject)_result.DeepClone();
            copy["state"] = State.ToString().ToLowerInvariant();
            copy["started"] = AuditChain.FormatTime(Started);
            copy["ended"] = _ended is { } ended ? AuditChain.FormatTime(ended) : null;
            return copy;
        }
    }

    internal void End(ReplayState state, Exception? error, DateTimeOffset at)
    {
        lock (_lock)
        {
            (State, Error, _ended) = (state, error, at);
        }
    }

    internal void Finished() => _finished.TrySetResult();
}
