using Bulwark.Ingest;

namespace Bulwark.Server.Ingest;

/// <summary>
/// Normalizes raw snapshots in arrival order, after they were acknowledged. It reads up to <see cref="Batch"/> snapshots
/// at a time and records their events, quarantine entries and the worker's offset in one transaction (one flush for the
/// lot), so a crash anywhere repeats at most the batch in hand (and the event log dedupes its events). After a failed
/// write it goes one snapshot at a time until it is past the failure, so one bad snapshot holds back only itself and
/// what follows — for <see cref="MaxAttempts"/> tries: a snapshot whose events the log still refuses then is quarantined
/// with the store's reason (nothing is dropped; <c>POST /v1/quarantine/{id}/retry</c> records it after a fix), and the
/// snapshots behind it go on. If the quarantine cannot be written either, the store is down, and the worker keeps
/// retrying. A normalizer that throws is a bug, not a reason to stop: the snapshot is quarantined.
/// </summary>
internal sealed partial class NormalizerWorker(
    IEventStore events, SourceRegistry sources, IngestInstruments instruments, TimeProvider time, ILogger<NormalizerWorker> logger) : BackgroundService
{
    public const string Consumer = "normalizer";
    public const int Batch = 256;

    /// <summary>How many times one snapshot is tried, one at a time, before it goes to the quarantine.</summary>
    public const int MaxAttempts = 5;

    /// <summary>
    /// How long a round waits, once a snapshot has arrived, for more to arrive before it reads (unless a whole batch is
    /// already there). At moderate rates a round would otherwise take one or two snapshots, and each round costs an
    /// <c>events.db</c> commit and a round of every consumer with a commit of its own: at 5,000 deliveries/s that was
    /// about 3,000 flushes a second. Real time, not the server's clock: it groups work, it does not schedule anything.
    /// </summary>
    public static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(5);

    /// <summary>How long the worker pauses after a failed round before it tries again.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);
    private readonly ProgressSignal _normalized = new();
    private TaskCompletionSource _paused = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The sequence number of the last snapshot this worker has recorded.</summary>
    public long Normalized => _normalized.Position;

    /// <summary>Completes once the worker has recorded every snapshot up to <paramref name="seq"/>.</summary>
    public Task WhenNormalizedAsync(long seq, CancellationToken cancellationToken) => _normalized.WhenAtLeastAsync(seq, cancellationToken);

    /// <summary>
    /// Completes when the worker next pauses after a failure, its wake-up timer already set: a test on a fake clock can
    /// advance it by <see cref="RetryAfter"/> at once.
    /// </summary>
    public Task NextPauseAsync() => Volatile.Read(ref _paused).Task;

    /// <summary>
    /// Normalizes one snapshot with its source's current definition and records the outcome, outside the worker's order
    /// (a replay, a quarantine retry): the worker's offset stays where it is, so a snapshot it has not reached yet is
    /// still normalized by the worker in its turn (the event log dedupes what both record; a quarantine entry counts
    /// both attempts).
    /// </summary>
    public async Task<NormalizationOutcome> NormalizeAsync(RawSnapshot snapshot, CancellationToken cancellationToken)
    {
        var outcomes = await NormalizeAsync(null, [snapshot], cancellationToken).ConfigureAwait(false);
        return outcomes[0];
    }

    /// <summary>
    /// Normalizes snapshots as <see cref="NormalizeAsync(RawSnapshot, CancellationToken)"/> does, recording them all in
    /// one transaction (one flush for the lot, as the worker's own batches).
    /// </summary>
    public Task<IReadOnlyList<NormalizationOutcome>> NormalizeAsync(IReadOnlyList<RawSnapshot> snapshots, CancellationToken cancellationToken) =>
        NormalizeAsync(null, snapshots, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The offset is read from the store at the start and again after every failure, inside the loop's try: a store
        // that fails that read too (it usually does, when it fails at all) is retried like any other failure, instead of
        // ending the worker and with it the server.
        var (offset, loaded, failedAt) = (0L, false, (long?)null);
        var singleUntil = 0L;
        var (stuckAt, attempts, lastError) = (-1L, 0, string.Empty);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!loaded)
                {
                    offset = await events.GetOffsetAsync(Consumer, stoppingToken).ConfigureAwait(false);
                    loaded = true;
                    _normalized.Record(offset);
                    if (failedAt is { } failed)
                    {
                        (stuckAt, attempts) = offset < singleUntil && offset == stuckAt && failed == offset ? (stuckAt, attempts + 1) : (offset, offset < singleUntil ? 1 : 0);
                        singleUntil = Math.Max(singleUntil, offset + Batch); // the failed batch's span, one at a time
                        failedAt = null;
                    }
                }

                await events.WaitForSnapshotsAsync(offset, stoppingToken).ConfigureAwait(false);
                var single = offset < singleUntil;
                if (!single && events.LastSnapshotSeq - offset < Batch)
                {
                    await Task.Delay(Linger, stoppingToken).ConfigureAwait(false);
                }

                var snapshots = await events.ReadSnapshotsAsync(offset, single ? 1 : Batch, stoppingToken).ConfigureAwait(false);
                if (snapshots.Count == 0)
                {
                    continue;
                }

                if (single && stuckAt == offset && attempts >= MaxAttempts)
                {
                    // The log has refused this snapshot's events every time: quarantine it with the reason, and go on.
                    LogQuarantined(logger, snapshots[0].Id, attempts, lastError);
                    var refused = new Normalization(snapshots[0], NormalizeResult.Failed($"the event log refused this snapshot's events {attempts} times: {lastError}"));
                    await events.CompleteNormalizationsAsync(Consumer, [refused], sources.Now, stoppingToken).ConfigureAwait(false);
                    instruments.Normalized(snapshots[0].Source, quarantined: true);
                }
                else
                {
                    await NormalizeAsync(Consumer, snapshots, stoppingToken).ConfigureAwait(false);
                }

                offset = snapshots[^1].Seq;
                _normalized.Record(offset);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The worker outlives a failing store: it retries after a pause.
            catch (Exception error)
#pragma warning restore CA1031
            {
                LogFailed(logger, error);
                if (loaded)
                {
                    // A batch failed (not the read of the offset): where it started, to count the attempts at it.
                    (failedAt, lastError, loaded) = (offset, error.Message, false);
                }

                var pause = Task.Delay(RetryAfter, time, stoppingToken);
                Interlocked.Exchange(ref _paused, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                await pause.ConfigureAwait(false);
            }
        }
    }

    private async Task<IReadOnlyList<NormalizationOutcome>> NormalizeAsync(
        string? consumer, IReadOnlyList<RawSnapshot> snapshots, CancellationToken cancellationToken)
    {
        var normalizations = new Normalization[snapshots.Count];
        for (var i = 0; i < normalizations.Length; i++)
        {
            normalizations[i] = new Normalization(snapshots[i], await NormalizeOnlyAsync(snapshots[i], cancellationToken).ConfigureAwait(false));
        }

        var outcomes = await events.CompleteNormalizationsAsync(consumer, normalizations, sources.Now, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < normalizations.Length; i++)
        {
            instruments.Normalized(normalizations[i].Snapshot.Source, normalizations[i].Result.NeedsQuarantine);
            instruments.Events("webhook", outcomes[i].Append.Appended, outcomes[i].Append.Duplicates, 0);
        }

        return outcomes;
    }

    private async ValueTask<NormalizeResult> NormalizeOnlyAsync(RawSnapshot snapshot, CancellationToken cancellationToken)
    {
        if (await sources.GetAsync(snapshot.Source, cancellationToken).ConfigureAwait(false) is not { } live)
        {
            return NormalizeResult.Failed($"source '{snapshot.Source}' is no longer configured");
        }

        var definition = live.Definition;
        try
        {
            return live.Normalizer.Normalize(new NormalizeInput(
                snapshot.Source, definition.Platform, snapshot.Body, snapshot.ContentType, snapshot.ReceivedAt, snapshot.DeliveryId, definition.Mapping));
        }
#pragma warning disable CA1031 // A normalizer bug quarantines the snapshot instead of stopping ingest.
        catch (Exception error)
#pragma warning restore CA1031
        {
            LogNormalizerBug(logger, error, definition.Normalizer, snapshot.Id);
            return NormalizeResult.Failed($"the {definition.Normalizer} normalizer failed ({error.GetType().Name}); this is a bug in Bulwark");
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Normalization stopped on an error; retrying")]
    private static partial void LogFailed(ILogger logger, Exception error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Snapshot {Snapshot} quarantined: the event log refused its events {Attempts} times ({Reason})")]
    private static partial void LogQuarantined(ILogger logger, string snapshot, int attempts, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Normalizer {Normalizer} threw on snapshot {Snapshot}")]
    private static partial void LogNormalizerBug(ILogger logger, Exception error, string normalizer, string snapshot);
}
