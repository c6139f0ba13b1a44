using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Bulwark.Json;
using Bulwark.Server.Metrics;
using Bulwark.Storage;
using Bulwark.Throttling;

namespace Bulwark.Server.Throttles;

/// <summary>A throttle as this node enforces it: the stored record and the engine holding its buckets.</summary>
internal sealed record LiveThrottle(ThrottleRecord Record, ThrottleEngine Engine);

/// <summary>What a permit request got from a throttle.</summary>
/// <param name="Granted">Units granted (at most those asked for).</param>
/// <param name="Decision">The throttle's decision for the units granted, or for one unit when none were.</param>
internal readonly record struct ThrottleTake(long Granted, ThrottleDecision Decision);

/// <summary>
/// The throttles this node enforces, loaded from the store at first use and updated by every change made through this
/// node. Buckets and escalation blocks live in memory, per node: a restart, or a change to a throttle's policy, starts
/// them empty (a tightening alone keeps them). Manual blocks are stored: loaded with the throttles, reloaded from the
/// store after each change, and handed to the engines as an immutable snapshot. Checks read immutable maps and take no
/// lock of their own.
/// </summary>
internal sealed class ThrottleRegistry(IControlStore store, TimeProvider time, ServerInstruments instruments) : IDisposable
{
    private readonly SemaphoreSlim _load = new(1, 1);
    private readonly Counter<long> _decisions = instruments.Meter.CreateCounter<long>(
        "bulwark.throttle.decisions", "{decision}", "Throttle checks answered, by throttle, decision, layer and whether in shadow mode");
    private volatile IReadOnlyDictionary<string, LiveThrottle>? _throttles;
    private volatile IReadOnlyDictionary<string, IReadOnlyList<ThrottleManualBlock>> _blocks = new Dictionary<string, IReadOnlyList<ThrottleManualBlock>>(StringComparer.Ordinal);

    public DateTimeOffset Now => time.GetUtcNow();

    public async ValueTask<LiveThrottle?> FindAsync(string name, CancellationToken cancellationToken)
    {
        var throttles = _throttles ?? await LoadAsync(cancellationToken).ConfigureAwait(false);
        return throttles.GetValueOrDefault(name);
    }

    public async ValueTask<IReadOnlyCollection<LiveThrottle>> AllAsync(CancellationToken cancellationToken) =>
        [.. (_throttles ?? await LoadAsync(cancellationToken).ConfigureAwait(false)).Values];

