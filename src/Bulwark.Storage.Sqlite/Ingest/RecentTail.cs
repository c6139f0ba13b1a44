namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>
/// The rows committed most recently to one of the store's files, in position order (snapshots by sequence number, events
/// by offset), kept after their commit so that a reader right behind the writer (the normalizer, the event consumers)
/// gets them without querying the file and decoding the rows back. It covers every row committed after a position (the
/// one when the store opened, then the last row it let go); a read that starts earlier — after a restart, a replay, or
/// a reader further behind than the tail holds — goes to the file.
/// </summary>
/// <typeparam name="T">A committed row.</typeparam>
internal sealed class RecentTail<T>(int capacity, Func<T, long> position)
    where T : class
{
    private readonly Lock _gate = new();
    private readonly T[] _ring = new T[Math.Max(1, capacity)];
    private int _start;
    private int _count;

    // Every row after this position is in the tail (none is, before Reset).
    private long _coveredAfter = long.MaxValue;

    /// <summary>Empties the tail: it covers what is committed after <paramref name="after"/>.</summary>
    public void Reset(long after)
    {
        lock (_gate)
        {
            Array.Clear(_ring);
            (_start, _count, _coveredAfter) = (0, 0, after);
        }
    }

    /// <summary>Adds the rows of one commit (in position order), letting the oldest go when full.</summary>
    public void Add(IReadOnlyList<T> committed)
    {
        lock (_gate)
        {
            foreach (var row in committed)
            {
                if (_count == _ring.Length)
                {
                    _coveredAfter = position(_ring[_start]);
                    _ring[_start] = null!;
                    _start = (_start + 1) % _ring.Length;
                    _count--;
                }

                _ring[(_start + _count) % _ring.Length] = row;
                _count++;
            }
        }
    }

    /// <summary>The rows after <paramref name="after"/>, up to <paramref name="limit"/>, when the tail covers them all.</summary>
    public bool TryRead(long after, int limit, out List<T> rows)
    {
        lock (_gate)
        {
            if (after < _coveredAfter)
            {
                rows = [];
                return false;
            }

            // Positions only grow: the first row past the given one is found by bisection.
            var (low, high) = (0, _count);
            while (low < high)
            {
                var middle = (low + high) >>> 1;
                if (position(_ring[(_start + middle) % _ring.Length]) <= after)
                {
                    low = middle + 1;
                }
                else
                {
                    high = middle;
                }
            }

            var take = Math.Min(limit, _count - low);
            rows = new List<T>(take);
            for (var i = low; i < low + take; i++)
            {
                rows.Add(_ring[(_start + i) % _ring.Length]);
            }

            return true;
        }
    }
}
