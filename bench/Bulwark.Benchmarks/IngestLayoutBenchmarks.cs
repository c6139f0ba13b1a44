using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using Bulwark.Storage.Sqlite;
using Bulwark.Storage.Sqlite.Ingest;
using Microsoft.Data.Sqlite;

namespace Bulwark.Benchmarks;

/// <summary>
/// The ingest store's per-row SQLite work, the layout and statements it uses now against the ones it replaced,
/// measured in the same run. Every case writes <see cref="Rows"/> rows into a fresh file made before the iteration
/// (WAL, <c>synchronous=FULL</c>, the writers' page cache and checkpoint setting), through <see cref="RawStatement"/>
/// as the writers do, and reports the time per row. The schemas are the store's own migration steps and the current
/// statements are <see cref="SqliteEventWriter"/>'s; only the replaced statements are written out here.
/// <list type="bullet">
/// <item><c>Raw</c>: a delivery with a delivery id, committed <see cref="DeliveriesPerCommit"/> to a transaction (the
/// raw writer's batches at 128 connections). Baseline: <c>raw.db</c> step 1, the id claimed in the
/// <c>delivery_ids</c> table, then the snapshot inserted. Current: step 2, the id looked up in the snapshots' index,
/// then the snapshot inserted with its <c>dedupe_until</c>.</item>
/// <item><c>Events</c>: an event, <see cref="EventsPerCommit"/> to a transaction (a normalizer batch), into
/// <c>events.db</c>'s current schema. Baseline: one <c>INSERT … SELECT … WHERE NOT EXISTS</c>. Current: the existence
/// check, then a plain insert.</item>
/// </list>
/// <see cref="Ids"/>: ids from a counter (as Svix's, and the load tool's by default) take every index entry at the
/// B-tree's right edge; random ids (GitHub's, Okta's) put each on a page of its own.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
[CategoriesColumn]
// Monitoring: one invocation per iteration, so every iteration starts from the fresh file made by IterationSetup.
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 8)]
public class IngestLayoutBenchmarks
{
    /// <summary>Rows per invocation; the reported times are per row.</summary>
    public const int Rows = 30_000;

    public const int DeliveriesPerCommit = 30;
    public const int EventsPerCommit = 150;

    private const string Raw = "Raw";
    private const string Events = "Events";

    private const string ClaimDeliverySql = """
        INSERT INTO delivery_ids (source, delivery_id, snapshot_id, expires_at) VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (source, delivery_id) DO UPDATE SET snapshot_id = excluded.snapshot_id, expires_at = excluded.expires_at
        WHERE delivery_ids.expires_at <= ?5
        """;

    private const string InsertSnapshotStep1Sql = """
        INSERT INTO raw_snapshots (id, source, received_at, headers, body, sha256, content_type, verification, delivery_id)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
        """;

    private const string InsertEventIfAbsentSql = """
        INSERT OR IGNORE INTO events (source, id, platform, event_type, account_id, ts, received_at, snapshot_id, doc)
        SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
        WHERE NOT EXISTS (SELECT 1 FROM events WHERE source = ?1 AND id = ?2)
        """;

    private const long Retention = 72 * 3600 * 1000L;
    private const string Headers = """[["content-type","application/json"],["webhook-timestamp","1763000000"],["user-agent","Bulwark.Load"]]""";

    private readonly byte[] _body = new byte[500];
    private readonly byte[] _sha256 = new byte[32];
    private readonly byte[] _document = System.Text.Encoding.UTF8.GetBytes(
        "{\"schema_version\":\"v1\",\"details\":{\"note\":\"" + new string('x', 800) + "\"}}");
    private string[] _ids = [];
    private string[] _accounts = [];
    private string _directory = string.Empty;
    private SqliteConnection? _connection;

    public enum IdKind
    {
        Counter,
        Random,
    }

    [Params(IdKind.Counter, IdKind.Random)]
    public IdKind Ids { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        _ids = [.. Enumerable.Range(0, Rows).Select(i => Ids == IdKind.Counter
            ? "msg_" + i.ToString("D10", CultureInfo.InvariantCulture)
            : "msg_" + string.Create(10, random, static (chars, r) =>
            {
                for (var c = 0; c < chars.Length; c++)
                {
                    chars[c] = "0123456789abcdefghijklmnopqrstuvwxyz"[r.Next(36)];
                }
            }))];

        // Accounts at random from 29,000, as in the dev-b trace: the account index takes a random page either way.
        _accounts = [.. Enumerable.Range(0, Rows).Select(_ => "acct_" + random.Next(29_000).ToString("D6", CultureInfo.InvariantCulture))];
        random.NextBytes(_body);
    }

    [IterationSetup(Targets = [nameof(RawDeliveryIdTable)])]
    public void RawStep1() => Open(RawStoreMigrations.Steps.Take(1));

