using System.Text;
using Bulwark.Ingest;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>
/// The embedded ingest store, in two SQLite files (WAL) of its own, apart from the control store's, so a webhook flood
/// never queues behind a kill switch: <c>raw.db</c> holds the raw snapshots and delivery ids, <c>events.db</c> the event
/// log, consumer offsets, quarantine and cursors. Each file has one writer that commits every queued caller's work in
/// one transaction, so one flush (group commit); one caller's failure rolls back only its own work (the rest of the
/// batch goes again with a savepoint each); nothing is acknowledged before its commit. Two writers, so acknowledging a
/// delivery never waits behind the normalizer's writes or flushes, nor they behind it. The normalizer's offset is
/// written in the same transaction as the events it made, so a crash between the two files repeats normalization of
/// snapshots already stored (whose events the log dedupes) and never skips one. Reads use pooled connections of their
/// own and see committed data only. Raw snapshots cannot be changed or deleted, even with SQL: triggers refuse it.
/// </summary>
public sealed class SqliteEventStore : IEventStore
{
    /// <summary>The most events one <see cref="QueryEventsAsync"/> answers with.</summary>
    public const int MaxQueryLimit = 1000;

    private readonly string _databasePath;
    private readonly TimeProvider _time;
    private readonly SqliteEventStoreOptions _options;
    private readonly SqliteGroupWriter _raw;
    private readonly SqliteGroupWriter _log;
    private readonly CommitSignal _snapshots = new();
    private readonly CommitSignal _events = new();
    private readonly RecentTail<RawSnapshot> _tail;
    private readonly RecentTail<AppendedEvent> _eventTail;
    private readonly Lock _openGate = new();
    private int _disposed;

    // Whether the quarantine may hold an entry (read at open; set before the first entry is written, never cleared).
    private bool _quarantineUsed;

    static SqliteEventStore() => SQLitePCL.Batteries_V2.Init();

