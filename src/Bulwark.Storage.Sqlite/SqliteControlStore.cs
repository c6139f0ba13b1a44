using System.Threading.Channels;
using Bulwark.Audit;
using Bulwark.Detection.Incidents;
using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.MassActions;
using Bulwark.Throttling;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in WAL mode. Reads use pooled connections and run concurrently; writes go through
/// one writer that commits the queued callers' work together (group commit), each caller's work inside its own
/// savepoint so one failure rolls back only that work. The writer keeps the audit chain head in memory, so appends are
/// linked without a read.
/// </summary>
public sealed class SqliteControlStore : IControlStore
{
    private readonly SqliteStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly string _connectionString;
    private readonly string _writerConnectionString;
    private readonly Channel<WriteRequest> _queue = Channel.CreateUnbounded<WriteRequest>(new UnboundedChannelOptions { SingleReader = true });
    private SqliteConnection? _writer;
    private SqliteCommandCache? _commands;
    private Task? _writerLoop;
    private AuditHead _head = AuditHead.Empty;
    private volatile bool _ready;

    static SqliteControlStore() => SQLitePCL.Batteries_V2.Init();

    /// <summary>Creates the store; call <see cref="MigrateAsync"/> before use.</summary>
    /// <param name="options">Where and how to store.</param>
    /// <param name="time">The clock for transaction times.</param>
    public SqliteControlStore(SqliteStoreOptions options, TimeProvider time)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = options.DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
        }.ToString();

        // The writer holds its connection for the store's life; unpooled, so that a reset really reopens the file.
        _writerConnectionString = new SqliteConnectionStringBuilder(_connectionString) { Pooling = false }.ToString();
    }

    /// <inheritdoc />
    public bool IsReady => _ready;

    /// <inheritdoc />
    public async Task<int> MigrateAsync(CancellationToken cancellationToken = default)
    {
        if (_writer is not null)
        {
            return Migrations.Latest;
        }

        Directory.CreateDirectory(_options.DataDirectory);
        var writer = OpenWriterConnection();
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

        foreach (var (version, sql) in Migrations.Steps)
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
            command.Parameters.AddWithValue("$t", SqliteRows.ToMicros(_time.GetUtcNow()));
            command.ExecuteNonQuery();
            transaction.Commit();
        }

        _head = LoadChainHead(writer);
        _writer = writer;
        _commands = new SqliteCommandCache(writer);
        _writerLoop = Task.Run(WriterLoopAsync, CancellationToken.None);
        _ready = true;
        return Migrations.Latest;
    }

    /// <inheritdoc />
    public Task<T> WriteAsync<T>(Func<IWriteTransaction, T> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (!_ready)
        {
            throw new InvalidOperationException("The store is not open: call MigrateAsync first, or see the log for why the writer stopped.");
        }

        var request = new WriteRequest<T>(work);
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(request), this);

        return request.Task.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public Task<IdentityRecord?> GetIdentityAsync(string name, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteRows.GetIdentity(c, null, name), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<IdentityRecord>> ListIdentitiesAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteRows.ListIdentities(c, null), cancellationToken);

    /// <inheritdoc />
    public Task<TokenRecord?> FindTokenAsync(byte[] hash, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteRows.QueryTokens(c, null, "WHERE hash = $p", hash).FirstOrDefault(), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<TokenRecord>> ListTokensAsync(string? identity = null, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<TokenRecord>>(
            c => identity is null
                ? SqliteRows.QueryTokens(c, null, "WHERE $p IS NULL", DBNull.Value)
                : SqliteRows.QueryTokens(c, null, "WHERE identity = $p", identity),
            cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<AuditEntry>> ReadAuditAsync(long afterSeq, int limit, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteRows.ReadAudit(c, afterSeq, limit), cancellationToken);

    /// <inheritdoc />
    public Task<AuditHead> ScanAuditAsync(Action<AuditEntry> visit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(visit);
        return ReadAsync(
            connection =>
            {
                // A read transaction pins one WAL snapshot for the entries and the head alike.
                using var snapshot = connection.BeginTransaction(deferred: true);
                SqliteRows.ScanAudit(connection, snapshot, 0, long.MaxValue, visit);
                return SqliteRows.RecordedHead(connection, snapshot) ?? AuditHead.Empty;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<AuditHead> GetRecordedAuditHeadAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteRows.RecordedHead(c, null) ?? AuditHead.Empty, cancellationToken);

    /// <inheritdoc />
    public Task<FlagRecord?> GetFlagAsync(string key, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteFlagRows.QueryFlags(c, null, "WHERE key = $p", key).FirstOrDefault(), cancellationToken);

    /// <inheritdoc />
    public Task<(IReadOnlyList<FlagRecord> Flags, long Version)> ListFlagsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<(IReadOnlyList<FlagRecord>, long)>(
            connection =>
            {
                using var snapshot = connection.BeginTransaction(deferred: true);
                return (SqliteFlagRows.QueryFlags(connection, snapshot, string.Empty, null), SqliteFlagRows.FlagsVersion(connection, snapshot));
            },
            cancellationToken);

    /// <inheritdoc />
    public Task<ThrottleRecord?> GetThrottleAsync(string name, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteThrottleRows.Query(c, null, "WHERE name = $p", name).FirstOrDefault(), cancellationToken);

    /// <inheritdoc />
    public Task<(IReadOnlyList<ThrottleRecord> Throttles, long Version)> ListThrottlesAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<(IReadOnlyList<ThrottleRecord>, long)>(
            connection =>
            {
                using var snapshot = connection.BeginTransaction(deferred: true);
                return (SqliteThrottleRows.Query(connection, snapshot, string.Empty, null), SqliteThrottleRows.Version(connection, snapshot));
            },
            cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ThrottleManualBlock>> ListThrottleBlocksAsync(string? throttle = null, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<ThrottleManualBlock>>(c => SqliteThrottleBlockRows.List(c, null, throttle), cancellationToken);

    /// <inheritdoc />
    public Task<SourceRecord?> GetSourceAsync(string name, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteSourceRows.Query(c, null, "WHERE name = $p", name).FirstOrDefault(), cancellationToken);

    /// <inheritdoc />
    public Task<(IReadOnlyList<SourceRecord> Sources, long Version)> ListSourcesAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<(IReadOnlyList<SourceRecord>, long)>(
            connection =>
            {
                using var snapshot = connection.BeginTransaction(deferred: true);
                return (SqliteSourceRows.Query(connection, snapshot, string.Empty, null), SqliteSourceRows.Version(connection, snapshot));
            },
            cancellationToken);

    /// <inheritdoc />
    public Task<MassActionRecord?> GetMassActionAsync(string idOrName, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteMassActionRows.Query(c, null, "WHERE id = $p OR name = $p", idOrName).FirstOrDefault(), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<MassActionRecord>> ListMassActionsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<MassActionRecord>>(c => SqliteMassActionRows.Query(c, null, string.Empty, null), cancellationToken);

    /// <inheritdoc />
    public Task<(IReadOnlyList<DefinitionRecord> Definitions, long Version)> ListDefinitionsAsync(string kind, CancellationToken cancellationToken = default) =>
        ReadAsync<(IReadOnlyList<DefinitionRecord>, long)>(
            connection =>
            {
                using var snapshot = connection.BeginTransaction(deferred: true);
                return (SqliteDefinitionRows.Query(connection, snapshot, kind, null), SqliteDefinitionRows.Version(connection, snapshot, kind));
            },
            cancellationToken);

    /// <inheritdoc />
    public Task<IncidentRecord?> GetIncidentAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteDetectionRows.GetIncident(c, null, id), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Positioned<IncidentRecord>>> ListIncidentsAsync(IncidentQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return ReadAsync<IReadOnlyList<Positioned<IncidentRecord>>>(c => SqliteDetectionRows.QueryIncidents(c, null, query), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Positioned<DetectionRecord>>> ListDetectionsAsync(DetectionQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return ReadAsync<IReadOnlyList<Positioned<DetectionRecord>>>(c => SqliteDetectionRows.QueryDetections(c, null, query), cancellationToken);
    }

    /// <inheritdoc />
    public Task<Bulwark.Response.StoredRun?> GetRunAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteRunRows.GetRun(c, null, id), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Positioned<Bulwark.Response.StoredRun>>> ListRunsAsync(Bulwark.Response.RunQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return ReadAsync<IReadOnlyList<Positioned<Bulwark.Response.StoredRun>>>(c => SqliteRunRows.QueryRuns(c, null, query), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Bulwark.Response.StoredRun>> ListActiveRunsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<Bulwark.Response.StoredRun>>(c => SqliteRunRows.ActiveRuns(c, null), cancellationToken);

    /// <inheritdoc />
    public Task<Bulwark.Response.StoredEvidence?> GetEvidenceAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteEvidenceRows.Get(c, null, id), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Positioned<Bulwark.Response.StoredEvidence>>> ListEvidenceAsync(string incidentId, long? before, int limit, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<Positioned<Bulwark.Response.StoredEvidence>>>(c => SqliteEvidenceRows.ListByIncident(c, null, incidentId, before, limit), cancellationToken);

    /// <inheritdoc />
    public Task<Bulwark.Response.StoredApproval?> GetApprovalAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteRunRows.GetApproval(c, null, id), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Positioned<Bulwark.Response.StoredApproval>>> ListApprovalsAsync(string? status, string? runId, long? before, int limit, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<Positioned<Bulwark.Response.StoredApproval>>>(c => SqliteRunRows.QueryApprovals(c, null, status, runId, before, limit), cancellationToken);

    /// <inheritdoc />
    public Task<PendingChange?> GetChangeAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteFlagRows.QueryChanges(c, null, "WHERE id = $p", id).FirstOrDefault(), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<PendingChange>> ListChangesAsync(ChangeStatus? status = null, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<PendingChange>>(
            c => status is null
                ? SqliteFlagRows.QueryChanges(c, null, "WHERE $p IS NULL", null)
                : SqliteFlagRows.QueryChanges(c, null, "WHERE status = $p", (int)status.Value),
            cancellationToken);

    /// <inheritdoc />
    public Task<IdempotencyRecord?> GetIdempotencyAsync(string scope, string key, CancellationToken cancellationToken = default) =>
        ReadAsync(c => SqliteRows.GetIdempotency(c, scope, key), cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _ready = false;
        _queue.Writer.TryComplete();
        if (_writerLoop is not null)
        {
            await _writerLoop.ConfigureAwait(false);
        }

        _commands?.Dispose();
        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
            _writer = null;
        }

        SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
    }

    private SqliteConnection OpenWriterConnection()
    {
        var writer = new SqliteConnection(_writerConnectionString);
        writer.Open();
        Execute(writer, "PRAGMA journal_mode=WAL;");
        Execute(writer, _options.FlushEachCommit ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
        return writer;
    }

    /// <summary>
    /// After a failed commit the connection's transaction state cannot be trusted (SQLite may have rolled back
    /// underneath it): start over with a fresh connection and statements, and take the chain head from the disk.
    /// </summary>
    private void ResetWriter()
    {
        _commands?.Dispose();
        _writer?.Dispose();
        var writer = OpenWriterConnection();
        _head = LoadChainHead(writer);
        _writer = writer;
        _commands = new SqliteCommandCache(writer);
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// New entries link to whichever is further along: the last entry in the table or the head recorded with the last
    /// append. Chaining from the recorded head keeps a deletion at the end of the log visible as a gap.
    /// </summary>
    private static AuditHead LoadChainHead(SqliteConnection connection)
    {
        var last = SqliteRows.LastEntryHead(connection) ?? AuditHead.Empty;
        var recorded = SqliteRows.RecordedHead(connection, null) ?? AuditHead.Empty;
        return recorded.Seq >= last.Seq ? recorded : last;
    }

    private async Task<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return read(connection);
        }
    }

    private async Task WriterLoopAsync()
    {
        var batch = new List<WriteRequest>(_options.MaxWritesPerCommit);
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
                WriterQueue.FailAll(_queue, batch, error, static (request, error) => request.Fail(error));

                return;
            }
        }
    }

    private void CommitBatch(List<WriteRequest> batch)
    {
        var connection = _writer!;
        var commands = _commands!;
        var committed = new List<WriteRequest>(batch.Count);
        var headBefore = _head;
        try
        {
            using var transaction = connection.BeginTransaction();
            var now = _time.GetUtcNow();
            foreach (var request in batch)
            {
                var unit = new SqliteWriteTransaction(connection, transaction, commands, now, _head);
                commands.Execute("SAVEPOINT work", transaction);
                try
                {
                    request.Run(unit);
                    if (unit.StateChanges > 0 && unit.AuditAppends == 0)
                    {
                        throw new UnauditedChangeException();
                    }

                    commands.Execute("RELEASE work", transaction);
                    _head = unit.Head;
                    committed.Add(request);
                }
#pragma warning disable CA1031 // The caller's own exception goes back to the caller; the batch carries on.
                catch (Exception error)
#pragma warning restore CA1031
                {
                    request.Fail(error);
                    _options.Instruments.WriteWork.Add(1, new KeyValuePair<string, object?>("outcome", "rolled_back"));

                    // If SQLite already rolled the whole transaction back (disk full, I/O error), this throws and the
                    // batch fails as a whole below.
                    commands.Execute("ROLLBACK TO work", transaction);
                    commands.Execute("RELEASE work", transaction);
                }
            }

            if (_head != headBefore)
            {
                // The recorded head is written once per commit, in the same transaction as the entries it names.
                commands.Execute(SqliteRows.PutAuditHeadSql, transaction, ("$seq", _head.Seq), ("$hash", _head.Hash));
            }

            if (committed.Count > 0)
            {
                transaction.Commit();
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

        if (committed.Count > 0)
        {
            _options.Instruments.WriteCommits.Add(1);
            _options.Instruments.WriteWork.Add(committed.Count, new KeyValuePair<string, object?>("outcome", "committed"));
            var appends = _head.Seq - headBefore.Seq;
            if (appends > 0)
            {
                _options.Instruments.AuditAppends.Add(appends);
            }
        }

        foreach (var request in committed)
        {
            request.Complete();
        }
    }

    private abstract class WriteRequest
    {
        public abstract void Run(SqliteWriteTransaction transaction);

        public abstract void Complete();

        public abstract void Fail(Exception error);
    }

    private sealed class WriteRequest<T>(Func<IWriteTransaction, T> work) : WriteRequest
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;

        public Task<T> Task => _completion.Task;

        public override void Run(SqliteWriteTransaction transaction) => _result = work(transaction);

        public override void Complete() => _completion.TrySetResult(_result);

        public override void Fail(Exception error) => _completion.TrySetException(error);
    }
}
