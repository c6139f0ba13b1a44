using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Ingest;

namespace Bulwark.Detection.Rules;

/// <summary>What state keeps of a matched event: enough to explain a detection, not the event. A value kept inline in its owner's arrays.</summary>
internal readonly record struct EventRef(string Id, string AccountId, string? Ip, long Ticks, string Platform)
{
    private const int MaxPlatforms = 1024;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> Platforms = new(StringComparer.Ordinal);

    /// <summary>
    /// What to keep of <paramref name="e"/> (the event the engine is evaluating), at <paramref name="at"/>: its
    /// account and IP as the engine's <paramref name="pool"/> shares them, and one instance per platform (up to 1,024).
    /// </summary>
    public static EventRef Of(NormalizedEvent e, long at, StringPool pool) => new(e.Id, pool.Account, pool.Ip, at, SharedPlatform(e.Platform));

    private static string SharedPlatform(string platform) =>
        Platforms.TryGetValue(platform, out var shared) ? shared
        : Platforms.Count < MaxPlatforms ? Platforms.GetOrAdd(platform, platform)
        : platform;
}

/// <summary>State common to every group: when it may be dropped and until when it is quiet.</summary>
internal abstract class GroupState
{
    public long SuppressedUntil { get; set; } = long.MinValue;

    public abstract long ExpiresAt(long window);
}

/// <summary>One compiled rule with its groups. Called in event-time order by <see cref="RuleEngine"/> only.</summary>
internal abstract class RuleEvaluator
{
    private readonly Func<NormalizedEvent, string?>[] _groupBy;
    private readonly PriorityQueue<string, long> _expiry = new();

    protected RuleEvaluator(RuleDefinition rule, RuleEngineOptions options)
    {
        Rule = rule;
        Options = options;
        Matches = CompiledMatch.Compile(rule.Match);
        _groupBy = [.. rule.GroupBy.Select(EventFields.Compile)];
        GroupByText = rule.GroupBy.Count == 0 ? "everything" : string.Join(", ", rule.GroupBy);
    }

    public RuleDefinition Rule { get; }

    /// <summary>The engine's pool, shared by every rule: group keys of one field and event refs take their strings from it.</summary>
    public StringPool Pool { get; set; } = new(1);

    public abstract int GroupCount { get; }

    protected RuleEngineOptions Options { get; }

    protected Func<NormalizedEvent, bool> Matches { get; }

    protected string GroupByText { get; }

    protected long WindowTicks => Rule.Window.Ticks;

    /// <summary>Evaluates one event at processing time <paramref name="at"/> (never earlier than the previous call's).</summary>
    public abstract void OnEvent(NormalizedEvent e, long at, List<RuleDetection> output);

    /// <summary>Fires timers due before <paramref name="now"/> and drops groups whose windows have passed.</summary>
    public virtual void OnTime(long now, List<RuleDetection> output) => Expire(now);

    /// <summary>The oldest event time that open state still depends on, or <see cref="long.MaxValue"/>.</summary>
    public abstract long OldestTicks();

    protected string? GroupKeyOf(NormalizedEvent e)
    {
        if (_groupBy.Length == 0)
        {
            return string.Empty;
        }

        if (_groupBy.Length == 1)
        {
            return _groupBy[0](e) is { } value ? Pool.Share(value) : null;
        }

        var parts = new string[_groupBy.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (_groupBy[i](e) is not { } part)
            {
                return null;
            }

            parts[i] = part;
        }

        return string.Join('|', parts);
    }

    protected void ScheduleExpiry(string key, long at) => _expiry.Enqueue(key, at);

    protected abstract GroupState? Find(string key);

    protected abstract void Remove(string key);

    protected static bool Suppressed(GroupState group, long at) => at < group.SuppressedUntil;

    protected void Suppress(GroupState group, long at)
    {
        group.SuppressedUntil = Rule.Suppress > TimeSpan.Zero ? at + Rule.Suppress.Ticks : long.MinValue;
    }

    private void Expire(long now)
    {
        while (_expiry.TryPeek(out var key, out var due) && due < now)
        {
            _expiry.Dequeue();
            if (Find(key) is not { } group)
            {
                continue;
            }

            var expires = Math.Max(group.ExpiresAt(WindowTicks), group.SuppressedUntil);
            if (expires < now)
            {
                Remove(key);
            }
            else
            {
                _expiry.Enqueue(key, expires);
            }
        }
    }

