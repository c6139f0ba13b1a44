namespace Bulwark.Ingest;

/// <summary>A verified (or refused-but-kept) delivery to store as a raw snapshot.</summary>
/// <param name="Source">The source's name.</param>
/// <param name="ReceivedAt">When the server read it.</param>
/// <param name="Headers">The request headers with secrets removed (authorization, cookies, signatures stay out).</param>
/// <param name="Body">The raw body.</param>
/// <param name="ContentType">The media type, when given.</param>
/// <param name="Verification">How verification ended.</param>
/// <param name="DeliveryId">The id to dedupe on within the source; <see langword="null"/> when the delivery carries none.</param>
/// <param name="DedupeUntil">How long the delivery id is remembered (the source's dedupe retention from now).</param>
public sealed record RawDelivery(
    string Source,
    DateTimeOffset ReceivedAt,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    ReadOnlyMemory<byte> Body,
    string? ContentType,
    VerificationOutcome Verification,
    string? DeliveryId,
    DateTimeOffset DedupeUntil);

/// <summary>A stored raw snapshot: immutable, never changed or deleted through any interface.</summary>
/// <param name="Seq">Its position in the order of arrival (the normalizer's offset).</param>
/// <param name="Id">Its public id (<c>raw_…</c>).</param>
/// <param name="Source">The source's name.</param>
/// <param name="ReceivedAt">When the server read it.</param>
/// <param name="Headers">The headers, secrets removed.</param>
/// <param name="Body">The raw body.</param>
/// <param name="Sha256">SHA-256 of <paramref name="Body"/>.</param>
/// <param name="ContentType">The media type, when given.</param>
/// <param name="Verification">How verification ended.</param>
/// <param name="DeliveryId">The delivery id, when any.</param>
public sealed record RawSnapshot(
    long Seq,
    string Id,
    string Source,
    DateTimeOffset ReceivedAt,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    byte[] Body,
    byte[] Sha256,
    string? ContentType,
    VerificationOutcome Verification,
    string? DeliveryId);

/// <summary>Whether a delivery was new. Wire values are the lower-case names; the numbers are pinned.</summary>
public enum DeliveryStatus
{
    /// <summary>New: its snapshot is stored durably.</summary>
    Accepted = 1,

    /// <summary>Its delivery id was seen within the retention: nothing was stored.</summary>
    Duplicate = 2,
}

/// <summary>The answer to <see cref="IEventStore.AcceptDeliveryAsync"/>.</summary>
/// <param name="Status">New or duplicate.</param>
/// <param name="SnapshotId">The snapshot stored now, or the one the first delivery of that id stored.</param>
public sealed record DeliveryReceipt(DeliveryStatus Status, string SnapshotId);

/// <summary>An event in the log.</summary>
/// <param name="Offset">Its position in the log: increasing, never reused.</param>
/// <param name="Event">The event.</param>
/// <param name="SnapshotId">The raw snapshot it was normalized from, when it came through a webhook.</param>
public sealed record LoggedEvent(long Offset, NormalizedEvent Event, string? SnapshotId);

/// <summary>
/// An event's indexed fields as the log keeps them, without its document: what a consumer that only counts or routes
/// needs (<see cref="IEventStore.ReadEventKeysAsync"/>), at a fraction of the cost of reading whole events.
/// </summary>
/// <param name="Offset">Its position in the log.</param>
/// <param name="Source">The source it came from.</param>
/// <param name="Id">Its id within the source.</param>
/// <param name="Platform">Its platform.</param>
/// <param name="EventType">Its type.</param>
/// <param name="AccountId">The account it is about.</param>
/// <param name="Timestamp">Its event time.</param>
public sealed record LoggedEventKey(long Offset, string Source, string Id, string Platform, string EventType, string AccountId, DateTimeOffset Timestamp);

/// <summary>What <see cref="IEventStore.AppendEventsAsync"/> did.</summary>
/// <param name="Appended">Events new to the log.</param>
/// <param name="Duplicates">Events whose (source, id) the log already had (left as they were).</param>
/// <param name="LastOffset">The log's last offset after the append.</param>
public sealed record AppendReceipt(int Appended, int Duplicates, long LastOffset);

