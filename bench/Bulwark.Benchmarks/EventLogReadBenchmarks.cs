using System.Globalization;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using Bulwark.Ingest;
using Bulwark.Storage.Sqlite.Ingest;

namespace Bulwark.Benchmarks;

/// <summary>
/// What an event log consumer pays to read the events it handles, per event: <see cref="IEventStore.ReadEventsAsync"/>
/// (the detection consumer: whole events) and <see cref="IEventStore.ReadEventKeysAsync"/> (the metrics consumer: the
/// indexed fields), in batches of <see cref="Batch"/> as <c>EventConsumerHost</c> reads them, from a store holding
/// <see cref="Events"/> events. <c>File</c> reads a batch the in-memory tail no longer holds, which queries
/// <c>events.db</c> and decodes the rows (every read before the tail, and every read before it existed); <c>Tail</c>
/// reads one of the last <see cref="SqliteEventStoreOptions.RecentEvents"/> events appended, which is where a consumer
/// keeping up reads. Both return the same events (<c>SqliteEventStoreTests</c>); the documents are parsed either way.
/// </summary>
[MemoryDiagnoser]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkDotNet.Configs.BenchmarkLogicalGroupRule.ByCategory)]
public class EventLogReadBenchmarks
{
    public const int Events = 20_000;
    public const int Batch = 500;

    private const string Full = "Whole events";
    private const string Keys = "Keys";

    private string _directory = string.Empty;
    private SqliteEventStore? _store;
    private long _fileAfter;
    private long _tailAfter;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("bulwark-event-reads-").FullName;
        _store = new SqliteEventStore(Path.Combine(_directory, SqliteEventStoreOptions.FileName), TimeProvider.System);
        _store.MigrateAsync().GetAwaiter().GetResult();
        var random = new Random(42);
        var at = DateTimeOffset.UnixEpoch.AddYears(56);
        for (var start = 0; start < Events; start += Batch)
        {
            var batch = Enumerable.Range(start, Batch).Select(i => new NormalizedEvent(
                "evt_" + i.ToString("D10", CultureInfo.InvariantCulture),
                "bench",
                "okta",
                i % 3 == 0 ? "login_failed" : "session_new",
                "acct_" + random.Next(29_000).ToString("D6", CultureInfo.InvariantCulture),
                at.AddMilliseconds(i),
                new EventActor(Ip: "198.51.100." + (i % 250).ToString(CultureInfo.InvariantCulture), UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", Country: "DE"),
                at.AddMilliseconds(i + 5),
                null,
                new JsonObject { ["outcome"] = "FAILURE", ["reason"] = "INVALID_CREDENTIALS", ["attempt"] = i % 7 })).ToList();
            _store.AppendEventsAsync(batch).GetAwaiter().GetResult();
        }

        _fileAfter = 1_000;
        _tailAfter = Events - Batch;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [BenchmarkCategory(Full)]
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch, Description = "File: query and decode")]
    public Task<IReadOnlyList<LoggedEvent>> EventsFromFile() => Read(_fileAfter);

    [BenchmarkCategory(Full)]
    [Benchmark(OperationsPerInvoke = Batch, Description = "Tail: just appended")]
    public Task<IReadOnlyList<LoggedEvent>> EventsFromTail() => Read(_tailAfter);

    [BenchmarkCategory(Keys)]
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch, Description = "File: query and decode")]
    public Task<IReadOnlyList<LoggedEventKey>> KeysFromFile() => _store!.ReadEventKeysAsync(_fileAfter, Batch);

    [BenchmarkCategory(Keys)]
    [Benchmark(OperationsPerInvoke = Batch, Description = "Tail: just appended")]
    public Task<IReadOnlyList<LoggedEventKey>> KeysFromTail() => _store!.ReadEventKeysAsync(_tailAfter, Batch);

    private async Task<IReadOnlyList<LoggedEvent>> Read(long after)
    {
        var events = await _store!.ReadEventsAsync(after, Batch);
        return events.Count == Batch ? events : throw new InvalidOperationException($"Read {events.Count} events after {after}.");
    }
}