    internal RuleDetection Detect(string groupKey, IReadOnlyCollection<EventRef> events, long at, double observed, double threshold, string explanation)
    {
        var ids = new List<string>(Math.Min(events.Count, Options.MaxEventIdsPerDetection));
        var accounts = new List<string>();
        var ips = new List<string>();
        var seenAccounts = new HashSet<string>(StringComparer.Ordinal);
        var seenIps = new HashSet<string>(StringComparer.Ordinal);
        var platforms = new SortedSet<string>(StringComparer.Ordinal);
        var first = long.MaxValue;
        foreach (var e in events)
        {
            first = Math.Min(first, e.Ticks);
            if (ids.Count < Options.MaxEventIdsPerDetection)
            {
                ids.Add(e.Id);
            }

            if (accounts.Count < Options.MaxEntitiesPerDetection && seenAccounts.Add(e.AccountId))
            {
                accounts.Add(e.AccountId);
            }

            if (e.Ip is { } ip && ips.Count < Options.MaxEntitiesPerDetection && seenIps.Add(ip))
            {
                ips.Add(ip);
            }

            platforms.Add(e.Platform);
        }

        return Build(groupKey, ids, events.Count, accounts, ips, [.. platforms], events.Count == 0 ? at : first, at, observed, threshold, explanation);
    }

    internal RuleDetection Build(
        string groupKey, IReadOnlyList<string> ids, int count, IReadOnlyList<string> accounts, IReadOnlyList<string> ips, IReadOnlyList<string> platforms,
        long first, long at, double observed, double threshold, string explanation) => new()
        {
            Id = DetectionId(Rule.Name, groupKey, at),
            Rule = Rule.Name,
            Severity = Rule.Severity,
            Confidence = Rule.Confidence,
            GroupKey = groupKey,
            Accounts = accounts,
            Ips = ips,
            Platforms = platforms,
            EventIds = ids,
            EventCount = count,
            FirstEventAt = new DateTimeOffset(first, TimeSpan.Zero),
            DetectedEventAt = new DateTimeOffset(at, TimeSpan.Zero),
            Observed = observed,
            Threshold = threshold,
            Explanation = explanation,
            Actions = Rule.Actions,
        };

    protected static string Format(long ticks) => Rfc3339.Format(new DateTimeOffset(ticks, TimeSpan.Zero));

    protected static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);

    private static string DetectionId(string rule, string groupKey, long at)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{rule}\n{groupKey}\n{at}")), hash);
        return "det_" + Convert.ToHexStringLower(hash[..16]);
    }
}

/// <summary>Groups in a dictionary, expired through the base class's queue.</summary>
internal abstract class KeyedEvaluator<TGroup>(RuleDefinition rule, RuleEngineOptions options) : RuleEvaluator(rule, options)
    where TGroup : GroupState, new()
{
    protected Dictionary<string, TGroup> Groups { get; } = new(StringComparer.Ordinal);

    public override int GroupCount => Groups.Count;

    protected TGroup GetOrAdd(string key, long at)
    {
        if (!Groups.TryGetValue(key, out var group))
        {
            group = new TGroup();
            Groups.Add(key, group);
            ScheduleExpiry(key, at + WindowTicks);
        }

        return group;
    }

    protected override GroupState? Find(string key) => Groups.GetValueOrDefault(key);

    protected override void Remove(string key) => Groups.Remove(key);
}

/// <summary>
/// Events in a window per group (count, distinct), oldest first, in a ring of inline entries: a group of one event is
/// one object and one small array. A distinct group counts its values by scanning while it is small, and with a
/// dictionary once it holds more than <see cref="ScanLimit"/> events.
/// </summary>
internal class WindowGroup : GroupState
{
    private const int ScanLimit = 8;

    // One event inline (most groups hold one); from the second, a ring of entries.
    private (EventRef Event, string? Value) _single;
    private (EventRef Event, string? Value)[]? _items;
    private int _head;
    private Dictionary<string, int>? _values;

    public int Count { get; private set; }

    /// <summary>The distinct values of the events in the window (distinct groups).</summary>
    public int DistinctCount
    {
        get
        {
            if (_values is not null)
            {
                return _values.Count;
            }

            var distinct = 0;
            for (var i = 0; i < Count; i++)
            {
                var value = At(i).Value;
                var seen = false;
                for (var j = 0; j < i && !seen; j++)
                {
                    seen = string.Equals(At(j).Value, value, StringComparison.Ordinal);
                }

                distinct += seen ? 0 : 1;
            }

            return distinct;
        }
    }

