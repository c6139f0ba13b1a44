using Bulwark.Detection.Anomaly;
using Bulwark.Detection.Incidents;
using Bulwark.Detection.Rules;
using Bulwark.Ingest;

namespace Bulwark.Server.Detection;

/// <summary>
/// The rules in force as a detection engine: a <see cref="RuleEngine"/> over the current rule set. Whenever one is built
/// (at the first batch after a start, and when the rules change) it is warmed up by replaying the log up to the
/// detection consumer's committed offset, from the event time of that offset less the longest window and suppression
/// (at most <see cref="LogReplay.MaxRebuild"/>): windows open across a restart are rebuilt, and a new rule sees the recent past.
/// A batch at or before the last offset seen (the consumer was moved back by a replay) rebuilds it the same way.
/// Detections keep the rule engine's ids, so one found again by the replay is stored once.
/// </summary>
internal sealed class RuleDetectionEngine(RuleService rules, IEventStore events, TimeProvider time, RuleEngineOptions? options = null) : IDetectionEngine
{
    private RuleEngine? _engine;
    private long _version = -1;
    private List<DetectionRecord>? _rebuilt;
    private long _lastOffset;

    /// <summary>How many events the last rebuild replayed.</summary>
    public long Replayed { get; private set; }

    public async ValueTask<IReadOnlyList<DetectionRecord>> ObserveAsync(IReadOnlyList<LoggedEvent> batch, CancellationToken cancellationToken)
    {
        if (batch.Count > 0 && batch[0].Offset <= _lastOffset)
        {
            // The consumer was moved back (a replay): rebuild from the position it was moved to.
            _engine = null;
        }

        var engine = await EngineAsync(cancellationToken).ConfigureAwait(false);
        var fired = TakeRebuilt();
        foreach (var logged in batch)
        {
            fired.AddRange(engine.Add(logged.Event).Select(d => d.ToRecord()));
            _lastOffset = logged.Offset;
        }

        return fired;
    }

    public async ValueTask<IReadOnlyList<DetectionRecord>> IdleAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var engine = await EngineAsync(cancellationToken).ConfigureAwait(false);
        var fired = TakeRebuilt();
        fired.AddRange(engine.Tick().Select(d => d.ToRecord()));
        return fired;
    }

    private List<DetectionRecord> TakeRebuilt()
    {
        var rebuilt = _rebuilt ?? [];
        _rebuilt = null;
        return rebuilt;
    }

    private async ValueTask<RuleEngine> EngineAsync(CancellationToken cancellationToken)
    {
        var set = await rules.GetAsync(cancellationToken).ConfigureAwait(false);
        if (_engine is null || set.Version != _version)
        {
            var engine = new RuleEngine(set.Items, options, time);
            _rebuilt = await RebuildAsync(engine, set.Items, cancellationToken).ConfigureAwait(false);
            _engine = engine;
            _version = set.Version;
        }

        return _engine;
    }

    private async Task<List<DetectionRecord>> RebuildAsync(RuleEngine engine, IReadOnlyList<RuleDefinition> set, CancellationToken cancellationToken)
    {
        Replayed = 0;
        if (set.Count == 0)
        {
            return [];
        }

        var lateness = (options ?? new RuleEngineOptions()).Lateness;
        var (fired, replayed) = await LogReplay.RunAsync(events, set.Max(r => r.Window + r.Suppress) + lateness, e => engine.Add(e).Select(d => d.ToRecord()), cancellationToken).ConfigureAwait(false);
        Replayed = replayed;
        return fired;
    }
}

/// <summary>
/// Rebuilds an engine's state after a start or a change: replays the event log, in log order, up to the
/// <c>detection</c> consumer's committed offset, from the event time of that offset less a horizon (at most
/// <see cref="MaxRebuild"/>). What the replay fires again has the ids it had the first time, so the store keeps it once;
/// what it fires that was never stored (the process stopped first) is stored now.
/// </summary>
internal static class LogReplay
{
    /// <summary>The longest stretch of event time replayed.</summary>
    public static readonly TimeSpan MaxRebuild = TimeSpan.FromDays(1);

    public static async Task<(List<DetectionRecord> Fired, long Replayed)> RunAsync(
        IEventStore events, TimeSpan horizon, Func<NormalizedEvent, IEnumerable<DetectionRecord>> feed, CancellationToken cancellationToken)
    {
        var fired = new List<DetectionRecord>();
        var committed = await events.GetOffsetAsync(DetectionPipeline.Consumer, cancellationToken).ConfigureAwait(false);
        if (committed <= 0)
        {
            return (fired, 0);
        }

        var last = await events.ReadEventsAsync(committed - 1, 1, cancellationToken).ConfigureAwait(false);
        if (last.Count == 0)
        {
            return (fired, 0);
        }

        var since = last[0].Event.Timestamp - (horizon < MaxRebuild ? horizon : MaxRebuild);
        var replayed = 0L;
        var after = 0L;
        while (true)
        {
            var page = await events.QueryEventsAsync(new EventQuery(Since: since, AfterOffset: after, Limit: 1000), cancellationToken).ConfigureAwait(false);
            foreach (var logged in page)
            {
                if (logged.Offset > committed)
                {
                    return (fired, replayed);
                }

                fired.AddRange(feed(logged.Event));
                replayed++;
                after = logged.Offset;
            }

            if (page.Count < 1000)
            {
                return (fired, replayed);
            }
        }
    }
}

/// <summary>
/// The statistical detectors in force as a detection engine: a <see cref="RateDetectorEngine"/> over the current
/// detectors. Whenever one is built (the first batch after a start, a change of the detectors, or a replay that moved
/// the consumer back) it replays the log as <see cref="RuleDetectionEngine"/> does, over the longest warm-up and bucket
/// of the detectors in force (at most a day), so its models are warm again and a bucket open across a restart is
/// scored once.
/// </summary>
internal sealed class RateDetectionEngine(DetectorService detectors, IEventStore events) : IDetectionEngine
{
    private RateDetectorEngine? _engine;
    private long _version = -1;
    private List<DetectionRecord>? _rebuilt;
    private long _lastOffset;

    /// <summary>How many events the last rebuild replayed.</summary>
    public long Replayed { get; private set; }

    public async ValueTask<IReadOnlyList<DetectionRecord>> ObserveAsync(IReadOnlyList<LoggedEvent> batch, CancellationToken cancellationToken)
    {
        if (batch.Count > 0 && batch[0].Offset <= _lastOffset)
        {
            _engine = null;
        }

        var set = await detectors.GetAsync(cancellationToken).ConfigureAwait(false);
        if (_engine is null || set.Version != _version)
        {
            var engine = new RateDetectorEngine(set.Items);
            var horizon = set.Items.Count == 0 ? TimeSpan.Zero : set.Items.Max(d => (d.Bucket * (d.WarmUp + 1)) + d.Suppress) + TimeSpan.FromMinutes(2);
            (_rebuilt, Replayed) = set.Items.Count == 0
                ? ([], 0)
                : await LogReplay.RunAsync(events, horizon, engine.Add, cancellationToken).ConfigureAwait(false);
            _engine = engine;
            _version = set.Version;
        }

        var fired = _rebuilt ?? [];
        _rebuilt = null;
        foreach (var logged in batch)
        {
            fired.AddRange(_engine.Add(logged.Event));
            _lastOffset = logged.Offset;
        }

        return fired;
    }

    public ValueTask<IReadOnlyList<DetectionRecord>> IdleAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<DetectionRecord>>([]);
}
