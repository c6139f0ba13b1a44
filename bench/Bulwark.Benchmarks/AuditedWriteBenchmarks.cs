using System.Diagnostics.Metrics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using Bulwark.Audit;
using Bulwark.Identity;
using Bulwark.Json;
using Bulwark.Storage;
using Bulwark.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Bulwark.Benchmarks;

/// <summary>
/// Audited state changes per second into the embedded SQLite store, against plain unaudited inserts of the same
/// identity rows measured in the same run. Every case writes <see cref="Rows"/> identities into a fresh database file
/// (WAL, <c>synchronous=FULL</c>) created before the iteration, and reports the time per row.
/// <list type="bullet">
/// <item><c>Batched</c>: plain inserts committed <see cref="BatchSize"/> rows per transaction, against the same rows
/// submitted to <see cref="SqliteControlStore.WriteAsync{T}"/> all at once, so group commit batches them (up to the
/// same <see cref="BatchSize"/> per commit).</item>
/// <item><c>Sequential</c>: one row per transaction, against one store write at a time, each awaited before the next
/// (one commit, so one flush, per state change).</item>
/// </list>
/// The audited work mirrors what the server does for <c>PUT /v1/identities/{name}</c> on a new name: build the record at
/// the transaction time, put it, and append an <c>identity.create</c> entry whose <c>after</c> is the canonical JSON
/// document (<c>before</c> is <see langword="null"/> because the identity did not exist), hashed into the chain.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
// Monitoring: one invocation per iteration, so every iteration starts from the fresh file made by IterationSetup.
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 3, iterationCount: 20)]
public class AuditedWriteBenchmarks
{
    /// <summary>Rows (state changes) per invocation; the reported times are per row.</summary>
    public const int Rows = 20_000;

    /// <summary>Rows per transaction in the batched cases: the store's default <see cref="SqliteStoreOptions.MaxWritesPerCommit"/>.</summary>
    public const int BatchSize = 256;

    private const string Batched = "Batched";
    private const string Sequential = "Sequential";

    private static readonly string[] Names = [.. Enumerable.Range(0, Rows).Select(i => "svc-" + i.ToString("D6", CultureInfo.InvariantCulture))];
    private static readonly IReadOnlyList<Role> RowRoles = [Role.Viewer, Role.Operator];
    private static readonly string RolesText = string.Join(',', RowRoles.Select(Roles.Name));

    private readonly Meter _meter = new("Bulwark.Benchmarks");
    private readonly MeterListener _listener = new();
    private readonly StoreInstruments _instruments;
    private readonly Dictionary<string, List<long>> _commitsPerIteration = [];
    private long _commits;
    private string _directory = string.Empty;
    private SqliteConnection? _plain;
    private SqliteControlStore? _store;

    public AuditedWriteBenchmarks() => _instruments = new StoreInstruments(_meter);