    /// <summary>Creates the store over its files; call <see cref="MigrateAsync"/> before use.</summary>
    /// <param name="databasePath">
    /// The event log file (usually <c>DATA/events.db</c>); the raw file (<see cref="SqliteEventStoreOptions.RawFileName"/>)
    /// lives beside it. The directory is created if missing.
    /// </param>
    /// <param name="time">The clock for migration records and for events that arrive without a receive time.</param>
    /// <param name="options">How to store; defaults when <see langword="null"/>.</param>
    public SqliteEventStore(string databasePath, TimeProvider time, SqliteEventStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        _databasePath = databasePath;
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _options = options ?? new SqliteEventStoreOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxWritesPerCommit, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.RecentSnapshots, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.RecentEvents, 1, nameof(options));
        var rawPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(databasePath)) ?? ".", SqliteEventStoreOptions.RawFileName);
        _tail = new RecentTail<RawSnapshot>(_options.RecentSnapshots, s => s.Seq);
        _eventTail = new RecentTail<AppendedEvent>(_options.RecentEvents, e => e.Offset);
        _raw = new SqliteGroupWriter("raw file", rawPath, _options, Positions, Committed, Stop, _time);
        _log = new SqliteGroupWriter("event log", databasePath, _options, Positions, LogCommitted, Stop, _time);
    }

    /// <summary>Whether the store is migrated and both its writers are running.</summary>
    public bool IsReady => _raw.IsReady && _log.IsReady;

    /// <summary>The raw file (snapshots and delivery ids), beside the event log's.</summary>
    public string RawDatabasePath => _raw.Path;

    /// <summary>How many transactions the raw file's writer has committed (group commit shares one among many deliveries).</summary>
    internal long Commits => _raw.Commits;

    /// <summary>How many transactions the event log's writer has committed.</summary>
    internal long LogCommits => _log.Commits;

    /// <summary>How many background checkpoints of the raw file have run.</summary>
    internal long RawCheckpoints => _raw.Checkpoints;

    /// <inheritdoc />
    public long LastSnapshotSeq => _snapshots.Position;

    /// <inheritdoc />
    public long LastOffset => _events.Position;

    /// <inheritdoc />
    /// <remarks>
    /// SQLite's busy, locked, read-only, I/O, corrupt, full, can't-open and not-a-database errors; a closed store; a
    /// writer that stopped. A constraint or statement error is a refusal.
    /// </remarks>
    public bool IsUnavailable(Exception failure) => failure switch
    {
        EventStoreUnavailableException or ObjectDisposedException or IOException => true,
        SqliteException sqlite => (sqlite.SqliteErrorCode & 0xFF) is
            raw.SQLITE_BUSY or raw.SQLITE_LOCKED or raw.SQLITE_READONLY or raw.SQLITE_IOERR or raw.SQLITE_CORRUPT
            or raw.SQLITE_FULL or raw.SQLITE_CANTOPEN or raw.SQLITE_NOTADB,
        _ => false,
    };

    /// <inheritdoc />
    public Task<int> MigrateAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        lock (_openGate)
        {
            if (_raw.IsReady && _log.IsReady)
            {
                return Task.FromResult(EventStoreMigrations.Latest);
            }

            var directory = Path.GetDirectoryName(Path.GetFullPath(_databasePath));
            if (directory is not null)
            {
                Directory.CreateDirectory(directory);
            }

            // The raw file first: the one-file layout's raw tables are copied into it (in the raw file's step 1 shape)
            // before the log file drops them, and only then does the raw file take its later steps.
            _raw.Open(raw => ApplyMigrations(raw, RawStoreMigrations.Steps, RawStoreMigrations.DedupeInSnapshots - 1));
            _log.Open(log =>
            {
                ApplyMigrations(log, EventStoreMigrations.Steps, EventStoreMigrations.DropsRawTables - 1);
                MoveRawTables(log, _raw.Path);
                ApplyMigrations(log, EventStoreMigrations.Steps, int.MaxValue);
                _events.Advance(SqliteEventRows.Scalar(log, "SELECT MAX(\"offset\") FROM events"));
                _quarantineUsed = SqliteEventRows.Scalar(log, "SELECT EXISTS (SELECT 1 FROM quarantine)") > 0;
            });
            _raw.Prepare(raw =>
            {
                ApplyMigrations(raw, RawStoreMigrations.Steps, int.MaxValue);
                _snapshots.Advance(SqliteEventRows.Scalar(raw, "SELECT MAX(seq) FROM raw_snapshots"));
            });
            _tail.Reset(_snapshots.Position);
            _eventTail.Reset(_events.Position);
            _raw.Start();
            _log.Start();
            return Task.FromResult(EventStoreMigrations.Latest);
        }
    }

    /// <inheritdoc />
    public Task<DeliveryReceipt> AcceptDeliveryAsync(RawDelivery delivery, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        ArgumentException.ThrowIfNullOrEmpty(delivery.Source, nameof(delivery));

        // Hashing, copying and id making happen on the caller's thread: the writer only runs statements.
        var pending = SqliteEventRows.Prepare(delivery, IngestIds.New(IngestIds.SnapshotPrefix, delivery.ReceivedAt, _options.Random));
        return WriteRawAsync(w => w.Accept(pending), cancellationToken);
    }

    /// <inheritdoc />
    public Task<RawSnapshot?> GetSnapshotAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return ReadAsync(_raw, c => SqliteEventRows.QuerySnapshots(c, "WHERE id = $id", ("$id", id)).FirstOrDefault(), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RawSnapshot>> ReadSnapshotsAsync(long afterSeq, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ThrowIfDisposed();
        if (_tail.TryRead(afterSeq, limit, out var recent))
        {
            return Task.FromResult<IReadOnlyList<RawSnapshot>>(recent);
        }

        return ReadAsync<IReadOnlyList<RawSnapshot>>(
            _raw,
            c => SqliteEventRows.QuerySnapshots(c, "WHERE seq > $after ORDER BY seq LIMIT $limit", ("$after", afterSeq), ("$limit", limit)),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Snapshot ids begin with their receive time (<see cref="IngestIds"/>), so the id index seeks to the window and
    /// walks it in receive order (<see cref="SnapshotsReceivedSql"/>); no index of its own is written per delivery.
    /// </remarks>
    public Task<IReadOnlyList<RawSnapshot>> ReadSnapshotsReceivedAsync(
        DateTimeOffset since, DateTimeOffset? until, string? afterId, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var (from, to) = Window(since, until);
        var lower = IngestIds.Lowest(IngestIds.SnapshotPrefix, from);
        var past = afterId is not null && string.CompareOrdinal(afterId, lower) >= 0;
        return ReadAsync<IReadOnlyList<RawSnapshot>>(
            _raw,
            c => SqliteEventRows.QuerySnapshots(
                c,
                past ? SnapshotsReceivedAfterSql : SnapshotsReceivedSql,
                ("$lower", past ? afterId : lower),
                ("$upper", IngestIds.Lowest(IngestIds.SnapshotPrefix, to)),
                ("$since", from),
                ("$until", to),
                ("$limit", limit)),
            cancellationToken);
    }

    /// <summary>The first page of <see cref="ReadSnapshotsReceivedAsync"/>: from the least id of the window's first millisecond.</summary>
    internal const string SnapshotsReceivedSql =
        "WHERE id >= $lower AND id < $upper AND received_at >= $since AND received_at < $until ORDER BY id LIMIT $limit";

    /// <summary>The next pages of <see cref="ReadSnapshotsReceivedAsync"/>: after the previous page's last id.</summary>
    internal const string SnapshotsReceivedAfterSql =
        "WHERE id > $lower AND id < $upper AND received_at >= $since AND received_at < $until ORDER BY id LIMIT $limit";

    /// <inheritdoc />
    public Task WaitForSnapshotsAsync(long afterSeq, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return _snapshots.WaitBeyondAsync(afterSeq, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<NormalizationOutcome>> CompleteNormalizationsAsync(
        string? consumer, IReadOnlyList<Normalization> normalizations, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        if (consumer is not null)
        {
            ArgumentException.ThrowIfNullOrEmpty(consumer);
        }

        ArgumentNullException.ThrowIfNull(normalizations);
        if (normalizations.Count == 0)
        {
            ThrowIfDisposed();
            return Task.FromResult<IReadOnlyList<NormalizationOutcome>>([]);
        }

        var millis = now.ToUnixTimeMilliseconds();
        var pending = new (List<PendingEvent> Events, PendingQuarantine? Quarantine)[normalizations.Count];
        var seq = 0L;
        for (var i = 0; i < pending.Length; i++)
        {
            var (snapshot, result) = normalizations[i] ?? throw new ArgumentException("A normalization is null.", nameof(normalizations));
            ArgumentNullException.ThrowIfNull(snapshot, nameof(normalizations));
            ArgumentNullException.ThrowIfNull(result, nameof(normalizations));
            ArgumentNullException.ThrowIfNull(result.Events, nameof(normalizations));
            ArgumentNullException.ThrowIfNull(result.Issues, nameof(normalizations));
            var needsQuarantine = result.NeedsQuarantine;

            // A clean normalization resolves the snapshot's quarantine entry, if it has one: while the quarantine has
            // never held an entry, none can exist, and the lookups are skipped.
            pending[i] = (
                PrepareEvents(result.Events, snapshot.ReceivedAt, snapshot.Id),
                needsQuarantine || Volatile.Read(ref _quarantineUsed)
                    ? new PendingQuarantine(
                        needsQuarantine ? IngestIds.New(IngestIds.QuarantinePrefix, now, _options.Random) : string.Empty,
                        snapshot.Id,
                        snapshot.Source,
                        needsQuarantine,
                        result.Failure ?? (needsQuarantine ? SqliteEventRows.Summarize(result.Issues, result.MoreIssues) : string.Empty),
                        SqliteEventRows.IssuesJson(result.Issues),
                        millis)
                    : null);
            seq = Math.Max(seq, snapshot.Seq);
        }

        return WriteLogAsync<IReadOnlyList<NormalizationOutcome>>(
            w =>
            {
                var outcomes = new NormalizationOutcome[pending.Length];
                for (var i = 0; i < pending.Length; i++)
                {
                    var (events, quarantine) = pending[i];
                    if (quarantine is { Open: true })
                    {
                        Volatile.Write(ref _quarantineUsed, true);
                    }

                    outcomes[i] = new NormalizationOutcome(w.Append(events), quarantine is null ? null : w.Quarantine(quarantine));
                }

                if (consumer is not null)
                {
                    w.AdvanceOffset(consumer, seq, millis);
                }

                return outcomes;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>An event without <see cref="NormalizedEvent.ReceivedAt"/> is stored with the store clock's time.</remarks>
    public Task<AppendReceipt> AppendEventsAsync(IReadOnlyList<NormalizedEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        var pending = PrepareEvents(events, _time.GetUtcNow(), snapshotId: null);
        return WriteLogAsync(w => w.Append(pending), cancellationToken);
    }

    /// <inheritdoc />
    public Task WaitForEventsAsync(long afterOffset, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return _events.WaitBeyondAsync(afterOffset, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<LoggedEvent>> ReadEventsAsync(long afterOffset, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ThrowIfDisposed();
        if (_eventTail.TryRead(afterOffset, limit, out var recent))
        {
            return Task.FromResult<IReadOnlyList<LoggedEvent>>(recent.ConvertAll(e => e.ToLogged()));
        }

        return ReadAsync<IReadOnlyList<LoggedEvent>>(
            _log,
            c => SqliteEventRows.QueryEvents(c, "WHERE \"offset\" > $after ORDER BY \"offset\" LIMIT $limit", ("$after", afterOffset), ("$limit", limit)),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<LoggedEventKey>> ReadEventKeysAsync(long afterOffset, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ThrowIfDisposed();
        if (_eventTail.TryRead(afterOffset, limit, out var recent))
        {
            return Task.FromResult<IReadOnlyList<LoggedEventKey>>(recent.ConvertAll(e => e.ToKey()));
        }

        return ReadAsync<IReadOnlyList<LoggedEventKey>>(_log, c => SqliteEventRows.QueryEventKeys(c, afterOffset, limit), cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>At most <see cref="MaxQueryLimit"/> events are returned, whatever <see cref="EventQuery.Limit"/> asks.</remarks>
    public Task<IReadOnlyList<LoggedEvent>> QueryEventsAsync(EventQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1, nameof(query));
        var sql = EventQuerySql(query);

        // A page of a time window without an account walks by offset only between the window's first and last events
        // when they are known from the time index. With until, the window is closed and its ends are read on every
        // page (its index entries, never its rows). With since alone, the first page probes at most WindowProbe entries
        // (a window open to the end may be the whole log) and otherwise walks from where the page starts; later pages
        // start past the window's first event, and its last is the log's.
        var window = query.Account is null && (query.Until is not null || (query.Since is not null && query.AfterOffset == 0));
        var (since, until) = Window(query.Since, query.Until);
        return ReadAsync<IReadOnlyList<LoggedEvent>>(_log, Query, cancellationToken);

        IReadOnlyList<LoggedEvent> Query(SqliteConnection c)
        {
            var (after, last) = (query.AfterOffset, long.MaxValue);
            if (window && ReadWindow(c, since, until, probe: query.Until is null) is (true, var first, var end))
            {
                if (first is null)
                {
                    return [];
                }

                (after, last) = (Math.Max(after, first.Value - 1), end!.Value);
            }

            return SqliteEventRows.QueryEvents(
                c,
                sql,
                ("$after", after),
                ("$last", last),
                ("$account", query.Account),
                ("$type", query.Type),
                ("$platform", query.Platform),
                ("$source", query.Source),
                ("$since", since),
                ("$until", until),
                ("$limit", Math.Min(query.Limit, MaxQueryLimit)));
        }
    }

    /// <summary>
    /// The statement of <see cref="QueryEventsAsync"/>: it walks the log by offset from the page's start. With an account,
    /// that account's index; never the time index, which would read and sort the rest of the window on every page.
    /// </summary>
    internal static string EventQuerySql(EventQuery query)
    {
        var where = new StringBuilder("WHERE \"offset\" > $after AND \"offset\" <= $last");
        if (query.Account is not null)
        {
            where.Append(" AND account_id = $account");
        }

        if (query.Type is not null)
        {
            where.Append(" AND event_type = $type");
        }

        if (query.Platform is not null)
        {
            where.Append(" AND platform = $platform");
        }

        if (query.Source is not null)
        {
            where.Append(" AND source = $source");
        }

        // The unary plus keeps SQLite off the time index for these terms.
        if (query.Since is not null)
        {
            where.Append(" AND +ts >= $since");
        }

        if (query.Until is not null)
        {
            where.Append(" AND +ts < $until");
        }

        return where.Append(" ORDER BY \"offset\" LIMIT $limit").ToString();
    }

    /// <inheritdoc />
    /// <remarks>It reads the window's entries of the event-time index (<see cref="FirstOffsetSql"/>), never the events.</remarks>
    public Task<long?> FindFirstOffsetAsync(DateTimeOffset since, DateTimeOffset? until, CancellationToken cancellationToken = default)
    {
        var (from, to) = Window(since, until);
        return ReadAsync(
            _log,
            c =>
            {
                using var command = SqliteEventRows.Command(c, FirstOffsetSql, ("$since", from), ("$until", to));
                return command.ExecuteScalar() is long first ? first : (long?)null;
            },
            cancellationToken);
    }

    /// <summary><see cref="FindFirstOffsetAsync"/>: the least offset among the window's entries of the time index.</summary>
    internal const string FirstOffsetSql = "SELECT min(\"offset\") FROM events WHERE ts >= $since AND ts < $until";

    /// <summary>How many of a time window's events a probe (<see cref="WindowProbeSql"/>) reads from the time index at most.</summary>
    internal const int WindowProbe = 10_000;

    /// <summary>A time window's first and last offsets, read from the time index, stopping after <see cref="WindowProbe"/> entries.</summary>
    internal const string WindowProbeSql =
        "SELECT count(*), min(o), max(o) FROM (SELECT \"offset\" AS o FROM events WHERE ts >= $since AND ts < $until LIMIT $probe)";

    /// <summary>A closed time window's first and last offsets, read from all its entries of the time index.</summary>
    internal const string WindowEndsSql = "SELECT 0, min(\"offset\"), max(\"offset\") FROM events WHERE ts >= $since AND ts < $until";

    /// <summary>
    /// The first and last offsets of the events in [since, until), from the time index (null when there are none). A
    /// probe reads at most <see cref="WindowProbe"/> entries, and when that is not all of them nothing is known.
    /// </summary>
    private static (bool Known, long? First, long? Last) ReadWindow(SqliteConnection connection, long since, long until, bool probe)
    {
        using var command = SqliteEventRows.Command(connection, probe ? WindowProbeSql : WindowEndsSql, ("$since", since), ("$until", until), ("$probe", WindowProbe));
        using var reader = command.ExecuteReader();
        reader.Read();
        return reader.GetInt64(0) < WindowProbe
            ? (true, reader.IsDBNull(1) ? null : reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2))
            : (false, null, null);
    }

    /// <summary>
    /// A time window in the whole milliseconds times are stored in: a bound inside a millisecond takes all of that
    /// millisecond in, so a window is never narrower than asked (a replay may re-feed an event too many, never one too
    /// few).
    /// </summary>
    private static (long Since, long Until) Window(DateTimeOffset? since, DateTimeOffset? until)
    {
        var from = since?.ToUnixTimeMilliseconds() ?? long.MinValue;
        var to = long.MaxValue;
        if (until is { } end)
        {
            to = end.ToUnixTimeMilliseconds();
            to = DateTimeOffset.FromUnixTimeMilliseconds(to) < end ? to + 1 : to;
        }

        return (from, to);
    }

    /// <inheritdoc />
    public Task<long> GetOffsetAsync(string consumer, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(consumer);
        return ReadAsync(_log, c => SqliteEventRows.Scalar(c, "SELECT \"offset\" FROM consumer_offsets WHERE consumer = $consumer", ("$consumer", consumer)), cancellationToken);
    }

    /// <inheritdoc />
    public Task SetOffsetAsync(string consumer, long offset, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(consumer);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        return WriteLogAsync(
            w =>
            {
                w.SetOffset(consumer, offset, now);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> MoveOffsetAsync(string consumer, long expected, long offset, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(consumer);
        ArgumentOutOfRangeException.ThrowIfNegative(expected);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        return WriteLogAsync(w => w.MoveOffset(consumer, expected, offset, now), cancellationToken);
    }

    /// <inheritdoc />
    public Task<string?> GetCursorAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return ReadAsync(
            _log,
            c =>
            {
                using var command = c.CreateCommand();
                command.CommandText = "SELECT value FROM cursors WHERE name = $name";
                command.Parameters.AddWithValue("$name", name);
                return command.ExecuteScalar() as string;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task SetCursorAsync(string name, string value, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(value);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        return WriteLogAsync(
            w =>
            {
                w.SetCursor(name, value, now);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<QuarantineEntry>> ListQuarantineAsync(
        QuarantineStatus? status, int limit, string? before, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);

        // Two statements rather than "$status IS NULL OR …", so that each can walk its index in order. A page goes on
        // below the previous page's last entry, in the same order (time, then rowid for entries of the same ms); an
        // unknown id compares with NULL and lists nothing.
        string?[] conditions =
        [
            status is null ? null : "status = $status",
            before is null ? null : "(created_at, rowid) < (SELECT created_at, rowid FROM quarantine WHERE id = $before)",
        ];
        var where = string.Join(" AND ", conditions.OfType<string>()) is { Length: > 0 } all ? "WHERE " + all : string.Empty;
        return ReadAsync<IReadOnlyList<QuarantineEntry>>(
            _log,
            c => SqliteEventRows.QueryQuarantine(
                c,
                where + " ORDER BY created_at DESC, rowid DESC LIMIT $limit",
                ("$status", (int?)status),
                ("$before", before),
                ("$limit", limit)),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<QuarantineEntry?> GetQuarantineAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return ReadAsync(_log, c => SqliteEventRows.QueryQuarantine(c, "WHERE id = $id", ("$id", id)).FirstOrDefault(), cancellationToken);
    }

    /// <summary>
    /// Closes the store: writes already queued are committed (and their callers answered) first; later calls throw
    /// <see cref="ObjectDisposedException"/>, and so do waits still pending.
    /// </summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _raw.DisposeAsync().ConfigureAwait(false);
        await _log.DisposeAsync().ConfigureAwait(false);
        var closed = new ObjectDisposedException(nameof(SqliteEventStore));
        _snapshots.Fail(closed);
        _events.Fail(closed);
    }

    /// <summary>
    /// Runs <paramref name="work"/> in the raw file's next group commit: <see cref="SqliteGroupWriter.WriteAsync"/>.
    /// </summary>
    internal Task<T> WriteRawAsync<T>(Func<SqliteEventWriter, T> work, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return _raw.WriteAsync(work, cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="work"/> in the event log's next group commit: <see cref="SqliteGroupWriter.WriteAsync"/>.
    /// </summary>
    internal Task<T> WriteLogAsync<T>(Func<SqliteEventWriter, T> work, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return _log.WriteAsync(work, cancellationToken);
    }

    private static List<PendingEvent> PrepareEvents(IReadOnlyList<NormalizedEvent> events, DateTimeOffset receivedAt, string? snapshotId)
    {
        var pending = new List<PendingEvent>(events.Count);
        foreach (var e in events)
        {
            pending.Add(SqliteEventRows.Prepare(e, receivedAt, snapshotId));
        }

        return pending;
    }

    /// <summary>
    /// Copies the raw snapshots and delivery ids of the one-file layout (steps 1–2 of <see cref="EventStoreMigrations"/>)
    /// into the raw file, keeping their sequence numbers, before the log file's step 3 drops them. Each part is
    /// idempotent (only snapshots past the raw file's last one; delivery ids it lacks), so a crash anywhere in between
    /// copies again on the next start and loses nothing.
    /// </summary>
    private static void MoveRawTables(SqliteConnection log, string rawPath)
    {
        if (SqliteEventRows.Scalar(log, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'raw_snapshots'") == 0)
        {
            return;
        }

        using (var attach = SqliteEventRows.Command(log, "ATTACH DATABASE $path AS raw", ("$path", rawPath)))
        {
            attach.ExecuteNonQuery();
        }

        try
        {
            using var transaction = log.BeginTransaction();
            using var copy = log.CreateCommand();
            copy.Transaction = transaction;
            copy.CommandText = $"""
                INSERT INTO raw.raw_snapshots ({SqliteEventRows.SnapshotColumns})
                SELECT {SqliteEventRows.SnapshotColumns} FROM main.raw_snapshots
                WHERE seq > (SELECT IFNULL(MAX(seq), 0) FROM raw.raw_snapshots) ORDER BY seq;
                INSERT OR IGNORE INTO raw.delivery_ids (source, delivery_id, snapshot_id, expires_at)
                SELECT source, delivery_id, snapshot_id, expires_at FROM main.delivery_ids;
                """;
            copy.ExecuteNonQuery();
            transaction.Commit();
        }
        finally
        {
            SqliteGroupWriter.Execute(log, "DETACH DATABASE raw");
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private (long Seq, long Offset) Positions() => (_snapshots.Position, _events.Position);

    /// <summary>After a raw commit: the tail first, then the position, so that a reader woken by it finds the snapshots there.</summary>
    private void Committed(SqliteEventWriter writes)
    {
        _tail.Add(writes.Accepted);
        _snapshots.Advance(writes.LastSeq);
    }

    /// <summary>After an event log commit: the tail first, then the offset, as for the raw file.</summary>
    private void LogCommitted(SqliteEventWriter writes)
    {
        _eventTail.Add(writes.Appended);
        _events.Advance(writes.LastOffset);
    }

    private void Stop(Exception error)
    {
        _snapshots.Fail(error);
        _events.Fail(error);
    }

    private async Task<T> ReadAsync<T>(SqliteGroupWriter file, Func<SqliteConnection, T> read, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var connection = new SqliteConnection(file.ConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return read(connection);
        }
    }

    private void ApplyMigrations(SqliteConnection writer, IReadOnlyList<(int Version, string Sql)> steps, int upTo)
    {
        SqliteGroupWriter.Execute(writer, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);");
        var applied = new HashSet<long>();
        using (var command = writer.CreateCommand())
        {
            command.CommandText = "SELECT version FROM schema_migrations";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                applied.Add(reader.GetInt64(0));
            }
        }

        foreach (var (version, sql) in steps)
        {
            if (version > upTo || applied.Contains(version))
            {
                continue;
            }

            using var transaction = writer.BeginTransaction();
            using var command = writer.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql + "\nINSERT INTO schema_migrations (version, applied_at) VALUES ($v, $t);";
            command.Parameters.AddWithValue("$v", version);
            command.Parameters.AddWithValue("$t", _time.GetUtcNow().ToUnixTimeMilliseconds());
            command.ExecuteNonQuery();
            transaction.Commit();
        }
    }
}
