using System.Text;
using System.Threading.Channels;
using Bulwark.Ingest;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>
/// The embedded ingest store: its own SQLite file (WAL), apart from the control store's, so a webhook flood never
/// queues behind a kill switch. Writes go through one writer that commits every queued caller's work in one transaction,
/// so one flush (group commit), each caller's work inside its own savepoint so one failure rolls back only that work;
/// nothing is acknowledged before its commit. Reads use pooled connections of their own and see committed data only.
/// Raw snapshots cannot be changed or deleted, even with SQL: triggers refuse it.
/// </summary>
public sealed class SqliteEventStore : IEventStore
{
    /// <summary>The most events one <see cref="QueryEventsAsync"/> answers with.</summary>
    public const int MaxQueryLimit = 1000;

    private readonly string _databasePath;
    private readonly TimeProvider _time;
    private readonly SqliteEventStoreOptions _options;
    private readonly string _connectionString;
    private readonly string _writerConnectionString;
    private readonly Channel<EventWrite> _queue = Channel.CreateUnbounded<EventWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CommitSignal _snapshots = new();
    private readonly CommitSignal _events = new();
    private readonly Lock _openGate = new();
    private SqliteConnection? _writer;
    private SqliteCommandCache? _commands;
    private Task? _writerLoop;
    private volatile bool _ready;
    private int _disposed;
    private long _commits;

    static SqliteEventStore() => SQLitePCL.Batteries_V2.Init();

