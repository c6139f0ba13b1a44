using System.Text;
using Bulwark.Ingest;

namespace Bulwark.Detection.Rules;

internal sealed class Partial(int steps)
{
    public required long Start { get; init; }

    // The first step's event inline (most partials never get further); the later steps' once one matches.
    private EventRef _first;
    private EventRef[]? _later;

    /// <summary>The event of matched step <paramref name="index"/> (below <see cref="Next"/>).</summary>
    public EventRef this[int index] => index == 0 ? _first : _later![index - 1];

    /// <summary>The events of the steps matched so far, in step order.</summary>
    public List<EventRef> Matched => [.. Enumerable.Range(0, Next).Select(i => this[i])];

    /// <summary>Records the event of step <paramref name="index"/>.</summary>
    public void Set(int index, EventRef e)
    {
        if (index == 0)
        {
            _first = e;
        }
        else
        {
            (_later ??= new EventRef[steps - 1])[index - 1] = e;
        }
    }

    public int Next { get; set; }

    public long Deadline { get; set; } = long.MaxValue;

    public bool Awaiting { get; set; }

    public long AdvancedBy { get; set; } = -1;
}

/// <summary>A group's partial matches, oldest first; the first is kept inline (most groups have one), more in a list.</summary>
internal sealed class SequenceGroup : GroupState
{
    private Partial? _first;
    private List<Partial>? _rest;

    public int Count => (_first is null ? 0 : 1) + (_rest?.Count ?? 0);

    public Partial this[int index] => index == 0 ? _first! : _rest![index - 1];

    public override long ExpiresAt(long window)
    {
        var latest = long.MinValue;
        for (var i = 0; i < Count; i++)
        {
            latest = Math.Max(latest, this[i].Start);
        }

        return Count == 0 ? long.MinValue : latest + window + 1;
    }

    public long OldestStart()
    {
        var oldest = long.MaxValue;
        for (var i = 0; i < Count; i++)
        {
            oldest = Math.Min(oldest, this[i].Start);
        }

        return oldest;
    }

    public void Add(Partial partial)
    {
        if (_first is null)
        {
            _first = partial;
        }
        else
        {
            (_rest ??= new List<Partial>(1)).Add(partial);
        }
    }

    public void RemoveAt(int index)
    {
        if (index > 0)
        {
            _rest!.RemoveAt(index - 1);
            return;
        }

        _first = _rest is { Count: > 0 } ? _rest[0] : null;
        _rest?.RemoveAt(0);
    }

    public bool Remove(Partial partial)
    {
        for (var i = 0; i < Count; i++)
        {
            if (ReferenceEquals(this[i], partial))
            {
                RemoveAt(i);
                return true;
            }
        }

        return false;
    }

    public void RemoveAll(Func<Partial, bool> match)
    {
        for (var i = Count - 1; i >= 0; i--)
        {
            if (match(this[i]))
            {
                RemoveAt(i);
            }
        }
    }
}

internal sealed class SequenceEvaluator : KeyedEvaluator<SequenceGroup>
{
    private readonly Func<NormalizedEvent, bool>[] _steps;
    private readonly int _positive;
    private readonly Func<NormalizedEvent, bool>? _absent;
    private readonly PriorityQueue<(string Key, Partial Partial), long> _deadlines = new();
    private long _sequence;

    public SequenceEvaluator(RuleDefinition rule, RuleEngineOptions options)
        : base(rule, options)
    {
        _positive = rule.Steps.Count(s => !s.Absent);
        _steps = [.. rule.Steps.Where(s => !s.Absent).Select(s => CompiledMatch.Compile(s.Match))];
        _absent = rule.Steps.FirstOrDefault(s => s.Absent) is { } absent ? CompiledMatch.Compile(absent.Match) : null;
    }

    public override void OnEvent(NormalizedEvent e, long at, List<RuleDetection> output)
    {
        var absent = _absent?.Invoke(e) == true;
        if ((!absent && !AnyStep(e)) || GroupKeyOf(e) is not { } key)
        {
            return;
        }

        var group = Groups.GetValueOrDefault(key);
        var stamp = ++_sequence;
        if (group is not null)
        {
            group.RemoveAll(p => !p.Awaiting && at - p.Start > WindowTicks);
            if (absent)
            {
                // A missing-event step is broken by any such event up to and including the deadline, in event time:
                // the deadline fires only once the watermark has passed it, so a B up to the lateness late still counts.
                var ticks = e.Timestamp.UtcTicks;
                group.RemoveAll(p => p.Awaiting && ticks <= p.Deadline);
            }

            for (var i = _positive - 1; i >= 1; i--)
            {
                if (!_steps[i](e))
                {
                    continue;
                }

                for (var p = 0; p < group.Count; p++)
                {
                    var partial = group[p];
                    if (partial.Awaiting || partial.Next != i || partial.AdvancedBy == stamp)
                    {
                        continue;
                    }

                    partial.Set(partial.Next, EventRef.Of(e, at, Pool));
                    partial.Next++;
                    partial.AdvancedBy = stamp;
                    if (Complete(key, group, partial, at, output))
                    {
                        group.RemoveAt(p--);
                    }
                }
            }
        }

        if (_steps[0](e))
        {
            group ??= GetOrAdd(key, at);
            if (group.Count >= Options.MaxPartialsPerGroup)
            {
                group.RemoveAt(0);
            }

            var partial = new Partial(_positive) { Start = at, Next = 1, AdvancedBy = stamp };
            partial.Set(0, EventRef.Of(e, at, Pool));
            if (!Complete(key, group, partial, at, output))
            {
                group.Add(partial);
            }

            ScheduleExpiry(key, at + WindowTicks + 1);
        }
    }

