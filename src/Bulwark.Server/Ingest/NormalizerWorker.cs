using Bulwark.Ingest;

namespace Bulwark.Server.Ingest;

/// <summary>
/// Normalizes raw snapshots in arrival order, after they were acknowledged: each snapshot's events, quarantine entry and
/// the worker's offset are recorded in one transaction, so a crash anywhere repeats at most the snapshot in hand (and the
/// event log dedupes its events). A normalizer that throws is a bug, not a reason to stop: the snapshot is quarantined.
/// </summary>
internal sealed partial class NormalizerWorker(IEventStore events, SourceRegistry sources, IngestInstruments instruments, ILogger<NormalizerWorker> logger) : BackgroundService
{
    public const string Consumer = "normalizer";
    private const int Batch = 256;
    private long _normalized;
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The sequence number of the last snapshot this worker has recorded.</summary>
    public long Normalized => Volatile.Read(ref _normalized);

    /// <summary>Completes once the worker has recorded every snapshot up to <paramref name="seq"/>.</summary>
    public async Task WhenNormalizedAsync(long seq, CancellationToken cancellationToken)
    {
        while (true)
        {
            // The signal first, then the value: a recording in between completes the signal read here.
            var progress = Volatile.Read(ref _progress);
            if (Normalized >= seq)
            {
                return;
            }

            await progress.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Normalizes one snapshot with its source's current definition and records the outcome.</summary>
    public async Task<(AppendReceipt Append, QuarantineEntry? Quarantine)> NormalizeAsync(RawSnapshot snapshot, CancellationToken cancellationToken)
    {
        var result = await NormalizeOnlyAsync(snapshot, cancellationToken).ConfigureAwait(false);
        var outcome = await events.CompleteNormalizationAsync(Consumer, snapshot, result, sources.Now, cancellationToken).ConfigureAwait(false);
        instruments.Normalized(snapshot.Source, result.NeedsQuarantine);
        instruments.Events("webhook", outcome.Append.Appended, outcome.Append.Duplicates, 0);
        return outcome;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var offset = await events.GetOffsetAsync(Consumer, stoppingToken).ConfigureAwait(false);
        Record(offset);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await events.WaitForSnapshotsAsync(offset, stoppingToken).ConfigureAwait(false);
                foreach (var snapshot in await events.ReadSnapshotsAsync(offset, Batch, stoppingToken).ConfigureAwait(false))
                {
                    await NormalizeAsync(snapshot, stoppingToken).ConfigureAwait(false);
                    offset = snapshot.Seq;
                    Record(offset);
                }
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
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                offset = await events.GetOffsetAsync(Consumer, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private void Record(long seq)
    {
        Volatile.Write(ref _normalized, seq);
        Interlocked.Exchange(ref _progress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Normalizer {Normalizer} threw on snapshot {Snapshot}")]
    private static partial void LogNormalizerBug(ILogger logger, Exception error, string normalizer, string snapshot);
}