    public override long ExpiresAt(long window) => Count == 0 ? long.MinValue : At(Count - 1).Event.Ticks + window;

    public long OldestTicks(long otherwise) => Count == 0 ? otherwise : At(0).Event.Ticks;

    public void Add(EventRef e, string? value = null)
    {
        if (_items is null && Count == 0)
        {
            _single = (e, value);
        }
        else
        {
            if (_items is null || Count == _items.Length)
            {
                var grown = new (EventRef, string?)[Math.Max(4, Count * 2)];
                for (var i = 0; i < Count; i++)
                {
                    grown[i] = At(i);
                }

                (_items, _head, _single) = (grown, 0, default);
            }

            _items[(_head + Count) % _items.Length] = (e, value);
        }

        Count++;
        if (value is null)
        {
            return;
        }

        if (_values is not null)
        {
            _values[value] = _values.GetValueOrDefault(value) + 1;
        }
        else if (Count > ScanLimit)
        {
            _values = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < Count; i++)
            {
                var v = At(i).Value!;
                _values[v] = _values.GetValueOrDefault(v) + 1;
            }
        }
    }

    /// <summary>Drops the events at or before <paramref name="at"/> minus <paramref name="window"/>.</summary>
    public void Prune(long at, long window)
    {
        while (Count > 0 && At(0).Event.Ticks <= at - window)
        {
            var value = At(0).Value;
            if (_items is null)
            {
                _single = default;
            }
            else
            {
                _items[_head] = default;
                _head = (_head + 1) % _items.Length;
            }

            Count--;
            if (_values is not null && value is not null && --_values[value] == 0)
            {
                _values.Remove(value);
            }
        }
    }

    public List<EventRef> Events()
    {
        var events = new List<EventRef>(Count);
        for (var i = 0; i < Count; i++)
        {
            events.Add(At(i).Event);
        }

        return events;
    }

    private (EventRef Event, string? Value) At(int index) => _items is null ? _single : _items[(_head + index) % _items.Length];
}

internal sealed class CountEvaluator(RuleDefinition rule, RuleEngineOptions options) : KeyedEvaluator<WindowGroup>(rule, options)
{
    public override void OnEvent(NormalizedEvent e, long at, List<RuleDetection> output)
    {
        if (!Matches(e) || GroupKeyOf(e) is not { } key)
        {
            return;
        }

        var group = GetOrAdd(key, at);
        group.Prune(at, WindowTicks);
        group.Add(EventRef.Of(e, at, Pool));
        if (group.Count >= Rule.Threshold && !Suppressed(group, at))
        {
            Suppress(group, at);
            output.Add(Detect(key, group.Events(), at, group.Count, Rule.Threshold,
                $"{group.Count} matching events within {Manifests.Durations.Format(Rule.Window)} for {GroupByText} = '{key}' (threshold {Rule.Threshold})"));
        }
    }

    public override long OldestTicks() => Groups.Count == 0 ? long.MaxValue : Groups.Values.Min(g => g.OldestTicks(g.SuppressedUntil - Rule.Suppress.Ticks));
}

internal sealed class DistinctEvaluator(RuleDefinition rule, RuleEngineOptions options) : KeyedEvaluator<WindowGroup>(rule, options)
{
    private readonly Func<NormalizedEvent, string?> _value = EventFields.Compile(rule.Field!);

    public override void OnEvent(NormalizedEvent e, long at, List<RuleDetection> output)
    {
        if (!Matches(e) || _value(e) is not { } value || GroupKeyOf(e) is not { } key)
        {
            return;
        }

        var group = GetOrAdd(key, at);
        group.Prune(at, WindowTicks);
        group.Add(EventRef.Of(e, at, Pool), Pool.Share(value));
        var distinct = group.DistinctCount;
        if (distinct >= Rule.Threshold && !Suppressed(group, at))
        {
            Suppress(group, at);
            output.Add(Detect(key, group.Events(), at, distinct, Rule.Threshold,
                $"{distinct} distinct {Rule.Field} within {Manifests.Durations.Format(Rule.Window)} for {GroupByText} = '{key}' (threshold {Rule.Threshold}; {group.Count} events)"));
        }
    }

    public override long OldestTicks() => Groups.Count == 0 ? long.MaxValue : Groups.Values.Min(g => g.OldestTicks(g.SuppressedUntil - Rule.Suppress.Ticks));
}

internal sealed class RunGroup : GroupState
{
    /// <summary>The latest event of each number in the window.</summary>
    public Dictionary<long, EventRef> Numbers { get; } = new(1);