    public override void OnTime(long now, List<RuleDetection> output)
    {
        while (_deadlines.TryPeek(out var entry, out var deadline) && deadline < now)
        {
            _deadlines.Dequeue();
            if (!Groups.TryGetValue(entry.Key, out var group) || !group.Remove(entry.Partial))
            {
                continue;
            }

            if (!Suppressed(group, deadline))
            {
                Suppress(group, deadline);
                output.Add(Detect(entry.Key, entry.Partial.Matched, deadline, 1, 1, Explain(entry.Partial, absentMissing: true)));
            }
        }

        base.OnTime(now, output);
    }

    public override long OldestTicks() => Groups.Count == 0 ? long.MaxValue : Groups.Values.Min(g => g.Count > 0 ? g.OldestStart() : g.SuppressedUntil - Rule.Suppress.Ticks);

    private bool AnyStep(NormalizedEvent e)
    {
        foreach (var step in _steps)
        {
            if (step(e))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Handles a partial whose positive steps may all be done; returns whether it is finished with.</summary>
    private bool Complete(string key, SequenceGroup group, Partial partial, long at, List<RuleDetection> output)
    {
        if (partial.Next < _positive)
        {
            return false;
        }

        if (_absent is not null)
        {
            partial.Awaiting = true;
            partial.Deadline = partial.Start + WindowTicks;
            _deadlines.Enqueue((key, partial), partial.Deadline);
            return false;
        }

        if (!Suppressed(group, at))
        {
            Suppress(group, at);
            output.Add(Detect(key, partial.Matched, at, 1, 1, Explain(partial, absentMissing: false)));
        }

        return true;
    }

    private string Explain(Partial partial, bool absentMissing)
    {
        var text = new StringBuilder();
        var positive = Rule.Steps.Where(s => !s.Absent).ToList();
        for (var i = 0; i < partial.Next; i++)
        {
            if (i > 0)
            {
                text.Append(" then ");
            }

            text.Append(positive[i].Name).Append(" (").Append(partial[i].Id).Append(" at ").Append(Format(partial[i].Ticks)).Append(')');
        }

        if (absentMissing)
        {
            text.Append(", then no ").Append(Rule.Steps[^1].Name);
        }

        text.Append(" within ").Append(Manifests.Durations.Format(Rule.Window));
        return text.ToString();
    }
}

internal sealed class KOfNGroup : GroupState
{
    public Dictionary<string, (long At, RuleDetection Detection)> Fired { get; } = new(StringComparer.Ordinal);

    public override long ExpiresAt(long window) => Fired.Count == 0 ? long.MinValue : Fired.Values.Max(f => f.At) + window;
}

internal sealed class KOfNEvaluator(RuleDefinition rule, RuleEngineOptions options) : KeyedEvaluator<KOfNGroup>(rule, options)
{
    private readonly HashSet<string> _rules = new(rule.Rules, StringComparer.Ordinal);

    public override void OnEvent(NormalizedEvent e, long at, List<RuleDetection> output)
    {
    }

    public void OnDetection(RuleDetection detection, long at, List<RuleDetection> output)
    {
        if (!_rules.Contains(detection.Rule))
        {
            return;
        }

        var group = GetOrAdd(detection.GroupKey, at);
        foreach (var stale in group.Fired.Where(f => f.Value.At <= at - WindowTicks).Select(f => f.Key).ToList())
        {
            group.Fired.Remove(stale);
        }

        group.Fired[detection.Rule] = (at, detection);
        if (group.Fired.Count < Rule.Threshold || Suppressed(group, at))
        {
            return;
        }

        Suppress(group, at);
        var members = group.Fired.Values.Select(f => f.Detection).OrderBy(d => d.DetectedEventAt).ThenBy(d => d.Rule, StringComparer.Ordinal).ToList();
        var ids = members.SelectMany(d => d.EventIds).Distinct(StringComparer.Ordinal).Take(Options.MaxEventIdsPerDetection).ToList();
        var accounts = members.SelectMany(d => d.Accounts).Distinct(StringComparer.Ordinal).Take(Options.MaxEntitiesPerDetection).ToList();
        var ips = members.SelectMany(d => d.Ips).Distinct(StringComparer.Ordinal).Take(Options.MaxEntitiesPerDetection).ToList();
        var platforms = members.SelectMany(d => d.Platforms).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var first = members.Min(d => d.FirstEventAt).UtcTicks;
        output.Add(Build(detection.GroupKey, ids, members.Sum(d => d.EventCount), accounts, ips, platforms, first, at, members.Count, Rule.Threshold,
            $"{members.Count} of {Rule.Rules.Count} rules fired within {Manifests.Durations.Format(Rule.Window)} for '{detection.GroupKey}' (threshold {Rule.Threshold}): {string.Join(", ", members.Select(d => d.Rule))}"));
    }

    public override long OldestTicks() => Groups.Count == 0 ? long.MaxValue : Groups.Values.Min(g => g.Fired.Count > 0 ? g.Fired.Values.Min(f => f.Detection.FirstEventAt.UtcTicks) : g.SuppressedUntil - Rule.Suppress.Ticks);
}
