using Bulwark.Ingest;

namespace Bulwark.Server.Ingest;

/// <summary>
/// Something that reads the event log in order (detection, metrics): it gets batches at least once, in offset order,
/// and must dedupe by event id (after a crash, or a replay, it sees events again).
/// </summary>
internal interface IEventConsumer
{
    /// <summary>The consumer's offset name.</summary>
    string Name { get; }

    /// <summary>Handles a batch; the offset moves past it only when this returns.</summary>
    ValueTask HandleAsync(IReadOnlyList<LoggedEvent> batch, CancellationToken cancellationToken);
}

/// <summary>
/// An <see cref="IEventConsumer"/> that needs only each event's indexed fields (counting, routing): it reads keys, not
/// documents, with the same at-least-once delivery in offset order.
/// </summary>
internal interface IEventKeyConsumer
{
    /// <summary>The consumer's offset name.</summary>
    string Name { get; }

    /// <summary>Handles a batch; the offset moves past it only when this returns.</summary>
    ValueTask HandleAsync(IReadOnlyList<LoggedEventKey> batch, CancellationToken cancellationToken);
}

/// <summary>
/// Tells a consumer waiting for new events that its offset was set from outside (a replay rewound it), so that it reads
/// again from there at once instead of when the next event arrives.
/// </summary>
internal sealed class ConsumerWakeups
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource> _next = new(StringComparer.Ordinal);

    /// <summary>Completes at the next <see cref="Wake"/> of <paramref name="consumer"/>: take it before reading the offset.</summary>
    public Task Next(string consumer) => _next.GetOrAdd(consumer, _ => New()).Task;

    /// <summary>Wakes <paramref name="consumer"/> after its offset was set.</summary>
    public void Wake(string consumer)
    {
        if (_next.TryRemove(consumer, out var woken))
        {
            woken.TrySetResult();
        }
    }

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Runs every registered <see cref="IEventConsumer"/> and <see cref="IEventKeyConsumer"/>: read after its offset,
/// handle, commit the offset. A consumer waiting for new events also wakes when a replay sets its offset.
/// </summary>
internal sealed partial class EventConsumerHost(
    IEventStore events, IEnumerable<IEventConsumer> consumers, IEnumerable<IEventKeyConsumer> keyConsumers, ConsumerWakeups wakeups, ILogger<EventConsumerHost> logger)
    : BackgroundService
{
    private const int Batch = 500;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(
            consumers.Select(c => RunAsync(c.Name, events.ReadEventsAsync, c.HandleAsync, e => e.Offset, stoppingToken)).Concat(
            keyConsumers.Select(c => RunAsync(c.Name, events.ReadEventKeysAsync, c.HandleAsync, e => e.Offset, stoppingToken))));

    private async Task RunAsync<T>(
        string name,
        Func<long, int, CancellationToken, Task<IReadOnlyList<T>>> read,
        Func<IReadOnlyList<T>, CancellationToken, ValueTask> handle,
        Func<T, long> offsetOf,
        CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Read the committed offset each round: a replay may have moved it back. The wake-up is taken first, so
                // that a replay setting the offset after this read is not missed.
                var woken = wakeups.Next(name);
                var offset = await events.GetOffsetAsync(name, stoppingToken).ConfigureAwait(false);
                if (!await WaitForEventsOrWakeAsync(offset, woken, stoppingToken).ConfigureAwait(false))
                {
                    continue;
                }

                var batch = await read(offset, Batch, stoppingToken).ConfigureAwait(false);
                if (batch.Count == 0)
                {
                    continue;
                }

                await handle(batch, stoppingToken).ConfigureAwait(false);

                // A handled batch is committed even when the stop arrives now: a graceful stop must not make the next
                // start handle it again (a crash still may, which consumers tolerate). Only from where it was read: a
                // replay that rewound the offset meanwhile stands, and the next round reads from there.
                await events.MoveOffsetAsync(name, offset, offsetOf(batch[^1]), CancellationToken.None).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // One failing consumer neither stops the others nor loses its place: it retries.
            catch (Exception error)
#pragma warning restore CA1031
            {
                LogFailed(logger, error, name);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>True once an event after <paramref name="offset"/> exists; false when woken first (the offset was set).</summary>
    private async Task<bool> WaitForEventsOrWakeAsync(long offset, Task woken, CancellationToken stoppingToken)
    {
        if (events.LastOffset > offset)
        {
            return true; // behind the log, as under load: no waiting at all
        }

        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var more = events.WaitForEventsAsync(offset, waiting.Token);
        if (await Task.WhenAny(more, woken).ConfigureAwait(false) == more)
        {
            await more.ConfigureAwait(false);
            return true;
        }

        await waiting.CancelAsync().ConfigureAwait(false);
        await more.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return false;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Event consumer {Consumer} failed; retrying its batch")]
    private static partial void LogFailed(ILogger logger, Exception error, string consumer);
}

/// <summary>
/// Counts events by platform and type for <c>/metrics</c> (<c>bulwark_events_total</c>): core types by name, custom
/// ones as <c>custom</c>, and at most 32 platforms (then <c>other</c>), so labels stay bounded whatever arrives. It reads
/// keys only: parsing every document again just to count it cost as much as normalizing it.
/// </summary>
internal sealed class EventCounter : IEventKeyConsumer
{
    private const int MaxPlatforms = 32;
    private readonly System.Diagnostics.Metrics.Counter<long> _events;
    private readonly HashSet<string> _platforms = new(StringComparer.Ordinal);
    private readonly HashSet<string> _coreTypes = new(NormalizedEvent.CoreTypes, StringComparer.Ordinal);

    public EventCounter(Metrics.ServerInstruments instruments) =>
        _events = instruments.Meter.CreateCounter<long>("bulwark.events", "{event}", "Events in the event log, by platform and type, as its consumers read them");

    public string Name => "metrics";

    public ValueTask HandleAsync(IReadOnlyList<LoggedEventKey> batch, CancellationToken cancellationToken)
    {
        foreach (var logged in batch)
        {
            var platform = logged.Platform;
            if (!_platforms.Contains(platform))
            {
                platform = _platforms.Count < MaxPlatforms && _platforms.Add(platform) ? platform : "other";
            }

            var type = _coreTypes.Contains(logged.EventType) ? logged.EventType : "custom";
            _events.Add(1, new("platform", platform), new("type", type));
        }

        return ValueTask.CompletedTask;
    }
}