    /// <summary>Numbers in arrival order with their events' times, to drop them when they leave the window.</summary>
    public Queue<(long Number, long Ticks)> Order { get; } = new(1);

    public long LastTicks { get; set; } = long.MinValue;

    public override long ExpiresAt(long window) => Order.Count == 0 ? long.MinValue : LastTicks + window;
}

internal sealed class RunEvaluator(RuleDefinition rule, RuleEngineOptions options) : KeyedEvaluator<RunGroup>(rule, options)
{
    private readonly Func<NormalizedEvent, string?> _value = EventFields.Compile(rule.Field!);

    public override void OnEvent(NormalizedEvent e, long at, List<RuleDetection> output)
    {
        if (!Matches(e) || !long.TryParse(_value(e), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) || GroupKeyOf(e) is not { } key)
        {
            return;
        }

        var group = GetOrAdd(key, at);
        while (group.Order.TryPeek(out var oldest) && oldest.Ticks <= at - WindowTicks)
        {
            group.Order.Dequeue();
            if (group.Numbers.TryGetValue(oldest.Number, out var current) && current.Ticks == oldest.Ticks)
            {
                group.Numbers.Remove(oldest.Number);
            }
        }

        var reference = EventRef.Of(e, at, Pool);
        group.Numbers[number] = reference;
        group.Order.Enqueue((number, at));
        group.LastTicks = at;
        if (Suppressed(group, at))
        {
            return;
        }

        var low = number;
        var high = number;
        while (low > long.MinValue && group.Numbers.ContainsKey(low - 1))
        {
            low--;
        }

        while (high < long.MaxValue && group.Numbers.ContainsKey(high + 1))
        {
            high++;
        }

        var length = high - low + 1;
        if (length >= Rule.Threshold)
        {
            Suppress(group, at);
            var events = new List<EventRef>((int)Math.Min(length, 10_000));
            for (var n = low; n <= high && events.Count < 10_000; n++)
            {
                events.Add(group.Numbers[n]);
            }

            events.Sort((a, b) => a.Ticks.CompareTo(b.Ticks));
            output.Add(Detect(key, events, at, length, Rule.Threshold,
                $"a run of {length} consecutive values of {Rule.Field} ({low}..{high}) within {Manifests.Durations.Format(Rule.Window)} (threshold {Rule.Threshold})"));
        }
    }

    public override long OldestTicks() => Groups.Count == 0 ? long.MaxValue : Groups.Values.Min(g => g.Order.TryPeek(out var e) ? e.Ticks : g.SuppressedUntil - Rule.Suppress.Ticks);
}

internal sealed class FirstSeenGroup : GroupState
{
    public List<string> Values { get; } = new(1);

    public long LastSeen { get; set; }

    public override long ExpiresAt(long window) => LastSeen + window;
}

internal sealed class FirstSeenEvaluator(RuleDefinition rule, RuleEngineOptions options) : KeyedEvaluator<FirstSeenGroup>(rule, options)
{
    private readonly Func<NormalizedEvent, string?> _value = EventFields.Compile(rule.Field!);
    private long? _learningEnds;

    public override void OnEvent(NormalizedEvent e, long at, List<RuleDetection> output)
    {
        _learningEnds ??= at + Rule.Learning.Ticks;
        if (!Matches(e) || _value(e) is not { } value || GroupKeyOf(e) is not { } key)
        {
            return;
        }

        var group = GetOrAdd(key, at);
        group.LastSeen = at;
        var index = group.Values.IndexOf(value);
        if (index >= 0)
        {
            // Most recently seen last, so the value dropped at the cap is the least recently seen.
            group.Values.RemoveAt(index);
            group.Values.Add(value);
            return;
        }

        if (group.Values.Count > 0 && at >= _learningEnds && !Suppressed(group, at))
        {
            Suppress(group, at);
            output.Add(Detect(key, [EventRef.Of(e, at, Pool)], at, 1, 1,
                $"{Rule.Field} '{value}' is new for {GroupByText} = '{key}' (known: {string.Join(", ", group.Values)})"));
        }

        if (group.Values.Count >= Options.MaxValuesPerEntity)
        {
            group.Values.RemoveAt(0);
        }

        group.Values.Add(value);
    }

    public override long OldestTicks() => Groups.Count == 0 ? long.MaxValue : Groups.Values.Min(g => g.LastSeen - Rule.Window.Ticks);
}