    /// <summary>Makes a committed record the one enforced: a changed policy gets a new engine, the tightening is applied.</summary>
    public async Task ApplyAsync(ThrottleRecord record, CancellationToken cancellationToken)
    {
        await (_throttles is null ? LoadAsync(cancellationToken) : Task.FromResult(_throttles)).ConfigureAwait(false);
        await _load.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var throttles = new Dictionary<string, LiveThrottle>(_throttles!, StringComparer.Ordinal);
            var engine = throttles.TryGetValue(record.Name, out var live) && SamePolicy(live.Record.Policy, record.Policy)
                ? live.Engine
                : new ThrottleEngine(record.Policy);
            engine.Tighten(record.TighteningAt(Now)?.Tightening);
            engine.Block(_blocks.GetValueOrDefault(record.Name));
            throttles[record.Name] = new LiveThrottle(record, engine);
            _throttles = throttles;
        }
        finally
        {
            _load.Release();
        }
    }

    /// <summary>
    /// Enforces a throttle's manual blocks as the store has them now (those in force). Called after every committed
    /// change; the read happens under the lock, so the last caller always reads every change committed before it.
    /// </summary>
    public async Task RefreshBlocksAsync(string name, CancellationToken cancellationToken)
    {
        await (_throttles is null ? LoadAsync(cancellationToken) : Task.FromResult(_throttles)).ConfigureAwait(false);
        await _load.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = Now;
            var read = await store.ListThrottleBlocksAsync(name, cancellationToken).ConfigureAwait(false);
            var blocks = new Dictionary<string, IReadOnlyList<ThrottleManualBlock>>(_blocks, StringComparer.Ordinal)
            {
                [name] = [.. read.Where(b => b.InForceAt(now))],
            };
            _blocks = blocks;
            if (_throttles!.TryGetValue(name, out var live))
            {
                live.Engine.Block(blocks[name]);
            }
        }
        finally
        {
            _load.Release();
        }
    }

    /// <summary>Enforces every throttle's manual blocks as the store has them now (after lapsed ones were swept).</summary>
    public async Task RefreshAllBlocksAsync(CancellationToken cancellationToken)
    {
        foreach (var live in await AllAsync(cancellationToken).ConfigureAwait(false))
        {
            await RefreshBlocksAsync(live.Record.Name, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Decides a check and counts it.</summary>
    public ThrottleDecision Decide(LiveThrottle throttle, ThrottleKeys keys, long cost)
    {
        var decision = throttle.Engine.Decide(keys, cost, Now);
        Count(throttle, decision);
        return decision;
    }

    /// <summary>
    /// Takes as many units as the throttle allows now, up to <paramref name="requested"/>: what a mass action's permit
    /// request gets. Reads the room first, then takes it; a concurrent taker may leave less, in which case fewer (or
    /// none) are granted — never more than the buckets allow.
    /// </summary>
    public ThrottleTake Take(LiveThrottle throttle, ThrottleKeys keys, long requested)
    {
        var now = Now;
        var room = throttle.Engine.Decide(keys, 0, now);
        if (requested <= 0)
        {
            return new ThrottleTake(0, room);
        }

        // In shadow mode the throttle never limits: ask for everything (and count what would have happened). With no
        // room, ask for one unit so that the answer carries the layer and when to retry.
        var ask = throttle.Record.Policy.Shadow ? requested
            : Math.Max(1, Math.Min(requested, room.Kind == ThrottleDecisionKind.Block ? 0 : room.Remaining));

        var decision = throttle.Engine.Decide(keys, ask, now);
        Count(throttle, decision);
        return new ThrottleTake(decision.Enforced == ThrottleDecisionKind.Block ? 0 : ask, decision);
    }

    private void Count(LiveThrottle throttle, ThrottleDecision decision) =>
        _decisions.Add(
            1,
            new KeyValuePair<string, object?>("throttle", throttle.Record.Name),
            new KeyValuePair<string, object?>("decision", ThrottleNames.Name(ThrottleNames.Decisions, decision.Kind)),
            new KeyValuePair<string, object?>("layer", decision.Layer ?? "none"),
            new KeyValuePair<string, object?>("shadow", decision.Shadow ? "true" : "false"));

    public void Dispose() => _load.Dispose();

    private static bool SamePolicy(ThrottlePolicy a, ThrottlePolicy b) =>
        CanonicalJson.AreEqual(ThrottleKind.Instance.ToDocument(a), ThrottleKind.Instance.ToDocument(b));

    private async Task<IReadOnlyDictionary<string, LiveThrottle>> LoadAsync(CancellationToken cancellationToken)
    {
        await _load.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_throttles is { } loaded)
            {
                return loaded;
            }

            var (records, _) = await store.ListThrottlesAsync(cancellationToken).ConfigureAwait(false);
            var now = Now;
            var blocks = (await store.ListThrottleBlocksAsync(null, cancellationToken).ConfigureAwait(false))
                .Where(b => b.InForceAt(now))
                .GroupBy(b => b.Throttle, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => (IReadOnlyList<ThrottleManualBlock>)[.. g], StringComparer.Ordinal);
            var throttles = new ConcurrentDictionary<string, LiveThrottle>(StringComparer.Ordinal);
            foreach (var record in records)
            {
                var engine = new ThrottleEngine(record.Policy);
                engine.Tighten(record.TighteningAt(now)?.Tightening);
                engine.Block(blocks.GetValueOrDefault(record.Name));
                throttles[record.Name] = new LiveThrottle(record, engine);
            }

            _blocks = blocks;
            _throttles = throttles;
            return throttles;
        }
        finally
        {
            _load.Release();
        }
    }
}
