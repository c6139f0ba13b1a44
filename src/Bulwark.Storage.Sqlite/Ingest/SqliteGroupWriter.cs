using System.Threading.Channels;
using Bulwark.Ingest;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>
/// One SQLite file of the ingest store and the one writer that owns it: every queued caller's work runs in one
/// transaction, so one flush (group commit); if one caller's work throws, the rest goes again with each caller's work
/// inside its own savepoint, so one failure rolls back only that work; nothing is acknowledged before its commit. The
/// store has two of these (raw snapshots, event log), so the two write paths never queue behind each other's statements
/// or flushes.
/// </summary>
internal sealed class SqliteGroupWriter : IAsyncDisposable
{
    private readonly string _name;
    private readonly string _writerConnectionString;
    private readonly SqliteEventStoreOptions _options;
    private readonly Func<(long Seq, long Offset)> _positions;
    private readonly Action<SqliteEventWriter> _committed;
    private readonly Action<Exception> _stopped;
    private readonly Channel<GroupWrite> _queue = Channel.CreateUnbounded<GroupWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _gate = new();
    private SqliteConnection? _writer;
    private SqliteCommandCache? _commands;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    // No spinning before it sleeps: on two cores a spinning writer takes the CPU that the work it waits for needs.
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private Task? _loop;
    private volatile bool _closing;
    private Task? _checkpointer;
    private volatile bool _ready;
    private long _commits;
    private long _checkpoints;

    /// <param name="name">What the file holds, for messages.</param>
    /// <param name="path">The database file.</param>
    /// <param name="options">The store's options (flushing, batch size).</param>
    /// <param name="positions">The committed positions the next transaction starts from.</param>
    /// <param name="committed">Called after each commit with the transaction's writes (to publish positions).</param>
    /// <param name="stopped">Called once if the writer stops for good (it could not reopen the file).</param>
    /// <param name="time">The clock of the background checkpoints.</param>
    public SqliteGroupWriter(
        string name, string path, SqliteEventStoreOptions options, Func<(long Seq, long Offset)> positions, Action<SqliteEventWriter> committed, Action<Exception> stopped, TimeProvider time)
    {
        _name = name;
        _time = time;
        Path = path;
        _options = options;
        _positions = positions;
        _committed = committed;
        _stopped = stopped;
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
        }.ToString();

