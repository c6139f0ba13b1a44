using System.Runtime.CompilerServices;

namespace Bulwark.Throttling;

/// <summary>
/// Decides checks against one throttle. Every layer that applies (its key is given) must admit the cost, and the
/// layers' buckets move together or not at all: the stripes involved are locked in layer order (so concurrent checks
/// cannot deadlock), every layer is tried, and only when all admit are their TATs stored. A denial counts towards the
/// key's escalation; a key past <see cref="ThrottleEscalation.BlockAfter"/> is blocked without touching its buckets, and
/// one past <see cref="ThrottleEscalation.ChallengeAfter"/> is challenged when admitted. A key under a manual block
/// (<see cref="Block"/>) is blocked before anything else, even in shadow mode. The server and the SDK both decide with
/// this class. A decision allocates nothing (IPv6 subnet keys aside).
/// </summary>
public sealed class ThrottleEngine
{
    private readonly Layer[] _layers;
    private readonly KeyHash _hash;
    private volatile Tightened? _tightened;
    private volatile ManualBlocks? _manual;

    /// <summary>An engine with empty buckets.</summary>
    /// <param name="policy">A valid policy (see <see cref="ThrottleKind"/>).</param>
    /// <param name="hash">The key hash; random by default.</param>
    public ThrottleEngine(ThrottlePolicy policy, KeyHash? hash = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (policy.Layers.Count is 0 or > ThrottlePolicy.MaxLayers)
        {
            throw new ArgumentException($"a throttle has from 1 to {ThrottlePolicy.MaxLayers} layers", nameof(policy));
        }

        Policy = policy;
        _hash = hash ?? KeyHash.Random();
        _layers = [.. policy.Layers.Select(l => new Layer(l, policy))];
    }

    /// <summary>The policy.</summary>
    public ThrottlePolicy Policy { get; }

    /// <summary>The tightening in force (possibly lapsed; <see cref="Decide(ThrottleKeys, long, DateTimeOffset)"/> ignores a lapsed one).</summary>
    public ThrottleTightening? Tightening => _tightened?.Tightening;

    /// <summary>Applies a tightening, replacing any other; null lifts it.</summary>
    /// <param name="tightening">The tightening.</param>
    public void Tighten(ThrottleTightening? tightening)
    {
        if (tightening is null)
        {
            _tightened = null;
            return;
        }

        if (!(tightening.Factor > 1 && tightening.Factor <= ThrottleTightening.MaxFactor))
        {
            throw new ArgumentOutOfRangeException(nameof(tightening), tightening.Factor, $"the factor must be above 1 and at most {ThrottleTightening.MaxFactor}");
        }

        var intervals = new long[_layers.Length];
        var bursts = new long[_layers.Length];
        var limits = new long[_layers.Length];
        for (var i = 0; i < _layers.Length; i++)
        {
            var layer = _layers[i];
            if (tightening.Layers is { } names && !names.Contains(layer.Definition.Name))
            {
                (intervals[i], bursts[i], limits[i]) = (layer.Interval, layer.Definition.Burst, layer.Definition.Limit);
                continue;
            }

            bursts[i] = Math.Max(1, (long)(layer.Definition.Burst / tightening.Factor));
            intervals[i] = (long)Math.Min(Math.Ceiling(layer.Interval * tightening.Factor), Gcra.MaxRefill.Ticks / bursts[i]);
            limits[i] = (long)(layer.Definition.Limit / tightening.Factor);
        }

        _tightened = new Tightened(tightening, tightening.Until.UtcTicks, intervals, bursts, limits);
    }

    /// <summary>
    /// Replaces the manual blocks the engine enforces (those of other throttles are ignored; of two blocks of one key,
    /// the later expiry counts). A blocked key is denied with reason <see cref="ThrottleReason.Blocked"/> until its
    /// block lapses, whatever the limits, without touching its buckets or counting towards escalation.
    /// </summary>
    /// <param name="blocks">The blocks in force; none (or <see langword="null"/>) lifts them all.</param>
    public void Block(IEnumerable<ThrottleManualBlock>? blocks)
    {
        var layers = new Dictionary<ulong, ManualEntry>?[_layers.Length];
        var any = false;
        foreach (var block in blocks ?? [])
        {
            if (block.Throttle != Policy.Name)
            {
                continue;
            }

            var network = ThrottleManualBlock.IsNetwork(block.Key);
            for (var i = 0; i < _layers.Length; i++)
            {
                var layer = _layers[i];
                var hash = layer.TakesManualBlock(network) ? layer.HashOfValue(block.Key, _hash) : 0;
                if (hash == 0)
                {
                    continue;
                }

                var entries = layers[i] ??= [];
                if (!entries.TryGetValue(hash, out var held) || held.UntilTicks < block.Until.UtcTicks)
                {
                    entries[hash] = new ManualEntry(block.Until.UtcTicks, block.Key);
                }

                any = true;
            }
        }

        _manual = any ? new ManualBlocks(layers) : null;
    }