    [GlobalSetup]
    public void GlobalSetup()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == _meter && instrument.Name == "bulwark.store.commits")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _commits, value));
        _listener.Start();
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        // Printed into the BenchmarkDotNet log: how many commits the store actually made per invocation.
        foreach (var (name, commits) in _commitsPerIteration)
        {
            Console.WriteLine($"// {name}: store commits per invocation of {Rows} writes: {string.Join(' ', commits)}");
        }

        _listener.Dispose();
        _meter.Dispose();
    }

    [IterationSetup(Targets = [nameof(PlainInsertsBatched), nameof(PlainInsertsOnePerTransaction)])]
    public void SetupPlain()
    {
        // The schema comes from the store's own migrations, so both sides write into identical tables.
        CreateStore().DisposeAsync().AsTask().GetAwaiter().GetResult();
        _plain = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(_directory, SqliteStoreOptions.FileName),
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
        }.ToString());
        _plain.Open();
        Execute(_plain, "PRAGMA journal_mode=WAL;");
        Execute(_plain, "PRAGMA synchronous=FULL;");
    }

    [IterationCleanup(Targets = [nameof(PlainInsertsBatched), nameof(PlainInsertsOnePerTransaction)])]
    public void CleanupPlain()
    {
        EnsureWritten(_plain!);
        _plain!.Dispose();
        _plain = null;
        DeleteDirectory();
    }

    [IterationSetup(Targets = [nameof(AuditedWritesGroupCommit), nameof(AuditedWritesOneAtATime)])]
    public void SetupStore()
    {
        _store = CreateStore();
        Interlocked.Exchange(ref _commits, 0);
    }

    [IterationCleanup(Target = nameof(AuditedWritesGroupCommit))]
    public void CleanupGroupCommit() => CleanupStore(nameof(AuditedWritesGroupCommit));

    [IterationCleanup(Target = nameof(AuditedWritesOneAtATime))]
    public void CleanupOneAtATime() => CleanupStore(nameof(AuditedWritesOneAtATime));

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows, Description = "Plain inserts, 256 rows/tx")]
    [BenchmarkCategory(Batched)]
    public void PlainInsertsBatched() => InsertPlain(BatchSize);

    [Benchmark(OperationsPerInvoke = Rows, Description = "Audited writes, group commit")]
    [BenchmarkCategory(Batched)]
    public Task AuditedWritesGroupCommit()
    {
        var store = _store!;
        var writes = new Task<AuditEntry>[Rows];
        for (var i = 0; i < Rows; i++)
        {
            var name = Names[i];
            writes[i] = store.WriteAsync(tx => Create(tx, name));
        }

        return Task.WhenAll(writes);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows, Description = "Plain inserts, 1 row/tx")]
    [BenchmarkCategory(Sequential)]
    public void PlainInsertsOnePerTransaction() => InsertPlain(1);

    [Benchmark(OperationsPerInvoke = Rows, Description = "Audited writes, one at a time")]
    [BenchmarkCategory(Sequential)]
    public async Task AuditedWritesOneAtATime()
    {
        var store = _store!;
        for (var i = 0; i < Rows; i++)
        {
            var name = Names[i];
            await store.WriteAsync(tx => Create(tx, name)).ConfigureAwait(false);
        }
    }

    /// <summary>What the server's identity service does for a new identity, minus the HTTP context.</summary>
    private static AuditEntry Create(IWriteTransaction tx, string name)
    {
        var record = new IdentityRecord
        {
            Name = name,
            Roles = RowRoles,
            Description = Description(name),
            CreatedAt = tx.Now,
            UpdatedAt = tx.Now,
        };
        tx.PutIdentity(record);
        return tx.Append(new AuditDraft
        {
            Actor = "admin",
            Action = "identity.create",
            Target = "identity/" + name,
            Before = null,
            After = CanonicalJson.Serialize(IdentityKind.Instance.ToDocument(IdentityDefinition.From(record))),
            Reason = "benchmark",
            CorrelationId = "bench-" + name,
        });
    }

    private static string Description(string name) => "Service account " + name + " used by the deploy pipeline";

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static void EnsureWritten(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM identities";
        if ((long)command.ExecuteScalar()! != Rows)
        {
            throw new InvalidOperationException($"Expected {Rows} identities after the benchmark.");
        }
    }

    /// <summary>The same rows as the store writes, with one prepared statement reused: the cheapest plain insert.</summary>
    private void InsertPlain(int batchSize)
    {
        var connection = _plain!;
        using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO identities (name, roles, description, created_at, updated_at) VALUES ($name, $roles, $description, $created, $updated)";
        var nameParameter = command.Parameters.Add("$name", SqliteType.Text);
        var rolesParameter = command.Parameters.Add("$roles", SqliteType.Text);
        var descriptionParameter = command.Parameters.Add("$description", SqliteType.Text);
        var createdParameter = command.Parameters.Add("$created", SqliteType.Integer);
        var updatedParameter = command.Parameters.Add("$updated", SqliteType.Integer);
        for (var start = 0; start < Rows; start += batchSize)
        {
            using var transaction = connection.BeginTransaction();
            command.Transaction = transaction;
            var now = SqliteRows.ToMicros(AuditChain.Truncate(TimeProvider.System.GetUtcNow()));
            for (var i = start; i < Math.Min(start + batchSize, Rows); i++)
            {
                var name = Names[i];
                nameParameter.Value = name;
                rolesParameter.Value = RolesText;
                descriptionParameter.Value = Description(name);
                createdParameter.Value = now;
                updatedParameter.Value = now;
                command.ExecuteNonQuery();
            }

            transaction.Commit();
        }
    }

    private void CleanupStore(string benchmark)
    {
        if (!_commitsPerIteration.TryGetValue(benchmark, out var commits))
        {
            _commitsPerIteration[benchmark] = commits = [];
        }

        commits.Add(Interlocked.Exchange(ref _commits, 0));
        _store!.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _store = null;
        using (var check = new SqliteConnection($"Data Source={Path.Combine(_directory, SqliteStoreOptions.FileName)};Pooling=False"))
        {
            check.Open();
            EnsureWritten(check);
            using var command = check.CreateCommand();
            command.CommandText = "SELECT count(*) FROM audit";
            if ((long)command.ExecuteScalar()! != Rows)
            {
                throw new InvalidOperationException($"Expected {Rows} audit entries after the benchmark.");
            }
        }

        DeleteDirectory();
    }

    private SqliteControlStore CreateStore()
    {
        var directory = _directory = Path.Combine(Path.GetTempPath(), "bulwark-bench-" + Guid.NewGuid().ToString("N"));
        var store = new SqliteControlStore(
            new SqliteStoreOptions
            {
                DataDirectory = directory,
                FlushEachCommit = true,
                MaxWritesPerCommit = BatchSize,
                Instruments = _instruments,
            },
            TimeProvider.System);
        store.MigrateAsync().GetAwaiter().GetResult();
        return store;
    }

    private void DeleteDirectory()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