        // The writer holds its connection for the store's life; unpooled, so that a reset really reopens the file.
        _writerConnectionString = new SqliteConnectionStringBuilder(ConnectionString) { Pooling = false }.ToString();
    }

    public string Path { get; }

    /// <summary>For the read side: pooled connections of their own, which see committed data only.</summary>
    public string ConnectionString { get; }

    public bool IsReady => _ready;

    /// <summary>How many transactions this writer has committed.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>How many background checkpoints have run to the end.</summary>
    public long Checkpoints => Interlocked.Read(ref _checkpoints);

    /// <summary>Opens the writer connection and runs <paramref name="prepare"/> on it (migrations, positions) before any write.</summary>
    public void Open(Action<SqliteConnection> prepare)
    {
        lock (_gate)
        {
            if (_writer is not null)
            {
                return;
            }

            var writer = OpenConnection();
            try
            {
                prepare(writer);
            }
            catch
            {
                writer.Dispose();
                throw;
            }

            _writer = writer;
            _commands = new SqliteCommandCache(writer);
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the writer's connection after <see cref="Open"/> and before <see cref="Start"/>:
    /// migration steps that wait for the other file.
    /// </summary>
    public void Prepare(Action<SqliteConnection> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        lock (_gate)
        {
            if (_writer is null || _loop is not null)
            {
                throw new InvalidOperationException("Prepare runs between Open and Start.");
            }

            work(_writer);
        }
    }

    /// <summary>Starts the writer loop (after <see cref="Open"/>).</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_loop is null)
            {
                // A thread of its own: a commit blocks in fsync, which on a pool thread would starve request handling
                // and make the pool add threads (more switching); it also lets a profiler tell the two writers apart.
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                new Thread(() => Loop(done)) { IsBackground = true, Name = "bulwark " + _name + " writer" }.Start();
                _loop = done.Task;
            }

            if (_checkpointer is null && _options.CheckpointInterval > TimeSpan.Zero)
            {
                // The timer and the commit count start now, not when the task first runs: a tick of the clock after
                // Start counts, and so does a commit made before the task first looks.
                var timer = new PeriodicTimer(_options.CheckpointInterval, _time);
                var commits = Commits;
                _checkpointer = Task.Run(() => CheckpointLoopAsync(timer, commits), CancellationToken.None);
            }

            _ready = true;
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> in the writer's next group commit. If it throws, nothing it wrote is kept and the
    /// exception is the task's; <paramref name="work"/> may run more than once (another caller's failure sends the
    /// batch again), so it must only write through the writer it is given.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<SqliteEventWriter, T> work, CancellationToken cancellationToken)
    {
        if (!_ready)
        {
            throw new EventStoreUnavailableException($"The event store's {_name} is not open: call MigrateAsync first, or see the log for why its writer stopped.");
        }

        var request = new GroupWrite<T>(work, cancellationToken);
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(request), typeof(SqliteEventStore));
        try
        {
            _wake.Set();
        }
        catch (ObjectDisposedException)
        {
            // The store closed in between: its writer drained the queue, this write included, before it closed.
        }
        return request.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Stops taking writes, commits those already queued (their callers answered), then closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        _closing = true;
        _wake.Set();
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task? loop, checkpointer;
        lock (_gate)
        {
            loop = _loop;
            checkpointer = _checkpointer;
        }

        if (checkpointer is not null)
        {
            await checkpointer.ConfigureAwait(false);
        }

        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }

        _stopping.Dispose();
        _wake.Dispose();

        _ready = false;
        lock (_gate)
        {
            _commands?.Dispose();
            _commands = null;
            _writer?.Dispose();
            _writer = null;
        }

        SqliteConnection.ClearPool(new SqliteConnection(ConnectionString));
    }

    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private SqliteConnection OpenConnection()
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

    /// <summary>
    /// After a failed commit the connection's transaction state cannot be trusted (SQLite may have rolled back
    /// underneath it): start over with a fresh connection and statements.
    /// </summary>
    private void Reset()
    {
        _commands?.Dispose();
        _writer?.Dispose();
        var writer = OpenConnection();
        _writer = writer;
        _commands = new SqliteCommandCache(writer);
    }

    /// <summary>
    /// Copies committed WAL pages into the database file every <see cref="SqliteEventStoreOptions.CheckpointInterval"/>
    /// after a commit, on its own connection, so that the copying and the database file's flush happen beside the
    /// writer rather than inside one of its commits.
    /// </summary>
    private async Task CheckpointLoopAsync(PeriodicTimer timer, long checkpointedAt)
    {
        using var ticks = timer;
        SqliteConnection? connection = null;
        try
        {
            while (await ticks.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                var commits = Commits;
                if (commits == checkpointedAt)
                {
                    continue;
                }

                try
                {
                    if (connection is null)
                    {
                        connection = new SqliteConnection(_writerConnectionString);
                        connection.Open();
                        Execute(connection, _options.FlushEachCommit ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
                    }

                    Execute(connection, "PRAGMA wal_checkpoint(PASSIVE);");
                    checkpointedAt = commits;
                    Interlocked.Increment(ref _checkpoints);
                }
#pragma warning disable CA1031 // A checkpoint that fails is tried again at the next tick; the writer's own checkpoints still run.
                catch (Exception error) when (error is not OperationCanceledException)
#pragma warning restore CA1031
                {
                    connection?.Dispose();
                    connection = null;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        finally
        {
            connection?.Dispose();
        }
    }

    /// <summary>
    /// The writer thread: takes what is queued (up to <see cref="SqliteEventStoreOptions.MaxWritesPerCommit"/>), commits it
    /// as one transaction, and sleeps when nothing is queued. Callers wake it with each write.
    /// </summary>
    private void Loop(TaskCompletionSource done)
    {
        var batch = new List<GroupWrite>(_options.MaxWritesPerCommit);
        var reader = _queue.Reader;
        try
        {
            while (true)
            {
                batch.Clear();
                while (batch.Count < _options.MaxWritesPerCommit && reader.TryRead(out var request))
                {
                    batch.Add(request);
                }

                if (batch.Count == 0)
                {
                    // Closing is set after the queue stops taking writes: once it is seen, an empty queue stays empty.
                    if (_closing && !reader.TryPeek(out _))
                    {
                        return;
                    }

                    // A write queued before the reset has set the event already: look again rather than sleep over it.
                    _wake.Reset();
                    if (!_closing && !reader.TryPeek(out _))
                    {
                        _wake.Wait();
                    }

                    continue;
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
                    _stopped(error);
                    return;
                }
            }
        }
        finally
        {
            done.TrySetResult();
        }
    }

    private void CommitBatch(List<GroupWrite> batch)
    {
        // A caller that has stopped waiting is left out: nothing of it is written.
        batch.RemoveAll(static request => request.CancelIfAbandoned());
        if (batch.Count == 0)
        {
            return;
        }

        SqliteEventWriter writes;
        List<GroupWrite> committed;
        try
        {
            (writes, committed) = CommitTogether(batch) ?? CommitEach(batch);
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

            Reset();
            return;
        }

        // Positions move only after the commit, so readers woken by them find the rows.
        _committed(writes);
        foreach (var request in committed)
        {
            request.Complete();
        }
    }

    /// <summary>
    /// The usual way: every caller's work in one transaction, without savepoints. A savepoint makes SQLite copy each
    /// page the work changes that earlier work in the same transaction had already changed (4 KiB a page, into the
    /// sub-journal; a normalizer batch's copies outgrew memory and went to a temporary file, opened and deleted at
    /// every commit). If one caller's work throws, that caller fails, the transaction is rolled back and this returns
    /// null, so that the rest of the batch goes again through <see cref="CommitEach"/>; the work before it runs twice,
    /// which writes nothing twice since the first run was rolled back.
    /// </summary>
    private (SqliteEventWriter Writes, List<GroupWrite> Committed)? CommitTogether(List<GroupWrite> batch)
    {
        var (transaction, writes) = Begin();
        using var _ = transaction;
        for (var i = 0; i < batch.Count; i++)
        {
            try
            {
                batch[i].Run(writes);
            }
#pragma warning disable CA1031 // The caller's own exception goes back to the caller; the batch goes again without it.
            catch (Exception error)
#pragma warning restore CA1031
            {
                batch[i].Fail(error);
                if (raw.sqlite3_get_autocommit(_writer!.Handle) != 0)
                {
                    // SQLite already rolled the whole transaction back (disk full, I/O error): the whole batch fails.
                    throw;
                }

                transaction.Rollback();
                batch.RemoveAt(i);
                return null;
            }
        }

        Commit(transaction);
        return (writes, batch);
    }

    /// <summary>
    /// After a caller's work has thrown: the batch in one transaction again, each caller's work inside its own
    /// savepoint, so that another failure rolls back only that work.
    /// </summary>
    private (SqliteEventWriter Writes, List<GroupWrite> Committed) CommitEach(List<GroupWrite> batch)
    {
        var committed = new List<GroupWrite>(batch.Count);
        var (transaction, writes) = Begin();
        using var _ = transaction;
        foreach (var request in batch)
        {
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
                // batch fails as a whole.
                writes.Execute("ROLLBACK TO work");
                writes.Execute("RELEASE work");
            }
        }

        if (committed.Count > 0)
        {
            Commit(transaction);
        }

        return (writes, committed);
    }

    /// <summary>A transaction on the writer's connection, and the writes of it, starting from the committed positions.</summary>
    private (SqliteTransaction Transaction, SqliteEventWriter Writes) Begin()
    {
        var transaction = _writer!.BeginTransaction();
        var (seq, offset) = _positions();
        return (transaction, new SqliteEventWriter(_commands!, transaction, seq, offset));
    }

    private void Commit(SqliteTransaction transaction)
    {
        transaction.Commit();
        Interlocked.Increment(ref _commits);
    }

    private abstract class GroupWrite(CancellationToken cancellation)
    {
        protected CancellationToken Cancellation { get; } = cancellation;

        /// <summary>Cancels this write if its caller has stopped waiting; true if it did.</summary>
        public bool CancelIfAbandoned()
        {
            if (!Cancellation.IsCancellationRequested)
            {
                return false;
            }

            Cancel();
            return true;
        }

        public abstract void Run(SqliteEventWriter writes);

        public abstract void Complete();

        public abstract void Fail(Exception error);

        public abstract void Cancel();
    }

    private sealed class GroupWrite<T>(Func<SqliteEventWriter, T> work, CancellationToken cancellation) : GroupWrite(cancellation)
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
