namespace Bulwark.Sdk.AspNetCore.Idempotency;

/// <summary>
/// The default <see cref="IIdempotencyStore"/>: one process's memory, at most a fixed number of stored responses. When
/// it is full, storing a response evicts the oldest; expired responses are dropped as they are met. Requests in
/// progress are tracked apart (they are bounded by the server's concurrency, and each is freed when its request ends),
/// so a long request is never evicted while it runs.
/// </summary>
/// <remarks>
/// Memory is bounded by <c>maxEntries</c> times the largest stored response
/// (<see cref="IdempotencyOptions.MaxResponseBodyBytes"/> plus headers). Every read of the clock goes through the
/// <see cref="TimeProvider"/> given to the constructor.
/// </remarks>
public sealed class MemoryIdempotencyStore : IIdempotencyStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<IdempotencyKey, string> _inProgress = [];
    private readonly Dictionary<IdempotencyKey, LinkedListNode<Stored>> _stored = [];
    private readonly LinkedList<Stored> _oldestFirst = new();
    private readonly int _maxEntries;
    private readonly TimeProvider _time;

    /// <summary>Creates an empty store.</summary>
    /// <param name="maxEntries">The most responses kept; at least 1.</param>
    /// <param name="timeProvider">The clock that decides expiry.</param>
    public MemoryIdempotencyStore(int maxEntries, TimeProvider timeProvider)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 1);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _maxEntries = maxEntries;
        _time = timeProvider;
    }

    /// <summary>The number of stored responses, expired ones not yet dropped included.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _stored.Count;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<IdempotencyReservation> ReserveAsync(IdempotencyKey key, string fingerprint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            DropExpired(now);
            if (_stored.TryGetValue(key, out var node))
            {
                if (node.Value.Response.ExpiresAt > now)
                {
                    return ValueTask.FromResult(IdempotencyReservation.Completed(node.Value.Response));
                }

                Remove(node);
            }

            if (_inProgress.TryGetValue(key, out var holder))
            {
                return ValueTask.FromResult(IdempotencyReservation.InProgress(holder));
            }

            _inProgress.Add(key, fingerprint);
            return ValueTask.FromResult(IdempotencyReservation.Reserved);
        }
    }

    /// <inheritdoc />
    public ValueTask CompleteAsync(IdempotencyKey key, IdempotentResponse response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            _inProgress.Remove(key);
            DropExpired(now);
            if (_stored.TryGetValue(key, out var existing))
            {
                Remove(existing);
            }

            while (_stored.Count >= _maxEntries)
            {
                Remove(_oldestFirst.First!);
            }

            _stored.Add(key, _oldestFirst.AddLast(new Stored(key, response)));
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask ReleaseAsync(IdempotencyKey key, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _inProgress.Remove(key);
        }

        return ValueTask.CompletedTask;
    }

    // Responses are appended as they are stored, so with one retention the expired ones are at the front. A response
    // stored with a shorter retention behind a longer one is caught by the check in ReserveAsync instead.
    private void DropExpired(DateTimeOffset now)
    {
        while (_oldestFirst.First is { } oldest && oldest.Value.Response.ExpiresAt <= now)
        {
            Remove(oldest);
        }
    }

    private void Remove(LinkedListNode<Stored> node)
    {
        _oldestFirst.Remove(node);
        _stored.Remove(node.Value.Key);
    }

    private sealed record Stored(IdempotencyKey Key, IdempotentResponse Response);
}
