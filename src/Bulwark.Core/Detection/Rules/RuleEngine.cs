using Bulwark.Ingest;

namespace Bulwark.Detection.Rules;

/// <summary>
/// Evaluates compiled rules over events in event time. Events go into a reorder buffer and are evaluated in
/// (timestamp, source, id) order once the newest event time seen has moved <see cref="RuleEngineOptions.Lateness"/>
/// past them, so a trace gives the same detections whatever its arrival order within the lateness and whatever its
/// replay speed; an event older than the newest event time minus the lateness is counted as late and not used.
/// On a quiet input, <see cref="Tick"/> (called by the host, for example every second) releases the buffer after
/// <see cref="RuleEngineOptions.IdleAdvance"/> of wall time and moves event time on with the wall clock, so windows
/// close and absence steps fire.
/// </summary>
/// <remarks>
/// <para>
/// State is per (rule, group) and is dropped once the group's window and suppression have passed. The engine is not
/// thread-safe: one consumer feeds it (the event log is partitioned by account in scale-out).
/// </para>
/// <para>
/// Restart: the engine is rebuilt by replay rather than by a snapshot. The host records, with its consumer offset,
/// <see cref="ReplayFrom"/> (the oldest event time that open state depends on) and <see cref="ProcessedThrough"/>.
/// After a restart it replays the event log from the first offset at or after <c>ReplayFrom</c> minus the lateness into
/// an engine whose <see cref="RuleEngineOptions.EmitAfter"/> is the recorded <c>ProcessedThrough</c>: state and
/// suppression are rebuilt, detections already returned are not returned again, and the ones not yet returned are.
/// Detection ids are derived from rule, group and event time, so a store can also dedupe on them. This keeps one code
/// path (evaluation) for live and restart, at the cost of replaying up to the longest window (or a first-seen rule's
/// retention).
/// </para>
/// </remarks>
public sealed class RuleEngine
{
    private readonly RuleEngineOptions _options;
    private readonly TimeProvider _time;
    private readonly RuleEvaluator[] _evaluators;
    private readonly KOfNEvaluator[] _combiners;
    private readonly PriorityQueue<NormalizedEvent, NormalizedEvent> _buffer = new(EventOrder.Instance);
    private readonly List<RuleDetection> _pending = [];
    private long _maxTicks = long.MinValue;
    private long _processedTicks = long.MinValue;
    private DateTimeOffset _lastArrival;
    private long _accepted;
    private long _late;
    private long _processed;
    private long _detections;
    private long _idleAdvances;

    /// <summary>Compiles rules into an engine.</summary>
    /// <param name="rules">Validated rules (see <see cref="RuleKind.ParseSet"/>) with unique names.</param>
    /// <param name="options">The options, or <see langword="null"/> for the defaults.</param>
    /// <param name="timeProvider">The wall clock for idle advance, or <see langword="null"/> for the system clock.</param>
    public RuleEngine(IEnumerable<RuleDefinition> rules, RuleEngineOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(rules);
        _options = options ?? new RuleEngineOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Lateness, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.IdleAdvance, TimeSpan.Zero, nameof(options));
        _time = timeProvider ?? TimeProvider.System;
        var list = rules.ToList();
        var names = list.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        if (names.Count != list.Count)
        {
            throw new ArgumentException("rule names must be unique", nameof(rules));
        }

