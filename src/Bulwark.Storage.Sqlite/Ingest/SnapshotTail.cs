using Bulwark.Ingest;

namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>
/// The snapshots committed most recently, in sequence order, kept after their commit so that the normalizer reads what
/// was just acknowledged without querying the raw file and parsing it back. It covers every snapshot committed after
/// <see cref="CoveredAfter"/> (the position when the store opened, then the last one it let go); a read that starts
/// earlier — after a restart, a replay, or a normalizer further behind than the tail holds — goes to the file.
/// </summary>
internal sealed class SnapshotTail(int capacity)
{
    private readonly Lock _gate = new();
    private readonly RawSnapshot[] _ring = new RawSnapshot[Math.Max(1, capacity)];
    private int _start;
    private int _count;
    private long _coveredAfter = long.MaxValue;

    /// <summary>Every snapshot after this sequence number is in the tail (none is, before <see cref="Reset"/>).</summary>
    public long CoveredAfter
    {
        get
        {
            lock (_gate)
            {
                return _coveredAfter;
            }
        }
    }

    /// <summary>Empties the tail: it covers what is committed after <paramref name="position"/>.</summary>
    public void Reset(long position)
    {
        lock (_gate)
        {
            Array.Clear(_ring);
            (_start, _count, _coveredAfter) = (0, 0, position);
        }
    }

    /// <summary>Adds the snapshots of one commit (in sequence order), letting the oldest go when full.</summary>
    public void Add(IReadOnlyList<RawSnapshot> committed)
    {
        lock (_gate)
        {
            foreach (var snapshot in committed)
            {
                if (_count == _ring.Length)
                {
                    _coveredAfter = _ring[_start].Seq;
                    _ring[_start] = null!;
                    _start = (_start + 1) % _ring.Length;
                    _count--;
                }

                _ring[(_start + _count) % _ring.Length] = snapshot;
                _count++;
            }
        }
    }

    /// <summary>The snapshots after <paramref name="afterSeq"/>, up to <paramref name="limit"/>, when the tail covers them all.</summary>
    public bool TryRead(long afterSeq, int limit, out List<RawSnapshot> snapshots)
    {
        lock (_gate)
        {
            if (afterSeq < _coveredAfter)
            {
                snapshots = [];
                return false;
            }

            var first = 0;
            while (first < _count && _ring[(_start + first) % _ring.Length].Seq <= afterSeq)
            {
                first++;
            }

            var take = Math.Min(limit, _count - first);
            snapshots = new List<RawSnapshot>(take);
            for (var i = first; i < first + take; i++)
            {
                snapshots.Add(_ring[(_start + i) % _ring.Length]);
            }

            return true;
        }
    }
}