    [IterationSetup(Targets = [nameof(RawDedupeInSnapshots)])]
    public void RawStep2() => Open(RawStoreMigrations.Steps);

    [IterationSetup(Targets = [nameof(EventInsertSelect), nameof(EventCheckThenInsert)])]
    public void EventLog() => Open(EventStoreMigrations.Steps);

    [IterationCleanup]
    public void Cleanup()
    {
        _connection?.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [BenchmarkCategory(Raw)]
    [Benchmark(Baseline = true, OperationsPerInvoke = Rows, Description = "delivery_ids table (step 1)")]
    public void RawDeliveryIdTable()
    {
        using var claim = new RawStatement(_connection!, ClaimDeliverySql);
        using var insert = new RawStatement(_connection!, InsertSnapshotStep1Sql);
        InBatches(DeliveriesPerCommit, (i, at) =>
        {
            var claimed = claim.Text(1, "bench").Text(2, _ids[i]).Text(3, SnapshotId(i)).Integer(4, at + Retention).Integer(5, at).Execute();
            InsertSnapshot(insert, i, at).Execute();
            return claimed;
        });
    }

    [BenchmarkCategory(Raw)]
    [Benchmark(OperationsPerInvoke = Rows, Description = "index on the snapshots (step 2)")]
    public void RawDedupeInSnapshots()
    {
        using var find = new RawStatement(_connection!, SqliteEventWriter.FindLiveDeliverySql);
        using var insert = new RawStatement(_connection!, SqliteEventWriter.InsertSnapshotSql);
        InBatches(DeliveriesPerCommit, (i, at) =>
            find.Text(1, "bench").Text(2, _ids[i]).Integer(3, at).ScalarText() is null
                ? InsertSnapshot(insert, i, at).Integer(10, at + Retention).Execute()
                : 0);
    }

    [BenchmarkCategory(Events)]
    [Benchmark(Baseline = true, OperationsPerInvoke = Rows, Description = "INSERT … SELECT … WHERE NOT EXISTS")]
    public void EventInsertSelect()
    {
        using var insert = new RawStatement(_connection!, InsertEventIfAbsentSql);
        InBatches(EventsPerCommit, (i, at) => InsertEvent(insert, i, at).Execute());
    }

    [BenchmarkCategory(Events)]
    [Benchmark(OperationsPerInvoke = Rows, Description = "check, then INSERT")]
    public void EventCheckThenInsert()
    {
        using var exists = new RawStatement(_connection!, SqliteEventWriter.EventExistsSql);
        using var insert = new RawStatement(_connection!, SqliteEventWriter.InsertEventSql);
        InBatches(EventsPerCommit, (i, at) => exists.Text(1, "bench").Text(2, EventId(i)).Exists() ? 0 : InsertEvent(insert, i, at).Execute());
    }

    private static string SnapshotId(int i) => "raw_" + i.ToString("D26", CultureInfo.InvariantCulture);

    private string EventId(int i) => "evt_" + _ids[i][4..];

    /// <summary>Runs <paramref name="row"/> for every row, <paramref name="perCommit"/> to a transaction; each must write one.</summary>
    private void InBatches(int perCommit, Func<int, long, int> row)
    {
        var at = 1_763_000_000_000L;
        for (var start = 0; start < Rows; start += perCommit)
        {
            using var transaction = _connection!.BeginTransaction();
            for (var i = start; i < Math.Min(Rows, start + perCommit); i++)
            {
                if (row(i, at++) != 1)
                {
                    throw new InvalidOperationException($"Row {i} was not written.");
                }
            }

            transaction.Commit();
        }
    }

    private RawStatement InsertSnapshot(RawStatement insert, int i, long at) =>
        insert.Text(1, SnapshotId(i)).Text(2, "bench").Integer(3, at).Text(4, Headers).Blob(5, _body).Blob(6, _sha256)
            .Text(7, "application/json").Integer(8, 1).Text(9, _ids[i]);

    private RawStatement InsertEvent(RawStatement insert, int i, long at) =>
        insert.Text(1, "bench").Text(2, EventId(i)).Text(3, "okta").Text(4, "login_failed").Text(5, _accounts[i])
            .Integer(6, at).Integer(7, at).Text(8, SnapshotId(i)).Utf8(9, _document);

    /// <summary>A fresh file with the given migration steps, set up as the store's writers set theirs.</summary>
    private void Open(IEnumerable<(int Version, string Sql)> steps)
    {
        _directory = Directory.CreateTempSubdirectory("bulwark-layout-").FullName;
        _connection = new SqliteConnection($"Data Source={Path.Combine(_directory, "ingest.db")};Pooling=False");
        _connection.Open();
        using var command = _connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=8192;"
            + string.Concat(steps.Select(s => s.Sql));
        command.ExecuteNonQuery();
    }
}
