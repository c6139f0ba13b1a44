using Bulwark.Ingest;

/// <summary>
/// A diagnostic for <c>webhooks --normalizer paused</c>: the event store behind a gate on
/// <see cref="IEventStore.WaitForSnapshotsAsync"/>, which only the normalizer worker calls between its batches (of at
/// most 256 snapshots). While the gate is shut the worker finishes the batch in hand and waits; the deliveries are
/// stored as usual. Measuring the real endpoint with the gate shut, then opening it for the catch-up, separates what
/// acknowledging a delivery costs from what normalizing it alongside costs. Everything else passes through. The host
/// puts the gate in only when <see cref="Variable"/> is set, so by default it is composed as <c>bulwark serve</c> is.
/// </summary>
internal sealed class NormalizerGate(IEventStore inner) : IEventStore
{
    /// <summary>The server environment variable that asks for the gate.</summary>
    public const string Variable = "BULWARK_BENCH_NORMALIZER_GATE";

    private readonly Lock _lock = new();
    private TaskCompletionSource _open = Opened();

    public IEventStore Inner { get; } = inner;

    public bool IsUnavailable(Exception failure) => Inner.IsUnavailable(failure);

    public bool Paused
    {
        get
        {
            lock (_lock)
            {
                return !_open.Task.IsCompleted;
            }
        }

        set
        {
            lock (_lock)
            {
                if (value && _open.Task.IsCompleted)
                {
                    _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                else if (!value)
                {
                    _open.TrySetResult();
                }
            }
        }
    }

    public long LastSnapshotSeq => Inner.LastSnapshotSeq;

    public long LastOffset => Inner.LastOffset;

    public static IEventStore Wrap(IEventStore store) =>
        Environment.GetEnvironmentVariable(Variable) == "1" ? new NormalizerGate(store) : store;

    public async Task WaitForSnapshotsAsync(long afterSeq, CancellationToken cancellationToken)
    {
        Task open;
        lock (_lock)
        {
            open = _open.Task;
        }

        await open.WaitAsync(cancellationToken);
        await Inner.WaitForSnapshotsAsync(afterSeq, cancellationToken);
    }

    public Task<int> MigrateAsync(CancellationToken cancellationToken = default) => Inner.MigrateAsync(cancellationToken);

    public Task<DeliveryReceipt> AcceptDeliveryAsync(RawDelivery delivery, CancellationToken cancellationToken = default) =>
        Inner.AcceptDeliveryAsync(delivery, cancellationToken);

    public Task<RawSnapshot?> GetSnapshotAsync(string id, CancellationToken cancellationToken = default) => Inner.GetSnapshotAsync(id, cancellationToken);

    public Task<IReadOnlyList<RawSnapshot>> ReadSnapshotsAsync(long afterSeq, int limit, CancellationToken cancellationToken = default) =>
        Inner.ReadSnapshotsAsync(afterSeq, limit, cancellationToken);

    public Task<IReadOnlyList<RawSnapshot>> ReadSnapshotsReceivedAsync(
        DateTimeOffset since, DateTimeOffset? until, string? afterId, int limit, CancellationToken cancellationToken = default) =>
        Inner.ReadSnapshotsReceivedAsync(since, until, afterId, limit, cancellationToken);

    public Task<long?> FindFirstOffsetAsync(DateTimeOffset since, DateTimeOffset? until, CancellationToken cancellationToken = default) =>
        Inner.FindFirstOffsetAsync(since, until, cancellationToken);

    public Task<IReadOnlyList<NormalizationOutcome>> CompleteNormalizationsAsync(
        string? consumer, IReadOnlyList<Normalization> normalizations, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        Inner.CompleteNormalizationsAsync(consumer, normalizations, now, cancellationToken);

    public Task<AppendReceipt> AppendEventsAsync(IReadOnlyList<NormalizedEvent> events, CancellationToken cancellationToken = default) =>
        Inner.AppendEventsAsync(events, cancellationToken);

    public Task WaitForEventsAsync(long afterOffset, CancellationToken cancellationToken) => Inner.WaitForEventsAsync(afterOffset, cancellationToken);

    public Task<IReadOnlyList<LoggedEvent>> ReadEventsAsync(long afterOffset, int limit, CancellationToken cancellationToken = default) =>
        Inner.ReadEventsAsync(afterOffset, limit, cancellationToken);

    public Task<IReadOnlyList<LoggedEventKey>> ReadEventKeysAsync(long afterOffset, int limit, CancellationToken cancellationToken = default) =>
        Inner.ReadEventKeysAsync(afterOffset, limit, cancellationToken);

    public Task<IReadOnlyList<LoggedEvent>> QueryEventsAsync(EventQuery query, CancellationToken cancellationToken = default) =>
        Inner.QueryEventsAsync(query, cancellationToken);

    public Task<long> GetOffsetAsync(string consumer, CancellationToken cancellationToken = default) => Inner.GetOffsetAsync(consumer, cancellationToken);

    public Task SetOffsetAsync(string consumer, long offset, CancellationToken cancellationToken = default) =>
        Inner.SetOffsetAsync(consumer, offset, cancellationToken);

    public Task<bool> MoveOffsetAsync(string consumer, long expected, long offset, CancellationToken cancellationToken = default) =>
        Inner.MoveOffsetAsync(consumer, expected, offset, cancellationToken);

    public Task<string?> GetCursorAsync(string name, CancellationToken cancellationToken = default) => Inner.GetCursorAsync(name, cancellationToken);

    public Task SetCursorAsync(string name, string value, CancellationToken cancellationToken = default) => Inner.SetCursorAsync(name, value, cancellationToken);

    public Task<IReadOnlyList<QuarantineEntry>> ListQuarantineAsync(
        QuarantineStatus? status, int limit, string? before, CancellationToken cancellationToken = default) =>
        Inner.ListQuarantineAsync(status, limit, before, cancellationToken);

    public Task<QuarantineEntry?> GetQuarantineAsync(string id, CancellationToken cancellationToken = default) => Inner.GetQuarantineAsync(id, cancellationToken);

    public ValueTask DisposeAsync()
    {
        Paused = false;
        return Inner.DisposeAsync();
    }

    private static TaskCompletionSource Opened()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }
}