        _evaluators = [.. list.Where(r => r.Type != RuleType.KOfN).Select(Create)];
        _combiners = [.. list.Where(r => r.Type == RuleType.KOfN).Select(r => new KOfNEvaluator(r, _options))];
    }

    /// <summary>The newest event time accepted, or <see langword="null"/> before the first event.</summary>
    public DateTimeOffset? NewestEventAt => _maxTicks == long.MinValue ? null : new DateTimeOffset(_maxTicks, TimeSpan.Zero);

    /// <summary>The event time up to which events have been evaluated and timers fired (the watermark), or <see langword="null"/> before any.</summary>
    public DateTimeOffset? ProcessedThrough => _processedTicks == long.MinValue ? null : new DateTimeOffset(_processedTicks, TimeSpan.Zero);

    /// <summary>The oldest event time that open state (windows, partial sequences, suppressions, the buffer) depends on; replay from here to rebuild it.</summary>
    public DateTimeOffset? ReplayFrom
    {
        get
        {
            var oldest = _buffer.TryPeek(out var e, out _) ? e.Timestamp.UtcTicks : long.MaxValue;
            foreach (var evaluator in _evaluators)
            {
                oldest = Math.Min(oldest, evaluator.OldestTicks());
            }

            foreach (var combiner in _combiners)
            {
                oldest = Math.Min(oldest, combiner.OldestTicks());
            }

            return oldest == long.MaxValue ? null : new DateTimeOffset(Math.Max(oldest, DateTimeOffset.MinValue.UtcTicks), TimeSpan.Zero);
        }
    }

    /// <summary>The engine's counters.</summary>
    public RuleEngineStatistics Statistics => new(
        _accepted,
        _late,
        _processed,
        _buffer.Count,
        _evaluators.Sum(e => (long)e.GroupCount) + _combiners.Sum(c => (long)c.GroupCount),
        _detections,
        _idleAdvances);

    /// <summary>Takes one event and returns the detections that became due (for this or earlier events).</summary>
    /// <param name="value">The event.</param>
    /// <returns>The detections, in event-time order; empty when nothing fired.</returns>
    public IReadOnlyList<RuleDetection> Add(NormalizedEvent value)
    {
        ArgumentNullException.ThrowIfNull(value);
        _lastArrival = _time.GetUtcNow();
        var ticks = value.Timestamp.UtcTicks;
        if (_maxTicks != long.MinValue && ticks < _maxTicks - _options.Lateness.Ticks)
        {
            _late++;
            return [];
        }

        _accepted++;
        _maxTicks = Math.Max(_maxTicks, ticks);
        _buffer.Enqueue(value, value);
        Release(_maxTicks - _options.Lateness.Ticks, inclusive: false);
        return TakePending();
    }

    /// <summary>
    /// Checks the wall clock: after <see cref="RuleEngineOptions.IdleAdvance"/> without events, evaluates every
    /// buffered event and moves event time on by the wall time since the last event, firing due timers.
    /// </summary>
    /// <returns>The detections that became due.</returns>
    public IReadOnlyList<RuleDetection> Tick()
    {
        if (_maxTicks == long.MinValue)
        {
            return [];
        }

        var idle = _time.GetUtcNow() - _lastArrival;
        if (idle < _options.IdleAdvance)
        {
            return [];
        }

        _idleAdvances++;
        Release(_maxTicks, inclusive: true);
        Advance(_maxTicks + idle.Ticks);
        return TakePending();
    }

    /// <summary>Ends the input: evaluates every buffered event and closes every window and absence step.</summary>
    /// <returns>The detections that became due.</returns>
    public IReadOnlyList<RuleDetection> Flush()
    {
        Release(long.MaxValue, inclusive: true);
        Advance(long.MaxValue);
        return TakePending();
    }

    private void Release(long watermark, bool inclusive)
    {
        while (_buffer.TryPeek(out var next, out _) && (next.Timestamp.UtcTicks < watermark || (inclusive && next.Timestamp.UtcTicks <= watermark)))
        {
            _buffer.Dequeue();
            // After an idle advance an event may be older than the clock; it is evaluated at the clock so windows stay ordered.
            var at = Math.Max(next.Timestamp.UtcTicks, _processedTicks);
            Advance(at);
            _processed++;
            var start = _pending.Count;
            foreach (var evaluator in _evaluators)
            {
                evaluator.OnEvent(next, at, _pending);
            }

            Combine(start);
        }
    }

    private void Advance(long now)
    {
        if (now <= _processedTicks)
        {
            return;
        }

        var start = _pending.Count;
        foreach (var evaluator in _evaluators)
        {
            evaluator.OnTime(now, _pending);
        }

        Combine(start);
        foreach (var combiner in _combiners)
        {
            combiner.OnTime(now, _pending);
        }

        _processedTicks = now;
    }

    private void Combine(int start)
    {
        if (_combiners.Length == 0)
        {
            return;
        }

        var end = _pending.Count;
        for (var i = start; i < end; i++)
        {
            var detection = _pending[i];
            foreach (var combiner in _combiners)
            {
                combiner.OnDetection(detection, detection.DetectedEventAt.UtcTicks, _pending);
            }
        }
    }

    private List<RuleDetection> TakePending()
    {
        if (_pending.Count == 0)
        {
            return [];
        }

        var result = new List<RuleDetection>(_pending.Count);
        foreach (var detection in _pending)
        {
            if (_options.EmitAfter is not { } after || detection.DetectedEventAt > after)
            {
                result.Add(detection);
            }
        }

        _pending.Clear();
        _detections += result.Count;
        return result;
    }

    private RuleEvaluator Create(RuleDefinition rule) => rule.Type switch
    {
        RuleType.Count => new CountEvaluator(rule, _options),
        RuleType.Distinct => new DistinctEvaluator(rule, _options),
        RuleType.Sequence => new SequenceEvaluator(rule, _options),
        RuleType.FirstSeen => new FirstSeenEvaluator(rule, _options),
        RuleType.Run => new RunEvaluator(rule, _options),
        _ => throw new ArgumentOutOfRangeException(nameof(rule), rule.Type, "unknown rule type"),
    };

    /// <summary>Orders events by time, then source and id, so ties do not depend on arrival.</summary>
    private sealed class EventOrder : IComparer<NormalizedEvent>
    {
        public static EventOrder Instance { get; } = new();

        public int Compare(NormalizedEvent? x, NormalizedEvent? y)
        {
            var byTime = x!.Timestamp.UtcTicks.CompareTo(y!.Timestamp.UtcTicks);
            if (byTime != 0)
            {
                return byTime;
            }

            var bySource = string.CompareOrdinal(x.Source, y.Source);
            return bySource != 0 ? bySource : string.CompareOrdinal(x.Id, y.Id);
        }
    }
}