/// <summary>A filter over the event log (every part optional; times are event time).</summary>
/// <param name="Account">Only this account.</param>
/// <param name="Type">Only this event type.</param>
/// <param name="Platform">Only this platform.</param>
/// <param name="Source">Only this source.</param>
/// <param name="Since">Only events at or after this time.</param>
/// <param name="Until">Only events before this time.</param>
/// <param name="AfterOffset">Only events after this offset (paging).</param>
/// <param name="Limit">At most this many, in offset order.</param>
public sealed record EventQuery(
    string? Account = null,
    string? Type = null,
    string? Platform = null,
    string? Source = null,
    DateTimeOffset? Since = null,
    DateTimeOffset? Until = null,
    long AfterOffset = 0,
    int Limit = 100);

/// <summary>The state of a quarantine entry. Wire values are the lower-case names; the numbers are pinned.</summary>
public enum QuarantineStatus
{
    /// <summary>Waiting for a fix and a retry.</summary>
    Open = 1,

    /// <summary>A retry normalized the snapshot without issues.</summary>
    Resolved = 2,
}

/// <summary>A verified delivery that could not be (fully) normalized, kept with the reason.</summary>
/// <param name="Id">Its id (<c>q_…</c>).</param>
/// <param name="SnapshotId">The raw snapshot.</param>
/// <param name="Source">The source's name.</param>
/// <param name="Reason">Why, for people (the body-level failure, or a summary of the item issues).</param>
/// <param name="Issues">The items that could not be mapped.</param>
/// <param name="CreatedAt">When it was quarantined first.</param>
/// <param name="UpdatedAt">When it was last normalized (first time or retry).</param>
/// <param name="Attempts">How many times it was normalized.</param>
/// <param name="Status">Open or resolved.</param>
public sealed record QuarantineEntry(
    string Id,
    string SnapshotId,
    string Source,
    string Reason,
    IReadOnlyList<NormalizeIssue> Issues,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    int Attempts,
    QuarantineStatus Status);

/// <summary>A snapshot and what its normalizer made of it, to record with <see cref="IEventStore.CompleteNormalizationsAsync"/>.</summary>
/// <param name="Snapshot">The snapshot normalized.</param>
/// <param name="Result">The normalizer's result.</param>
public sealed record Normalization(RawSnapshot Snapshot, NormalizeResult Result);

/// <summary>What recording one <see cref="Normalization"/> did.</summary>
/// <param name="Append">The append's receipt.</param>
/// <param name="Quarantine">The snapshot's quarantine entry when it has one now (open, or just resolved).</param>
public sealed record NormalizationOutcome(AppendReceipt Append, QuarantineEntry? Quarantine);

/// <summary>
/// The ingest store: raw snapshots (write once), delivery dedupe, the event log with consumer offsets, the
/// quarantine, and named cursors (where each polled source resumes). Every call that returns has made its writes durable; a write is all or nothing. Adapters: SQLite
/// (embedded default, its own file beside the control store's); the interface suits a RabbitMQ-backed log later (offsets
/// are the log's own positions; consumers dedupe by event id).
/// </summary>
public interface IEventStore : IAsyncDisposable
{
    /// <summary>Creates or upgrades the schema; safe on every start.</summary>
    /// <param name="cancellationToken">Cancels the migration.</param>
    /// <returns>The schema version in force.</returns>
    Task<int> MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether an error this store threw means it cannot serve now — closed, out of space, its disk failing, locked —
    /// rather than that it refused what was asked (which, for rows the server made, is a bug). The server answers the
    /// first 503 and the second 500.
    /// </summary>
    /// <param name="failure">The error.</param>
    /// <returns>Whether the store is unavailable.</returns>
    bool IsUnavailable(Exception failure) => failure is EventStoreUnavailableException or ObjectDisposedException;

    /// <summary>
    /// Dedupes a delivery on (source, delivery id) against ids remembered and not expired, and stores its snapshot —
    /// both durably, before returning (concurrent callers share commits).
    /// </summary>
    /// <param name="delivery">The delivery.</param>
    /// <param name="cancellationToken">Cancels waiting; a write already committed stays.</param>
    /// <returns>Accepted with the new snapshot, or duplicate with the first one.</returns>
    Task<DeliveryReceipt> AcceptDeliveryAsync(RawDelivery delivery, CancellationToken cancellationToken = default);