    /// <summary>Creates the store over a database file; call <see cref="MigrateAsync"/> before use.</summary>
    /// <param name="databasePath">The database file (usually <c>DATA/events.db</c>); its directory is created if missing.</param>
    /// <param name="time">The clock for migration records and for events that arrive without a receive time.</param>
    /// <param name="options">How to store; defaults when <see langword="null"/>.</param>
    public SqliteEventStore(string databasePath, TimeProvider time, SqliteEventStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        _databasePath = databasePath;
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _options = options ?? new SqliteEventStoreOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxWritesPerCommit, 1, nameof(options));
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
        }.ToString();

        // The writer holds its connection for the store's life; unpooled, so that a reset really reopens the file.
        _writerConnectionString = new SqliteConnectionStringBuilder(_connectionString) { Pooling = false }.ToString();
    }

    /// <summary>Whether the store is migrated and its writer is running.</summary>
    public bool IsReady => _ready;

    /// <summary>How many transactions the writer has committed (group commit shares one among many callers).</summary>
    internal long Commits => Interlocked.Read(ref _commits);

    /// <inheritdoc />
    public long LastSnapshotSeq => _snapshots.Position;

    /// <inheritdoc />
    public long LastOffset => _events.Position;

    /// <inheritdoc />
    public Task<int> MigrateAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        lock (_openGate)
        {
            if (_writer is not null)
            {
                return Task.FromResult(EventStoreMigrations.Latest);
            }

            var directory = Path.GetDirectoryName(Path.GetFullPath(_databasePath));
            if (directory is not null)
            {
                Directory.CreateDirectory(directory);
            }

            var writer = OpenWriterConnection();
            try
            {
                ApplyMigrations(writer);
                LoadPositions(writer);
            }
            catch
            {
                writer.Dispose();
                throw;
            }

            _writer = writer;
            _commands = new SqliteCommandCache(writer);
            _writerLoop = Task.Run(WriterLoopAsync, CancellationToken.None);
            _ready = true;
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
        return WriteAsync(w => w.Accept(pending), cancellationToken);
    }

    /// <inheritdoc />
    public Task<RawSnapshot?> GetSnapshotAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return ReadAsync(c => SqliteEventRows.QuerySnapshots(c, "WHERE id = $id", ("$id", id)).FirstOrDefault(), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RawSnapshot>> ReadSnapshotsAsync(long afterSeq, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return ReadAsync<IReadOnlyList<RawSnapshot>>(
            c => SqliteEventRows.QuerySnapshots(c, "WHERE seq > $after ORDER BY seq LIMIT $limit", ("$after", afterSeq), ("$limit", limit)),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task WaitForSnapshotsAsync(long afterSeq, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return _snapshots.WaitBeyondAsync(afterSeq, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<NormalizationOutcome>> CompleteNormalizationsAsync(
        string consumer, IReadOnlyList<Normalization> normalizations, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(consumer);
        ArgumentNullException.ThrowIfNull(normalizations);
        if (normalizations.Count == 0)
        {
            ThrowIfDisposed();
            return Task.FromResult<IReadOnlyList<NormalizationOutcome>>([]);
        }

        var millis = now.ToUnixTimeMilliseconds();
        var pending = new (List<PendingEvent> Events, PendingQuarantine Quarantine)[normalizations.Count];
        var seq = 0L;
        for (var i = 0; i < pending.Length; i++)
        {
            var (snapshot, result) = normalizations[i] ?? throw new ArgumentException("A normalization is null.", nameof(normalizations));
            ArgumentNullException.ThrowIfNull(snapshot, nameof(normalizations));
            ArgumentNullException.ThrowIfNull(result, nameof(normalizations));
            ArgumentNullException.ThrowIfNull(result.Events, nameof(normalizations));
            ArgumentNullException.ThrowIfNull(result.Issues, nameof(normalizations));
            var needsQuarantine = result.NeedsQuarantine;
            pending[i] = (
                PrepareEvents(result.Events, snapshot.ReceivedAt, snapshot.Id),
                new PendingQuarantine(
                    IngestIds.New(IngestIds.QuarantinePrefix, now, _options.Random),
                    snapshot.Id,
                    snapshot.Source,
                    needsQuarantine,
                    result.Failure ?? (needsQuarantine ? SqliteEventRows.Summarize(result.Issues) : string.Empty),
                    SqliteEventRows.IssuesJson(result.Issues),
                    millis));
            seq = Math.Max(seq, snapshot.Seq);
        }

        return WriteAsync<IReadOnlyList<NormalizationOutcome>>(
            w =>
            {
                var outcomes = new NormalizationOutcome[pending.Length];
                for (var i = 0; i < pending.Length; i++)
                {
                    outcomes[i] = new NormalizationOutcome(w.Append(pending[i].Events), w.Quarantine(pending[i].Quarantine));
                }

                w.AdvanceOffset(consumer, seq, millis);
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
        return WriteAsync(w => w.Append(pending), cancellationToken);
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
        return ReadAsync<IReadOnlyList<LoggedEvent>>(
            c => SqliteEventRows.QueryEvents(c, "WHERE \"offset\" > $after ORDER BY \"offset\" LIMIT $limit", ("$after", afterOffset), ("$limit", limit)),
            cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>At most <see cref="MaxQueryLimit"/> events are returned, whatever <see cref="EventQuery.Limit"/> asks.</remarks>
    public Task<IReadOnlyList<LoggedEvent>> QueryEventsAsync(EventQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1, nameof(query));
        var where = new StringBuilder("WHERE \"offset\" > $after");
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

        if (query.Since is not null)
        {
            where.Append(" AND ts >= $since");
        }

        if (query.Until is not null)
        {
            where.Append(" AND ts < $until");
        }

        where.Append(" ORDER BY \"offset\" LIMIT $limit");
        var sql = where.ToString();
        return ReadAsync<IReadOnlyList<LoggedEvent>>(
            c => SqliteEventRows.QueryEvents(
                c,
                sql,
                ("$after", query.AfterOffset),
                ("$account", query.Account),
                ("$type", query.Type),
                ("$platform", query.Platform),
                ("$source", query.Source),
                ("$since", query.Since?.ToUnixTimeMilliseconds()),
                ("$until", query.Until?.ToUnixTimeMilliseconds()),
                ("$limit", Math.Min(query.Limit, MaxQueryLimit))),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<long> GetOffsetAsync(string consumer, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(consumer);
        return ReadAsync(c => SqliteEventRows.Scalar(c, "SELECT \"offset\" FROM consumer_offsets WHERE consumer = $consumer", ("$consumer", consumer)), cancellationToken);
    }

    /// <inheritdoc />
    public Task SetOffsetAsync(string consumer, long offset, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(consumer);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        return WriteAsync(
            w =>
            {
                w.SetOffset(consumer, offset, now);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<string?> GetCursorAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return ReadAsync(
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
        return WriteAsync(
            w =>
            {
                w.SetCursor(name, value, now);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<QuarantineEntry>> ListQuarantineAsync(QuarantineStatus? status, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        // Two statements rather than "$status IS NULL OR …", so that each can walk its index in order.
        return ReadAsync<IReadOnlyList<QuarantineEntry>>(
            c => status is null
                ? SqliteEventRows.QueryQuarantine(c, "ORDER BY created_at DESC, rowid DESC LIMIT $limit", ("$limit", limit))
                : SqliteEventRows.QueryQuarantine(
                    c, "WHERE status = $status ORDER BY created_at DESC, rowid DESC LIMIT $limit", ("$status", (int)status.Value), ("$limit", limit)),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<QuarantineEntry?> GetQuarantineAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return ReadAsync(c => SqliteEventRows.QueryQuarantine(c, "WHERE id = $id", ("$id", id)).FirstOrDefault(), cancellationToken);
    }

    /// <inheritdoc />
    public Task<int> SweepDeliveryIdsAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var millis = now.ToUnixTimeMilliseconds();
        return WriteAsync(w => w.SweepDeliveryIds(millis), cancellationToken);
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

        _queue.Writer.TryComplete();
        Task? loop;
        lock (_openGate)
        {
            loop = _writerLoop;
        }

        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }

        _ready = false;
        var closed = new ObjectDisposedException(nameof(SqliteEventStore));
        _snapshots.Fail(closed);
        _events.Fail(closed);
        lock (_openGate)
        {
            _commands?.Dispose();
            _commands = null;
            _writer?.Dispose();
        }

        SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
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

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>Runs <paramref name="work"/> in the writer's next group commit, inside its own savepoint.</summary>
    internal Task<T> WriteAsync<T>(Func<SqliteEventWriter, T> work, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        if (!_ready)
        {
            throw new InvalidOperationException("The event store is not open: call MigrateAsync first, or see the log for why the writer stopped.");
        }

        var request = new EventWrite<T>(work, cancellationToken);
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(request), this);
        return request.Task.WaitAsync(cancellationToken);
    }

    private async Task<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var connection = new SqliteConnection(_connectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return read(connection);
        }
    }

    private SqliteConnection OpenWriterConnection()
    {
        var writer = new SqliteConnection(_writerConnectionString);
        writer.Open();
        Execute(writer, "PRAGMA journal_mode=WAL;");
        Execute(writer, _options.FlushEachCommit ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");

        // A 32 MiB page cache, and a checkpoint every 8,192 pages (32 MiB of WAL) rather than every 1,000: the random
        // pages of the dedupe and event indexes are rewritten in many commits and copied to the database once.
        Execute(writer, "PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=8192;");
        return writer;
    }

    private void ApplyMigrations(SqliteConnection writer)
    {
        Execute(writer, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);");
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

        foreach (var (version, sql) in EventStoreMigrations.Steps)
        {
            if (applied.Contains(version))
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

    private void LoadPositions(SqliteConnection connection)
    {
        _snapshots.Advance(SqliteEventRows.Scalar(connection, "SELECT MAX(seq) FROM raw_snapshots"));
        _events.Advance(SqliteEventRows.Scalar(connection, "SELECT MAX(\"offset\") FROM events"));
    }

    /// <summary>
    /// After a failed commit the connection's transaction state cannot be trusted (SQLite may have rolled back
    /// underneath it): start over with a fresh connection and statements.
    /// </summary>
    private void ResetWriter()
    {
        _commands?.Dispose();
        _writer?.Dispose();
        var writer = OpenWriterConnection();
        LoadPositions(writer);
        _writer = writer;
        _commands = new SqliteCommandCache(writer);
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private async Task WriterLoopAsync()
    {
        var batch = new List<EventWrite>(_options.MaxWritesPerCommit);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < _options.MaxWritesPerCommit && reader.TryRead(out var request))
            {
                batch.Add(request);
            }

            try
            {
                CommitBatch(batch);
            }
#pragma warning disable CA1031 // Only reopening the database can throw here: the store stops, loudly, rather than hang callers.
            catch (Exception error)
#pragma warning restore CA1031
            {
                _ready = false;
                _queue.Writer.TryComplete(error);
                foreach (var request in batch)
                {
                    request.Fail(error);
                }

                while (reader.TryRead(out var queued))
                {
                    queued.Fail(error);
                }

                _snapshots.Fail(error);
                _events.Fail(error);
                return;
            }
        }
    }

    private void CommitBatch(List<EventWrite> batch)
    {
        var committed = new List<EventWrite>(batch.Count);
        SqliteEventWriter writes;
        try
        {
            using var transaction = _writer!.BeginTransaction();
            writes = new SqliteEventWriter(_commands!, transaction, _snapshots.Position, _events.Position);
            foreach (var request in batch)
            {
                if (request.Cancellation.IsCancellationRequested)
                {
                    // Its caller has stopped waiting and nothing of it is written: leave it out.
                    request.Cancel();
                    continue;
                }

                var mark = writes.Mark();
                writes.Execute("SAVEPOINT work");
                try
                {
                    request.Run(writes);
                    writes.Execute("RELEASE work");
                    committed.Add(request);
                }
#pragma warning disable CA1031 // The caller's own exception goes back to the caller; the batch carries on.
                catch (Exception error)
#pragma warning restore CA1031
                {
                    request.Fail(error);
                    writes.Restore(mark);

                    // If SQLite already rolled the whole transaction back (disk full, I/O error), this throws and the
                    // batch fails as a whole below.
                    writes.Execute("ROLLBACK TO work");
                    writes.Execute("RELEASE work");
                }
            }

            if (committed.Count > 0)
            {
                transaction.Commit();
                Interlocked.Increment(ref _commits);
            }
        }
#pragma warning disable CA1031 // A failed commit fails every caller in the batch; the writer keeps serving.
        catch (Exception error)
#pragma warning restore CA1031
        {
            // Nothing of this batch is durable: every caller still waiting learns so (completed ones are left alone).
            foreach (var request in batch)
            {
                request.Fail(error);
            }

            ResetWriter();
            return;
        }

        // Positions move only after the commit, so readers woken by them find the rows.
        _snapshots.Advance(writes.LastSeq);
        _events.Advance(writes.LastOffset);
        foreach (var request in committed)
        {
            request.Complete();
        }
    }

    private abstract class EventWrite(CancellationToken cancellation)
    {
        public CancellationToken Cancellation { get; } = cancellation;

        public abstract void Run(SqliteEventWriter writes);

        public abstract void Complete();

        public abstract void Fail(Exception error);

        public abstract void Cancel();
    }

    private sealed class EventWrite<T>(Func<SqliteEventWriter, T> work, CancellationToken cancellation) : EventWrite(cancellation)
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;

        public Task<T> Task => _completion.Task;

        public override void Run(SqliteEventWriter writes) => _result = work(writes);

        public override void Complete() => _completion.TrySetResult(_result);

        public override void Fail(Exception error) => _completion.TrySetException(error);

        public override void Cancel() => _completion.TrySetCanceled(Cancellation);
    }
}