    /// <summary>Decides a check.</summary>
    /// <param name="keys">The keys of the check.</param>
    /// <param name="cost">Units it costs (0 reads the state without taking anything).</param>
    /// <param name="now">The current time.</param>
    /// <returns>The decision.</returns>
    public ThrottleDecision Decide(ThrottleKeys keys, long cost, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return Decide(keys.Pairs, cost, now);
    }

    /// <summary>
    /// Decides a check whose keys are given as name–value pairs, e.g. <c>Decide([("ip", ip), ("user", user)], 1, now)</c>:
    /// nothing is built or allocated for the keys (a name given twice: the first one counts; an empty value, as a
    /// missing key, leaves its layer out).
    /// </summary>
    /// <param name="keys">The keys of the check.</param>
    /// <param name="cost">Units it costs (0 reads the state without taking anything).</param>
    /// <param name="now">The current time.</param>
    /// <returns>The decision.</returns>
    [SkipLocalsInit] // the stack buffers are written for every layer before they are read
    public ThrottleDecision Decide(ReadOnlySpan<(string Name, string Value)> keys, long cost, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cost);
        var ticks = now.UtcTicks;
        var tightened = _tightened is { } t && t.UntilTicks > ticks ? t : null;
        var count = _layers.Length;
        Span<ulong> hashes = stackalloc ulong[ThrottlePolicy.MaxLayers];
        var any = false;
        for (var i = 0; i < count; i++)
        {
            hashes[i] = _layers[i].HashOf(keys, _hash);
            any |= hashes[i] != 0;
        }

        if (!any)
        {
            return new ThrottleDecision(ThrottleDecisionKind.Allow, ThrottleReason.None, null, 0, TimeSpan.Zero, 0, TimeSpan.Zero, null, Policy.Shadow);
        }

        // A blocked key is answered without touching any bucket: a manual block first (it holds even in shadow mode).
        if (_manual is { } manual && manual.Find(_layers, hashes, keys, ticks) is var (blockedLayer, until) && blockedLayer >= 0)
        {
            var layer = _layers[blockedLayer];
            var wait = TimeSpan.FromTicks(until - ticks);
            return new ThrottleDecision(ThrottleDecisionKind.Block, ThrottleReason.Blocked, layer.Definition.Name, LimitOf(blockedLayer, tightened), layer.Definition.Per, 0, wait, wait, false)
            {
                BlockedUntil = new DateTimeOffset(until, TimeSpan.Zero),
                ManualBlock = true,
            };
        }

        var challenged = -1;
        for (var i = 0; i < count; i++)
        {
            if (hashes[i] != 0 && _layers[i].Escalations is { IsEmpty: false } escalations)
            {
                var (blockedUntil, isChallenged) = escalations.StateOf(hashes[i], ticks);
                if (blockedUntil > ticks)
                {
                    var layer = _layers[i];
                    var wait = TimeSpan.FromTicks(blockedUntil - ticks);
                    return new ThrottleDecision(ThrottleDecisionKind.Block, ThrottleReason.Blocked, layer.Definition.Name, LimitOf(i, tightened), layer.Definition.Per, 0, wait, wait, Policy.Shadow)
                    {
                        BlockedUntil = new DateTimeOffset(blockedUntil, TimeSpan.Zero),
                    };
                }

                if (isChallenged && challenged < 0)
                {
                    challenged = i;
                }
            }
        }

        Span<GcraResult> results = stackalloc GcraResult[ThrottlePolicy.MaxLayers];
        var allowed = Attempt(hashes, results, cost, ticks, tightened);
        if (allowed)
        {
            var closest = -1;
            for (var i = 0; i < count; i++)
            {
                if (hashes[i] != 0 && (closest < 0 || results[i].Remaining < results[closest].Remaining))
                {
                    closest = i;
                }
            }

            var kind = challenged >= 0 ? ThrottleDecisionKind.Challenge : ThrottleDecisionKind.Allow;
            return Figures(kind, challenged >= 0 ? ThrottleReason.Escalated : ThrottleReason.None, closest, results[closest], tightened, null);
        }

        // Denied: report the layer that frees up last; count the denial against every layer that denied.
        var worst = -1;
        for (var i = 0; i < count; i++)
        {
            if (hashes[i] != 0 && !results[i].Allowed)
            {
                if (worst < 0 || results[worst].RetryAfter >= 0 && (results[i].RetryAfter < 0 || results[i].RetryAfter > results[worst].RetryAfter))
                {
                    worst = i;
                }

                _layers[i].Escalations?.Deny(hashes[i], _layers[i], keys, ticks);
            }
        }

