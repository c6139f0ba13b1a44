namespace Bulwark.Throttling;

/// <summary>
/// One layer's GCRA state: key hash → TAT, 16 bytes a slot, in 64 stripes of open-addressing tables (linear probing)
/// that grow by doubling up to the layer's bound. A key whose TAT is not after now has a full bucket, which is the same
/// as no state, so such entries are dropped whenever a stripe is rebuilt — memory follows the keys that are live, not
/// every key ever seen. At most the layer's bound is tracked across stripes (and a stripe takes at most twice its fair
/// share, plus a little); when live keys fill it, further new keys share their stripe's overflow TAT. Callers hold
/// <see cref="Stripe.Gate"/> around every access to a stripe.
/// </summary>
internal sealed class KeyTable
{
    public const int StripeCount = 64;
    private const int StripeShift = 58;
    private readonly Stripe[] _stripes = new Stripe[StripeCount];
    private readonly int _maxKeys;
    private int _total;

    public KeyTable(int maxKeys)
    {
        _maxKeys = maxKeys;
        var perStripe = (2 * Math.Max(1, (maxKeys + StripeCount - 1) / StripeCount)) + 8;
        for (var i = 0; i < StripeCount; i++)
        {
            _stripes[i] = new Stripe(this, perStripe);
        }
    }

    private long _nextSweep;

    /// <summary>Keys tracked across stripes.</summary>
    public int Total => Volatile.Read(ref _total);

    /// <summary>
    /// At the bound: drops the expired keys of the other stripes that are free right now (never waits for a lock, so a
    /// caller holding stripe locks cannot deadlock), at most once a second.
    /// </summary>
    private void SweepOthers(Stripe caller, long now)
    {
        if (now < Interlocked.Read(ref _nextSweep))
        {
            return;
        }

        Interlocked.Exchange(ref _nextSweep, now + TimeSpan.TicksPerSecond);
        foreach (var stripe in _stripes)
        {
            if (ReferenceEquals(stripe, caller) || !stripe.Gate.TryEnter())
            {
                continue;
            }

            try
            {
                stripe.Sweep(now);
            }
            finally
            {
                stripe.Gate.Exit();
            }
        }
    }

    public Stripe StripeOf(ulong hash) => _stripes[(int)(hash >> StripeShift)];

    /// <summary>Slots in use across stripes (live or not yet dropped), for metrics; takes each stripe's lock in turn.</summary>
    public long Count
    {
        get
        {
            long count = 0;
            foreach (var stripe in _stripes)
            {
                lock (stripe.Gate)
                {
                    count += stripe.Count;
                }
            }

            return count;
        }
    }

    /// <summary>Bytes held by the tables' slot arrays.</summary>
    public long AllocatedBytes
    {
        get
        {
            long bytes = 0;
            foreach (var stripe in _stripes)
            {
                lock (stripe.Gate)
                {
                    bytes += stripe.Capacity * 16L;
                }
            }

            return bytes;
        }
    }

    internal sealed class Stripe(KeyTable table, int maxKeys)
    {
        private const int InitialCapacity = 8;
        private static readonly long SweepPause = TimeSpan.FromSeconds(1).Ticks;
        private readonly int _maxCapacity = (int)Math.Min(1 << 30, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(InitialCapacity, (maxKeys * 4L / 3) + 1)));
        private ulong[] _hashes = new ulong[InitialCapacity];
        private long[] _tats = new long[InitialCapacity];
        private long _overflowTat;
        private long _nextSweep;

        public Lock Gate { get; } = new();

        public int Count { get; private set; }

        public int Capacity => _hashes.Length;

        /// <summary>
        /// The stored TAT of <paramref name="hash"/>; <see cref="long.MinValue"/> for a key without state that will fit;
        /// the overflow TAT for one that will not (the stripe is at its bound with live keys).
        /// </summary>
        public long Find(ulong hash, long now)
        {
            var mask = _hashes.Length - 1;
            for (var slot = (int)hash & mask; ; slot = (slot + 1) & mask)
            {
                var found = _hashes[slot];
                if (found == hash)
                {
                    return _tats[slot];
                }

                if (found == 0)
                {
                    return MakeRoom(now) ? long.MinValue : _overflowTat;
                }
            }
        }

        /// <summary>Stores a TAT for <paramref name="hash"/>, inserting the key (or using the overflow TAT at the bound).</summary>
        public void Store(ulong hash, long tat, long now)
        {
            var mask = _hashes.Length - 1;
            var slot = (int)hash & mask;
            while (true)
            {
                var found = _hashes[slot];
                if (found == hash)
                {
                    _tats[slot] = tat;
                    return;
                }

                if (found == 0)
                {
                    break;
                }

                slot = (slot + 1) & mask;
            }

            if (!MakeRoom(now))
            {
                _overflowTat = Math.Max(_overflowTat, tat);
                return;
            }

            Insert(hash, tat);
        }

        /// <summary>Grows or sweeps so that one more key fits under the load factor and the bound.</summary>
        private bool HasRoom => (Count + 1) * 4 <= _hashes.Length * 3 && Count < maxKeys && table.Total < table._maxKeys;

        private bool MakeRoom(long now)
        {
            if (HasRoom)
            {
                return true;
            }

            var capacity = (Count + 1) * 4 > _hashes.Length * 3 && _hashes.Length < _maxCapacity ? _hashes.Length * 2 : _hashes.Length;
            if (capacity == _hashes.Length && now < _nextSweep)
            {
                return false;
            }

            Rebuild(capacity, now);
            if (!HasRoom && table.Total >= table._maxKeys)
            {
                table.SweepOthers(this, now);
            }

            if (HasRoom)
            {
                return true;
            }

            // Every key here is live: keep the overflow bucket for new keys a while rather than sweeping on each one.
            _nextSweep = now + SweepPause;
            return false;
        }

        /// <summary>Drops expired keys in place (the caller holds <see cref="Gate"/>).</summary>
        public void Sweep(long now) => Rebuild(_hashes.Length, now);

        private void Rebuild(int capacity, long now)
        {
            var hashes = _hashes;
            var tats = _tats;
            _hashes = new ulong[capacity];
            _tats = new long[capacity];
            Interlocked.Add(ref table._total, -Count);
            Count = 0;
            for (var i = 0; i < hashes.Length; i++)
            {
                if (hashes[i] != 0 && tats[i] > now)
                {
                    Insert(hashes[i], tats[i]);
                }
            }

            if (_overflowTat <= now)
            {
                _overflowTat = 0;
            }
        }

        private void Insert(ulong hash, long tat)
        {
            var mask = _hashes.Length - 1;
            var slot = (int)hash & mask;
            while (_hashes[slot] != 0)
            {
                slot = (slot + 1) & mask;
            }

            _hashes[slot] = hash;
            _tats[slot] = tat;
            Count++;
            Interlocked.Increment(ref table._total);
        }
    }
}
