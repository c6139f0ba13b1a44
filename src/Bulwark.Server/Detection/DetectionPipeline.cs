using Bulwark.Detection.Incidents;
using Bulwark.Ingest;
using Bulwark.Server.Hosting;
using Bulwark.Server.Ingest;

namespace Bulwark.Server.Detection;

/// <summary>
/// Something that turns the event log into detections: rules in event time, statistical detectors over rate series.
/// Calls are serialized by <see cref="DetectionPipeline"/>; an engine need not be thread-safe.
/// </summary>
internal interface IDetectionEngine
{
    /// <summary>Feeds a batch of events in log order; returns the detections that fired.</summary>
    ValueTask<IReadOnlyList<DetectionRecord>> ObserveAsync(IReadOnlyList<LoggedEvent> batch, CancellationToken cancellationToken);

    /// <summary>
    /// Wall time passes with no events: an engine may move its watermark past the last event so that due windows close.
    /// Returns the detections that fired.
    /// </summary>
    ValueTask<IReadOnlyList<DetectionRecord>> IdleAsync(DateTimeOffset now, CancellationToken cancellationToken);
}

/// <summary>
/// The <c>detection</c> consumer of the event log: feeds every engine, then stores what fired through
/// <see cref="IncidentService"/> before its offset moves (so a crash repeats the batch, and stored detections dedupe by id).
/// <see cref="DetectionClock"/> gives the engines wall time between batches.
/// </summary>
internal sealed class DetectionPipeline(IEnumerable<IDetectionEngine> engines, IncidentService incidents) : IEventConsumer, IDisposable
{
    private readonly IDetectionEngine[] _engines = [.. engines];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ProgressSignal _handled = new();

    /// <summary>The consumer's offset name.</summary>
    public const string Consumer = "detection";

    public string Name => Consumer;

    public void Dispose() => _gate.Dispose();

    /// <summary>The offset of the last event whose detections are stored.</summary>
    public long Handled => _handled.Position;

    public async ValueTask HandleAsync(IReadOnlyList<LoggedEvent> batch, CancellationToken cancellationToken)
    {
        await RunAsync(engine => engine.ObserveAsync(batch, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (batch.Count > 0)
        {
            _handled.Record(batch[^1].Offset);
        }
    }

    /// <summary>Completes once every event up to <paramref name="offset"/> has been through the engines and what fired is stored.</summary>
    public Task WhenHandledAsync(long offset, CancellationToken cancellationToken) => _handled.WhenAtLeastAsync(offset, cancellationToken);

    /// <summary>Lets every engine know the wall time, and stores what fires.</summary>
    public Task TickAsync(DateTimeOffset now, CancellationToken cancellationToken) => RunAsync(engine => engine.IdleAsync(now, cancellationToken), cancellationToken);

    private async Task RunAsync(Func<IDetectionEngine, ValueTask<IReadOnlyList<DetectionRecord>>> step, CancellationToken cancellationToken)
    {
        if (_engines.Length == 0)
        {
            return;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var fired = new List<DetectionRecord>();
            foreach (var engine in _engines)
            {
                fired.AddRange(await step(engine).ConfigureAwait(false));
            }

            await incidents.RecordAsync(fired, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }
}

/// <summary>Ticks <see cref="DetectionPipeline"/> once a second of wall time (on the server's clock).</summary>
internal sealed class DetectionClock(DetectionPipeline pipeline, TimeProvider time, ILogger<DetectionClock> logger) : PeriodicWork(time, logger, Period)
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    protected override string Name => "Detection tick";

    protected override Task RunOnceAsync(CancellationToken stoppingToken) => pipeline.TickAsync(Time.GetUtcNow(), stoppingToken);
}
