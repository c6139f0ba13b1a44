namespace Bulwark.Throttling;

/// <summary>
/// One layer's GCRA state: key hash → TAT, 16 bytes a slot, in 64 stripes of open-addressing tables (linear probing)
/// that grow by doubling up to the layer's bound. A key whose TAT is not after now has a full bucket, which is the same
/// as no state, so such entries are dropped whenever a stripe is rebuilt — memory follows the keys that are live, not
/// every key ever seen. At most the layer's bound is tracked across stripes (and a stripe takes at most twice its fair
/// share, plus a little); when live keys fill it, further new keys share their stripe's overflow TAT. Callers hold
/// a stripe's lock (<see cref="Stripe.Enter"/> … <see cref="Stripe.Exit"/>) around every access to it.
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
            if (ReferenceEquals(stripe, caller) || !stripe.TryEnter())
            {
                continue;
            }

            try
            {
                stripe.Sweep(now);
            }
            finally
            {
                stripe.Exit();
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
                stripe.Enter();
                try
                {
                    count += stripe.Count;
                }
                finally
                {
                    stripe.Exit();
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
                stripe.Enter();
                try
                {
                    bytes += stripe.Capacity * 16L;
                }
                finally
                {
                    stripe.Exit();
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
        // Hash and TAT side by side: a cold key costs one cache miss, not one per array.
        private Slot[] _slots = new Slot[InitialCapacity];
        private long _overflowTat;
        private long _nextSweep;

        // A spin lock: a decision holds it for a few dozen nanoseconds, and releasing it is a plain store where a
        // Lock takes a second interlocked operation (8 of a decision's 70 ns in cache). Only a rebuild (a stripe
        // doubling or sweeping, at most once a second per stripe at the bound) holds it longer; waiters then back off
        // to yielding and sleeping (SpinWait). Never copied: a field of this class, used by reference.
        private SpinLock _gate = new(enableThreadOwnerTracking: false);

        /// <summary>Takes the stripe's lock.</summary>
        public void Enter()
        {
            var taken = false;
            _gate.Enter(ref taken);
        }

        /// <summary>Takes the stripe's lock if it is free now.</summary>
        public bool TryEnter()
        {
            var taken = false;
            _gate.TryEnter(ref taken);
            return taken;
        }

        /// <summary>Releases the stripe's lock.</summary>
        public void Exit() => _gate.Exit(useMemoryBarrier: false);

        public int Count { get; private set; }

        public int Capacity => _slots.Length;

        /// <summary><see cref="Find"/>'s slot for a key without state that will fit: <see cref="Store"/> inserts it.</summary>
        public const int NewKey = -1;

        /// <summary><see cref="Find"/>'s slot for a key that will not fit: it shares the stripe's overflow TAT.</summary>
        public const int Overflow = -2;

        /// <summary>
        /// Finds <paramref name="hash"/>: its slot and stored TAT; <see cref="NewKey"/> and <see cref="long.MinValue"/>
        /// for a key without state that will fit; <see cref="Overflow"/> and the overflow TAT for one that will not (the
        /// stripe is at its bound with live keys). The slot is good for one <see cref="Store"/> under the same lock.
        /// </summary>
        public int Find(ulong hash, long now, out long tat)
        {
            var slots = _slots;
            var mask = slots.Length - 1;
            for (var slot = (int)hash & mask; ; slot = (slot + 1) & mask)
            {
                ref var found = ref slots[slot];
                if (found.Hash == hash)
                {
                    tat = found.Tat;
                    return slot;
                }

                if (found.Hash == 0)
                {
                    if (MakeRoom(now))
                    {
                        tat = long.MinValue;
                        return NewKey;
                    }

                    tat = _overflowTat;
                    return Overflow;
                }
            }
        }

        /// <summary>Stores a TAT for <paramref name="hash"/> at the slot <see cref="Find"/> gave.</summary>
        public void Store(int slot, ulong hash, long tat)
        {
            switch (slot)
            {
                case NewKey:
                    Insert(hash, tat);
                    break;
                case Overflow:
                    _overflowTat = Math.Max(_overflowTat, tat);
                    break;
                default:
                    _slots[slot].Tat = tat;
                    break;
            }
        }

        /// <summary>Grows or sweeps so that one more key fits under the load factor and the bound.</summary>
        private bool HasRoom => (Count + 1) * 4 <= _slots.Length * 3 && Count < maxKeys && table.Total < table._maxKeys;

        private bool MakeRoom(long now)
        {
            if (HasRoom)
            {
                return true;
            }

            var capacity = (Count + 1) * 4 > _slots.Length * 3 && _slots.Length < _maxCapacity ? _slots.Length * 2 : _slots.Length;
            if (capacity == _slots.Length && now < _nextSweep)
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

        /// <summary>Drops expired keys in place (the caller holds the lock).</summary>
        public void Sweep(long now) => Rebuild(_slots.Length, now);

        private void Rebuild(int capacity, long now)
        {
            var old = _slots;
            _slots = new Slot[capacity];
            Interlocked.Add(ref table._total, -Count);
            Count = 0;
            foreach (var (hash, tat) in old)
            {
                if (hash != 0 && tat > now)
                {
                    Insert(hash, tat);
                }
            }

            if (_overflowTat <= now)
            {
                _overflowTat = 0;
            }
        }

        private void Insert(ulong hash, long tat)
        {
            var slots = _slots;
            var mask = slots.Length - 1;
            var slot = (int)hash & mask;
            while (slots[slot].Hash != 0)
            {
                slot = (slot + 1) & mask;
            }

            slots[slot] = new Slot(hash, tat);
            Count++;
            Interlocked.Increment(ref table._total);
        }
    }

    /// <summary>A key's hash (0: empty) and its TAT.</summary>
    private record struct Slot(ulong Hash, long Tat);
}