        var retry = results[worst].RetryAfter;
        return Figures(
            ThrottleDecisionKind.Block,
            retry < 0 ? ThrottleReason.CostExceedsBurst : ThrottleReason.RateExceeded,
            worst,
            results[worst],
            tightened,
            retry < 0 ? null : TimeSpan.FromTicks(retry));
    }

    /// <summary>The keys blocked now, layer by layer.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>The blocks.</returns>
    public IReadOnlyList<ThrottleBlock> Blocks(DateTimeOffset now)
    {
        var blocks = new List<ThrottleBlock>();
        foreach (var layer in _layers)
        {
            layer.Escalations?.AddBlocks(layer.Definition.Name, now.UtcTicks, blocks);
        }

        return blocks;
    }

    /// <summary>Lifts a key's block and forgets its denials.</summary>
    /// <param name="key">The key's value (for a subnet layer, the subnet or any address in it).</param>
    /// <param name="layer">Only this layer; null for every layer.</param>
    /// <returns>Whether a block was lifted.</returns>
    public bool Unblock(string key, string? layer = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        var lifted = false;
        foreach (var candidate in _layers)
        {
            if ((layer is null || candidate.Definition.Name == layer) && candidate.Escalations is { } escalations &&
                candidate.HashOfValue(key, _hash) is var hash and not 0)
            {
                lifted |= escalations.Forget(hash);
            }
        }

        return lifted;
    }

    /// <summary>Keys tracked per layer (slots in use), for metrics.</summary>
    /// <returns>Layer name → count.</returns>
    public IReadOnlyList<(string Layer, long Keys, long Bytes)> TrackedKeys() =>
        [.. _layers.Select(l => (l.Definition.Name, l.Table.Count, l.Table.AllocatedBytes))];

    private bool Attempt(Span<ulong> hashes, Span<GcraResult> results, long cost, long ticks, Tightened? tightened)
    {
        var count = _layers.Length;
        Stripes stripes = default;
        Span<int> slots = stackalloc int[ThrottlePolicy.MaxLayers];
        var locked = 0;
        try
        {
            for (; locked < count; locked++)
            {
                if (hashes[locked] != 0)
                {
                    (stripes[locked] = _layers[locked].Table.StripeOf(hashes[locked])).Enter();
                }
            }

            var allowed = true;
            for (var i = 0; i < count; i++)
            {
                if (hashes[i] == 0)
                {
                    continue;
                }

                slots[i] = stripes[i].Find(hashes[i], ticks, out var tat);
                var (interval, burst) = tightened is null ? (_layers[i].Interval, _layers[i].Definition.Burst) : (tightened.Intervals[i], tightened.Bursts[i]);
                results[i] = Gcra.Attempt(tat == long.MinValue ? ticks : tat, ticks, interval, burst, cost);
                allowed &= results[i].Allowed;
            }

            if (allowed)
            {
                for (var i = 0; i < count; i++)
                {
                    if (hashes[i] != 0)
                    {
                        stripes[i].Store(slots[i], hashes[i], results[i].Tat);
                    }
                }
            }

            return allowed;
        }
        finally
        {
            for (var i = locked - 1; i >= 0; i--)
            {
                if (hashes[i] != 0)
                {
                    stripes[i].Exit();
                }
            }
        }
    }

    private ThrottleDecision Figures(ThrottleDecisionKind kind, ThrottleReason reason, int layer, GcraResult result, Tightened? tightened, TimeSpan? retryAfter) =>
        new(kind, reason, _layers[layer].Definition.Name, LimitOf(layer, tightened), _layers[layer].Definition.Per, result.Remaining, TimeSpan.FromTicks(result.ResetAfter), retryAfter, Policy.Shadow);

    private long LimitOf(int layer, Tightened? tightened) => tightened?.Limits[layer] ?? _layers[layer].Definition.Limit;

    private sealed record Tightened(ThrottleTightening Tightening, long UntilTicks, long[] Intervals, long[] Bursts, long[] Limits);

    private readonly record struct ManualEntry(long UntilTicks, string Key);

    /// <summary>The manual blocks by layer, as the hashes the layers compute for checks (an immutable snapshot).</summary>
    private sealed class ManualBlocks(Dictionary<ulong, ManualEntry>?[] layers)
    {
        /// <summary>The first layer whose key in the check is blocked now, with the block's expiry; layer -1 when none is.</summary>
        public (int Layer, long UntilTicks) Find(Layer[] definitions, ReadOnlySpan<ulong> hashes, ReadOnlySpan<(string Name, string Value)> keys, long ticks)
        {
            for (var i = 0; i < layers.Length; i++)
            {
                if (hashes[i] != 0 && layers[i] is { } entries && entries.TryGetValue(hashes[i], out var entry) && entry.UntilTicks > ticks
                    && definitions[i].IsValueOf(entry.Key, keys))
                {
                    return (i, entry.UntilTicks);
                }
            }

            return (-1, 0);
        }
    }

    /// <summary>The stripe each layer's key lives in, for one decision.</summary>
    [InlineArray(ThrottlePolicy.MaxLayers)]
    private struct Stripes
    {
        private KeyTable.Stripe _first;
    }

    /// <summary>A layer ready to decide: how it finds its key, its emission interval, its table and escalation state.</summary>
    internal sealed class Layer
    {
        private const ulong GlobalHash = 1;

        private readonly KeyKind _kind;

        public Layer(ThrottleLayer definition, ThrottlePolicy policy)
        {
            Definition = definition;
            _kind = definition.Key switch
            {
                "global" => KeyKind.Global,
                "subnet" => KeyKind.Subnet,
                _ => KeyKind.Named,
            };
            Interval = Gcra.EmissionInterval(definition.Limit, definition.Per);
            Table = new KeyTable(policy.MaxKeys);
            Escalations = policy.Escalation is { } rules ? new Escalations(rules, policy.MaxKeys) : null;
        }

        public ThrottleLayer Definition { get; }

        public long Interval { get; }

        public KeyTable Table { get; }

        public Escalations? Escalations { get; }

        /// <summary>The hash of this layer's key in <paramref name="keys"/>; 0 when the layer does not apply.</summary>
        public ulong HashOf(ReadOnlySpan<(string Name, string Value)> keys, KeyHash hash)
        {
            switch (_kind)
            {
                case KeyKind.Global:
                    return GlobalHash;
                case KeyKind.Subnet:
                    if (ThrottleKeys.TryGet(keys, "subnet", out var subnet))
                    {
                        return HashOfValue(subnet, hash);
                    }

                    return ThrottleKeys.TryGet(keys, "ip", out var ip) ? SubnetHash(ip, hash) : 0;
                default:
                    return ThrottleKeys.TryGet(keys, Definition.Key, out var value) ? hash.Of(value) : 0;
            }
        }

        /// <summary>The hash of a key value as an operator writes it (a subnet as an address or a network).</summary>
        public ulong HashOfValue(string value, KeyHash hash) => _kind switch
        {
            KeyKind.Global => GlobalHash,
            KeyKind.Subnet => SubnetHash(value.Split('/')[0], hash),
            _ => hash.Of(value),
        };

        /// <summary>Whether a manual block of a key applies to this layer: never to <c>global</c>, a network only to <c>subnet</c>.</summary>
        public bool TakesManualBlock(bool network) => _kind switch
        {
            KeyKind.Global => false,
            KeyKind.Subnet => network,
            _ => true,
        };

        /// <summary>
        /// Whether <paramref name="value"/> is this layer's key in the check (the hashes agreed): a named key compares
        /// its text, so a hash collision never blocks another key; a subnet key is its network's hash.
        /// </summary>
        public bool IsValueOf(string value, ReadOnlySpan<(string Name, string Value)> keys) =>
            _kind != KeyKind.Named || (ThrottleKeys.TryGet(keys, Definition.Key, out var given) && string.Equals(given, value, StringComparison.Ordinal));

        /// <summary>The key's text for people (a subnet as its network).</summary>
        public string TextOf(ReadOnlySpan<(string Name, string Value)> keys) => _kind switch
        {
            KeyKind.Global => "global",
            KeyKind.Subnet when ThrottleKeys.TryGet(keys, "subnet", out var subnet) => subnet,
            KeyKind.Subnet when ThrottleKeys.TryGet(keys, "ip", out var ip) && ThrottleKeys.TryGetSubnet(ip, out var network) => network,
            _ => ThrottleKeys.TryGet(keys, Definition.Key, out var value) ? value : string.Empty,
        };

        private static ulong SubnetHash(ReadOnlySpan<char> ip, KeyHash hash)
        {
            Span<byte> prefix = stackalloc byte[8];
            return ThrottleKeys.TryGetSubnetBytes(ip, prefix, out var length) ? hash.OfBytes(prefix[..length]) : hash.Of(ip);
        }
    }

    /// <summary>How a layer finds its key: none (one bucket for all), an address's network, or a named key.</summary>
    private enum KeyKind
    {
        Named,
        Global,
        Subnet,
    }
}