    /// <summary>Reads a snapshot by its public id.</summary>
    /// <param name="id">The id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The snapshot, or <see langword="null"/>.</returns>
    Task<RawSnapshot?> GetSnapshotAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Reads snapshots in arrival order.</summary>
    /// <param name="afterSeq">Only snapshots with a greater <see cref="RawSnapshot.Seq"/>.</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The snapshots.</returns>
    Task<IReadOnlyList<RawSnapshot>> ReadSnapshotsAsync(long afterSeq, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads the snapshots received in [<paramref name="since"/>, <paramref name="until"/>), in order of their receive
    /// time (then of their id), a page at a time. It seeks to the window: snapshots received before it are not read, so
    /// re-normalizing the last hour of a store that holds a year costs an hour's worth.
    /// </summary>
    /// <param name="since">The window's start (inclusive).</param>
    /// <param name="until">The window's end (exclusive), or <see langword="null"/> for no end.</param>
    /// <param name="afterId">The id of the previous page's last snapshot, or <see langword="null"/> for the first page.</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The snapshots.</returns>
    Task<IReadOnlyList<RawSnapshot>> ReadSnapshotsReceivedAsync(
        DateTimeOffset since, DateTimeOffset? until, string? afterId, int limit, CancellationToken cancellationToken = default);

    /// <summary>The greatest snapshot sequence number stored (0 when none).</summary>
    long LastSnapshotSeq { get; }

    /// <summary>Completes once a snapshot after <paramref name="afterSeq"/> exists (at once when one does).</summary>
    /// <param name="afterSeq">The sequence number the caller has seen.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>A task.</returns>
    Task WaitForSnapshotsAsync(long afterSeq, CancellationToken cancellationToken);

    /// <summary>
    /// Records the normalization of snapshots in one transaction (one flush however many there are): for each, in order,
    /// appends its events (deduped by source and id) and opens or updates its quarantine entry when its result needs one
    /// (or resolves an open one when it does not); then moves <paramref name="consumer"/>'s offset to the greatest
    /// sequence number among them when that is ahead. All of it is written, or none.
    /// </summary>
    /// <param name="consumer">
    /// The normalizer's offset name, or <see langword="null"/> for a normalization outside the normalizer's order (a
    /// replay's, a quarantine retry's), which must not move its offset past snapshots it has not seen.
    /// </param>
    /// <param name="normalizations">The snapshots with what the normalizer made of each (none: nothing is written).</param>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>One outcome per normalization, in the same order.</returns>
    Task<IReadOnlyList<NormalizationOutcome>> CompleteNormalizationsAsync(
        string? consumer, IReadOnlyList<Normalization> normalizations, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Appends events that arrived without a snapshot (<c>POST /v1/events</c>), deduped by source and id, durably.</summary>
    /// <param name="events">The events, valid against schema v1.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>The receipt.</returns>
    Task<AppendReceipt> AppendEventsAsync(IReadOnlyList<NormalizedEvent> events, CancellationToken cancellationToken = default);

    /// <summary>The greatest event offset (0 when the log is empty).</summary>
    long LastOffset { get; }

    /// <summary>Completes once an event after <paramref name="afterOffset"/> exists (at once when one does).</summary>
    /// <param name="afterOffset">The offset the caller has seen.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>A task.</returns>
    Task WaitForEventsAsync(long afterOffset, CancellationToken cancellationToken);

    /// <summary>Reads the log in offset order, for consumers.</summary>
    /// <param name="afterOffset">Only events after this offset.</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The events.</returns>
    Task<IReadOnlyList<LoggedEvent>> ReadEventsAsync(long afterOffset, int limit, CancellationToken cancellationToken = default);

    /// <summary>Reads the log's keys in offset order, without documents, for consumers that need no more.</summary>
    /// <param name="afterOffset">Only events after this offset.</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The keys, one per event <see cref="ReadEventsAsync"/> would return.</returns>
    Task<IReadOnlyList<LoggedEventKey>> ReadEventKeysAsync(long afterOffset, int limit, CancellationToken cancellationToken = default);

    /// <summary>Reads events matching a filter, in offset order.</summary>
    /// <param name="query">The filter.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The events.</returns>
    Task<IReadOnlyList<LoggedEvent>> QueryEventsAsync(EventQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// The smallest offset of an event whose time is in [<paramref name="since"/>, <paramref name="until"/>): where a
    /// consumer goes back to for a replay of that window. Its cost follows the events in the window, not the log's length.
    /// </summary>
    /// <param name="since">The window's start (inclusive).</param>
    /// <param name="until">The window's end (exclusive), or <see langword="null"/> for no end.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The offset, or <see langword="null"/> when no event is in the window.</returns>
    Task<long?> FindFirstOffsetAsync(DateTimeOffset since, DateTimeOffset? until, CancellationToken cancellationToken = default);

    /// <summary>The offset a consumer has committed (0 when it never did).</summary>
    /// <param name="consumer">The consumer's name.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The offset.</returns>
    Task<long> GetOffsetAsync(string consumer, CancellationToken cancellationToken = default);

    /// <summary>Sets a consumer's offset (backwards too: that is how a replay re-feeds it), durably.</summary>
    /// <param name="consumer">The consumer's name.</param>
    /// <param name="offset">The offset.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>A task.</returns>
    Task SetOffsetAsync(string consumer, long offset, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves a consumer's offset to <paramref name="offset"/> only if it is still <paramref name="expected"/>, durably:
    /// how a consumer commits a batch it read from <paramref name="expected"/>. When the offset was set meanwhile (a
    /// replay rewound it), that setting stands and the answer is <see langword="false"/>.
    /// </summary>
    /// <param name="consumer">The consumer's name.</param>
    /// <param name="expected">
    /// The offset the consumer read from (0 also matches a consumer that never committed).
    /// </param>
    /// <param name="offset">The new offset.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>Whether the offset moved.</returns>
    Task<bool> MoveOffsetAsync(string consumer, long expected, long offset, CancellationToken cancellationToken = default);

    /// <summary>A named cursor (for example where a poller resumes), or <see langword="null"/> when it was never set.</summary>
    /// <param name="name">The cursor's name.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The value last set.</returns>
    Task<string?> GetCursorAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Sets a named cursor, replacing its value, durably. Cursors are opaque text; the store never reads them.</summary>
    /// <param name="name">The cursor's name.</param>
    /// <param name="value">The value.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>A task.</returns>
    Task SetCursorAsync(string name, string value, CancellationToken cancellationToken = default);

    /// <summary>Lists quarantine entries, newest first, a page at a time.</summary>
    /// <param name="status">Only this status; <see langword="null"/> for all.</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="before">
    /// Only entries listed after this one (the last entry of the previous page); <see langword="null"/> from the
    /// newest. An id that is not in the quarantine lists nothing.
    /// </param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The entries.</returns>
    Task<IReadOnlyList<QuarantineEntry>> ListQuarantineAsync(
        QuarantineStatus? status, int limit, string? before, CancellationToken cancellationToken = default);

    /// <summary>Reads a quarantine entry.</summary>
    /// <param name="id">Its id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The entry, or <see langword="null"/>.</returns>
    Task<QuarantineEntry?> GetQuarantineAsync(string id, CancellationToken cancellationToken = default);
}

/// <summary>Conveniences over <see cref="IEventStore"/>.</summary>
public static class EventStoreExtensions
{
    /// <summary>Records the normalization of one snapshot (see <see cref="IEventStore.CompleteNormalizationsAsync"/>).</summary>
    /// <param name="store">The store.</param>
    /// <param name="consumer">The normalizer's offset name, or <see langword="null"/> to move no offset.</param>
    /// <param name="snapshot">The snapshot normalized.</param>
    /// <param name="result">What the normalizer made of it.</param>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>The outcome.</returns>
    public static async Task<NormalizationOutcome> CompleteNormalizationAsync(
        this IEventStore store, string? consumer, RawSnapshot snapshot, NormalizeResult result, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var outcomes = await store.CompleteNormalizationsAsync(consumer, [new Normalization(snapshot, result)], now, cancellationToken).ConfigureAwait(false);
        return outcomes[0];
    }
}

/// <summary>The event store cannot serve now (its writer stopped, or it was never opened); nothing asked was done.</summary>
public sealed class EventStoreUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public EventStoreUnavailableException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">Why.</param>
    public EventStoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">Why.</param>
    /// <param name="innerException">The cause.</param>
    public EventStoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
