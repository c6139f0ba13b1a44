using Bulwark.Ingest;

namespace Bulwark.Detection.Rules;

/// <summary>
/// Evaluates compiled rules over events in event time. Each event is evaluated as it arrives, so positive evidence (a
/// threshold reached, a sequence completed, a new value, a run) fires at once. Time-driven outcomes wait for the
/// watermark, the newest event time less <see cref="RuleEngineOptions.Lateness"/>: an absence step ("A not followed by
/// B within T") fires only once the watermark has passed its deadline, so a B that arrives up to the lateness out of
/// order still breaks it, and state is dropped only behind the watermark. An event older than the watermark is counted
/// as late and not used. An event that arrives out of order within the lateness is evaluated at the newest event time
/// evaluated so far (windows stay ordered), so a trace gives the same detections whatever its replay speed; a trace
/// shuffled within the lateness gives the same detections except where a window's edge or a sequence's order depends
/// on the shuffled events.
/// On a quiet input, <see cref="Tick"/> (called by the host, for example every second) moves the watermark on with the
/// wall clock after <see cref="RuleEngineOptions.IdleAdvance"/> without events, so windows close and absence steps fire.
/// </summary>
/// <remarks>
/// <para>
/// State is per (rule, group) and is dropped once the group's window and suppression have passed. The engine is not
/// thread-safe: one consumer feeds it (the event log is partitioned by account in scale-out).
/// </para>
/// <para>
/// Restart: the engine is rebuilt by replay rather than by a snapshot. The host replays the event log, in log order,
/// from the event time that open state depends on (<see cref="ReplayFrom"/>, or the longest window and suppression
/// before its position) into a new engine: state and suppression are rebuilt, and the detections the replay finds
/// again have the same ids (derived from rule, group and event time), so a store dedupes them.
/// <see cref="RuleEngineOptions.EmitAfter"/> suppresses the ones at or before a recorded time instead. This keeps one
/// code path (evaluation) for live and restart, at the cost of replaying up to the longest window (or a first-seen
/// rule's retention).
/// </para>
/// </remarks>
public sealed class RuleEngine
{
    private readonly RuleEngineOptions _options;
    private readonly TimeProvider _time;
    private readonly RuleEvaluator[] _evaluators;
    private readonly KOfNEvaluator[] _combiners;
    private readonly List<RuleDetection> _pending = [];
    private readonly StringPool _pool = new();
    private long _maxTicks = long.MinValue;
    private long _clockTicks = long.MinValue;
    private long _watermarkTicks = long.MinValue;
    private DateTimeOffset _lastArrival;
    private long _accepted;
    private long _late;
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
        foreach (var evaluator in _evaluators.Concat<RuleEvaluator>(_combiners))
        {
            evaluator.Pool = _pool;
        }
    }

    /// <summary>The newest event time accepted, or <see langword="null"/> before the first event.</summary>
    public DateTimeOffset? NewestEventAt => _maxTicks == long.MinValue ? null : new DateTimeOffset(_maxTicks, TimeSpan.Zero);

    /// <summary>The watermark: the event time up to which timers have fired and state may be dropped, or <see langword="null"/> before any event.</summary>
    public DateTimeOffset? Watermark => _watermarkTicks == long.MinValue ? null : new DateTimeOffset(_watermarkTicks, TimeSpan.Zero);

    /// <summary>The oldest event time that open state (windows, partial sequences, suppressions) depends on; replay from here to rebuild it.</summary>
    public DateTimeOffset? ReplayFrom
    {
        get
        {
            var oldest = long.MaxValue;
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
        _evaluators.Sum(e => (long)e.GroupCount) + _combiners.Sum(c => (long)c.GroupCount),
        _detections,
        _idleAdvances);

    /// <summary>Evaluates one event and returns the detections it completed, with any timers the watermark passed.</summary>
    /// <param name="value">The event.</param>
    /// <returns>The detections, in the order found; empty when nothing fired.</returns>
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

        // An event out of order (or older than an idle advance) is evaluated at the clock, so windows stay ordered.
        _clockTicks = Math.Max(_clockTicks, ticks);
        _pool.Enter(value);
        var start = _pending.Count;
        foreach (var evaluator in _evaluators)
        {
            evaluator.OnEvent(value, _clockTicks, _pending);
        }

        Combine(start);
        Advance(SaturatingSubtract(_maxTicks, _options.Lateness.Ticks));
        return TakePending();
    }

    /// <summary>
    /// Checks the wall clock: after <see cref="RuleEngineOptions.IdleAdvance"/> without events, moves event time and
    /// the watermark past the newest event by the wall time since it arrived, firing due timers.
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
        _clockTicks = Math.Max(_clockTicks, _maxTicks + idle.Ticks);
        Advance(_clockTicks);
        return TakePending();
    }

    /// <summary>Ends the input: closes every window and absence step.</summary>
    /// <returns>The detections that became due.</returns>
    public IReadOnlyList<RuleDetection> Flush()
    {
        Advance(long.MaxValue);
        return TakePending();
    }

    private static long SaturatingSubtract(long ticks, long minus) => ticks < long.MinValue + minus ? long.MinValue : ticks - minus;

    private void Advance(long now)
    {
        if (now <= _watermarkTicks)
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

        _watermarkTicks = now;
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
}
