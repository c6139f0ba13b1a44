namespace Bulwark.Throttling;

/// <summary>
/// One layer's escalation state: denials per key within a window from the key's first denial, and blocks. Only keys
/// that were denied have an entry, so checks of a layer without any skip the lookup. At most the layer's key bound is
/// tracked: when full, entries whose window and block are over make room; if none can, a new key's denials are not
/// tracked (its requests are still limited by its bucket).
/// </summary>
internal sealed class Escalations(ThrottleEscalation rules, int maxKeys)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<ulong, Entry> _entries = [];
    private readonly long _window = rules.Window.Ticks;
    private readonly long _blockFor = rules.BlockFor.Ticks;
    private volatile int _count;

    public bool IsEmpty => _count == 0;

    /// <summary>When the key's block lapses (0 when not blocked), and whether it is to be challenged.</summary>
    public (long BlockedUntil, bool Challenged) StateOf(ulong hash, long now)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(hash, out var entry))
            {
                return (0, false);
            }

            var inWindow = now < entry.WindowStart + _window;
            return (entry.BlockedUntil, inWindow && rules.ChallengeAfter is { } challengeAfter && entry.Denials >= challengeAfter);
        }
    }

    /// <summary>Counts a denial of the key, blocking it when it reaches the threshold.</summary>
    public void Deny(ulong hash, ThrottleEngine.Layer layer, ReadOnlySpan<(string Name, string Value)> keys, long now)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(hash, out var entry))
            {
                if (_entries.Count >= maxKeys && !Prune(now))
                {
                    return;
                }

                entry = new Entry(layer.TextOf(keys), now);
                _entries[hash] = entry;
                _count = _entries.Count;
            }
            else if (now >= entry.WindowStart + _window)
            {
                entry.WindowStart = now;
                entry.Denials = 0;
            }

            entry.Denials++;
            if (rules.BlockAfter is { } blockAfter && entry.Denials >= blockAfter && entry.BlockedUntil <= now)
            {
                entry.BlockedUntil = now + _blockFor;
            }
        }
    }

    public void AddBlocks(string layer, long now, List<ThrottleBlock> blocks)
    {
        lock (_gate)
        {
            foreach (var entry in _entries.Values)
            {
                if (entry.BlockedUntil > now)
                {
                    blocks.Add(new ThrottleBlock(layer, entry.Key, new DateTimeOffset(entry.BlockedUntil, TimeSpan.Zero), entry.Denials));
                }
            }
        }
    }

    /// <summary>Forgets a key's denials and block.</summary>
    public bool Forget(ulong hash)
    {
        lock (_gate)
        {
            var blocked = _entries.Remove(hash, out var entry) && entry.BlockedUntil > 0;
            _count = _entries.Count;
            return blocked;
        }
    }

    private bool Prune(long now)
    {
        foreach (var (hash, entry) in _entries)
        {
            if (now >= entry.WindowStart + _window && entry.BlockedUntil <= now)
            {
                _entries.Remove(hash);
            }
        }

        _count = _entries.Count;
        return _entries.Count < maxKeys;
    }

    private sealed class Entry(string key, long windowStart)
    {
        public string Key { get; } = key;

        public long WindowStart { get; set; } = windowStart;

        public int Denials { get; set; }

        public long BlockedUntil { get; set; }
    }
}
