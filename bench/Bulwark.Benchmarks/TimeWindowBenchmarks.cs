using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Bulwark.Ingest;
using Bulwark.Storage.Sqlite.Ingest;
using Microsoft.Data.Sqlite;

namespace Bulwark.Benchmarks;

/// <summary>
/// What a replay (<c>POST /v1/events/replay</c>) pays to find its time window in a store that has been receiving for
/// <see cref="Days"/> days (<see cref="PerDay"/> deliveries a day, one event each), for a window of the last
/// <see cref="WindowDays"/> days.
/// <list type="bullet">
/// <item><c>Snapshots</c>: reading the window's raw snapshots to re-normalize them, 256 at a time. <c>Walk</c> is how the
/// replay read them before 2026-11-22: every snapshot from the first, kept when its receive time is in the window.
/// <c>Seek</c> is <see cref="IEventStore.ReadSnapshotsReceivedAsync"/>, which seeks the id index.</item>
/// <item><c>First event</c>: the window's first offset, where consumers are rewound to. <c>Walk</c> is the statement the
/// replay ran before (the log by offset until an event's time is in the window); <c>Index</c> is
/// <see cref="IEventStore.FindFirstOffsetAsync"/>, which reads the window's entries of the event-time index.</item>
/// <item><c>First page</c>: the first page of 100 events of <c>GET /v1/events?since=</c>. <c>Walk</c> is the statement it
/// ran before (the log by offset from its start); <c>Probe</c> is <see cref="IEventStore.QueryEventsAsync"/>, which
/// starts at the window's first event when a probe of <see cref="SqliteEventStore.WindowProbe"/> index entries covers
/// the window, and walks from the start otherwise. <c>Probe</c> also parses each event's document, which the walk here
/// does not.</item>
/// <item><c>Last page</c>: the last page of <c>GET /v1/events?since=&amp;until=</c> over a window in the past, the first half
/// of the last <see cref="WindowDays"/> days: a page of 100 that finds only the window's last 50 events, so that it
/// cannot fill up. <c>Sort</c> is the statement it ran before (SQLite read the rest of the window through the time index
/// and sorted it by offset); <c>Walk</c> is <see cref="IEventStore.QueryEventsAsync"/>, which walks by offset, between
/// the window's first and last events, read from the time index's entries for the window.</item>
/// <item><c>Closed first page</c>: the first page of 100 of the same window, the same two ways.</item>
/// </list>
/// Event times follow receive times with a jitter of a few minutes, as they do for platforms' deliveries.
/// </summary>
[MemoryDiagnoser]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkDotNet.Configs.BenchmarkLogicalGroupRule.ByCategory, BenchmarkDotNet.Configs.BenchmarkLogicalGroupRule.ByParams)]
public class TimeWindowBenchmarks
{
    public const int Days = 100;
    public const int PerDay = 2_000;

    private const string Snapshots = "Snapshots";
    private const string FirstEvent = "First event";
    private const string FirstPage = "First page";
    private const string LastPage = "Last page";
    private const string ClosedFirstPage = "Closed first page";
    private const string SortSql = "SELECT \"offset\", doc, snapshot_id FROM events WHERE \"offset\" > $after AND ts >= $since AND ts < $until ORDER BY \"offset\" LIMIT 100";
    private const string PageSql = "SELECT \"offset\", doc, snapshot_id FROM events WHERE \"offset\" > $after AND ts >= $since ORDER BY \"offset\" LIMIT 100";
    private const int Page = 256;
    private const string WalkSql = "SELECT \"offset\" FROM events WHERE \"offset\" > 0 AND ts >= $since ORDER BY \"offset\" LIMIT 1";

    private readonly DateTimeOffset _end = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private string _directory = string.Empty;
    private SqliteEventStore? _store;
    private long _expectedSnapshots;

    /// <summary>The window: the last day (2,000 events), the last half of the store (100,000), or all of it.</summary>
    [Params(1, 50, 100)]
    public int WindowDays { get; set; }

    private DateTimeOffset Since => _end.AddDays(-WindowDays);

    private DateTimeOffset PastUntil => _end.AddDays(-WindowDays / 2.0);

    private long _lastPageAfter;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("bulwark-time-windows-").FullName;
        _store = new SqliteEventStore(Path.Combine(_directory, SqliteEventStoreOptions.FileName), TimeProvider.System);
        _store.MigrateAsync().GetAwaiter().GetResult();
        var random = new Random(42);
        var start = _end.AddDays(-Days);
        var step = TimeSpan.FromDays(1) / PerDay;
        const int Batch = 500;
        for (var first = 0; first < Days * PerDay; first += Batch)
        {
            var received = Enumerable.Range(first, Batch).Select(i => start + (step * i)).ToList();
            var accepted = received.Select((at, n) => _store.AcceptDeliveryAsync(Delivery(first + n, at)));
            Task.WhenAll(accepted).GetAwaiter().GetResult();
            var events = received.Select((at, n) => new NormalizedEvent(
                "evt_" + (first + n).ToString("D9", CultureInfo.InvariantCulture),
                "bench",
                "okta",
                "login_failed",
                "acct_" + random.Next(29_000).ToString("D6", CultureInfo.InvariantCulture),
                at.AddSeconds(-random.Next(300)),
                ReceivedAt: at)).ToList();
            _store.AppendEventsAsync(events).GetAwaiter().GetResult();
        }

        _expectedSnapshots = (long)WindowDays * PerDay;
        if (WalkFirstOffset().GetAwaiter().GetResult() != IndexFirstOffset().GetAwaiter().GetResult())
        {
            throw new InvalidOperationException("the walk and the index found different first events");
        }

        if (WalkFirstPage().GetAwaiter().GetResult() != ProbeFirstPage().GetAwaiter().GetResult())
        {
            throw new InvalidOperationException("the walk and the probe read different first pages");
        }

        // The offset before the window's last 50 events: a page of 100 after it cannot fill up.
        using (var connection = Open())
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT \"offset\" FROM events WHERE ts >= $since AND ts < $until ORDER BY \"offset\" DESC LIMIT 1 OFFSET 50";
            command.Parameters.AddWithValue("$since", Since.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$until", PastUntil.ToUnixTimeMilliseconds());
            _lastPageAfter = (long)command.ExecuteScalar()!;
        }

        if (SortLastPage().GetAwaiter().GetResult() != WalkLastPage().GetAwaiter().GetResult()
            || SortClosedFirstPage().GetAwaiter().GetResult() != WalkClosedFirstPage().GetAwaiter().GetResult())
        {
            throw new InvalidOperationException("the sort and the walk read different pages");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [BenchmarkCategory(Snapshots)]
    [Benchmark(Baseline = true, Description = "Walk: every snapshot from the first")]
    public async Task<long> WalkSnapshots()
    {
        var (count, after) = (0L, 0L);
        while (await _store!.ReadSnapshotsAsync(after, Page) is { Count: > 0 } page)
        {
            count += page.Count(s => s.ReceivedAt >= Since && s.ReceivedAt < _end);
            after = page[^1].Seq;
        }

        return Check(count);
    }

    [BenchmarkCategory(Snapshots)]
    [Benchmark(Description = "Seek: ReadSnapshotsReceivedAsync")]
    public async Task<long> SeekSnapshots()
    {
        var count = 0L;
        string? after = null;
        while (await _store!.ReadSnapshotsReceivedAsync(Since, _end, after, Page) is { Count: > 0 } page)
        {
            count += page.Count;
            after = page[^1].Id;
        }

        return Check(count);
    }

    [BenchmarkCategory(FirstEvent)]
    [Benchmark(Baseline = true, Description = "Walk: the log by offset")]
    public async Task<long> WalkFirstOffset()
    {
        var connection = Open();
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText = WalkSql;
            command.Parameters.AddWithValue("$since", Since.ToUnixTimeMilliseconds());
            return (long)(await command.ExecuteScalarAsync())!;
        }
    }

    [BenchmarkCategory(FirstEvent)]
    [Benchmark(Description = "Index: FindFirstOffsetAsync")]
    public async Task<long> IndexFirstOffset() => await _store!.FindFirstOffsetAsync(Since, null) ?? throw new InvalidOperationException("no event in the window");

    [BenchmarkCategory(FirstPage)]
    [Benchmark(Baseline = true, Description = "Walk: the log by offset from its start")]
    public Task<long> WalkFirstPage() => ReadPageAsync(PageSql, 0, Since, null, 100);

    [BenchmarkCategory(FirstPage)]
    [Benchmark(Description = "Probe: QueryEventsAsync")]
    public async Task<long> ProbeFirstPage()
    {
        var page = await _store!.QueryEventsAsync(new EventQuery(Since: Since, Limit: 100));
        return page.Count == 100 ? page[^1].Offset : throw new InvalidOperationException($"read {page.Count} events");
    }

    [BenchmarkCategory(ClosedFirstPage)]
    [Benchmark(Baseline = true, Description = "Sort: the window through the time index")]
    public Task<long> SortClosedFirstPage() => SortPageAsync(0, 100);

    [BenchmarkCategory(ClosedFirstPage)]
    [Benchmark(Description = "Walk: QueryEventsAsync")]
    public Task<long> WalkClosedFirstPage() => WalkPageAsync(0, 100);

    [BenchmarkCategory(LastPage)]
    [Benchmark(Baseline = true, Description = "Sort: the window through the time index")]
    public Task<long> SortLastPage() => SortPageAsync(_lastPageAfter, 50);

    [BenchmarkCategory(LastPage)]
    [Benchmark(Description = "Walk: QueryEventsAsync")]
    public Task<long> WalkLastPage() => WalkPageAsync(_lastPageAfter, 50);

    private Task<long> SortPageAsync(long after, int expected) => ReadPageAsync(SortSql, after, Since, PastUntil, expected);

    /// <summary>Runs a page statement as it ran before the change (decoding rows, not parsing them); the page's last offset.</summary>
    private async Task<long> ReadPageAsync(string sql, long after, DateTimeOffset since, DateTimeOffset? until, int expected)
    {
        var connection = Open();
        await using (connection.ConfigureAwait(false))
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$after", after);
            command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$until", until?.ToUnixTimeMilliseconds() ?? long.MaxValue);
            using var reader = await command.ExecuteReaderAsync();
            var (count, last) = (0, 0L);
            while (await reader.ReadAsync())
            {
                (count, last) = (count + 1, reader.GetInt64(0));
                _ = reader.GetString(1);
            }

            return count == expected ? last : throw new InvalidOperationException($"read {count} events");
        }
    }

    private async Task<long> WalkPageAsync(long after, int expected)
    {
        var page = await _store!.QueryEventsAsync(new EventQuery(Since: Since, Until: PastUntil, AfterOffset: after, Limit: 100));
        return page.Count == expected ? page[^1].Offset : throw new InvalidOperationException($"read {page.Count} events");
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(_directory, SqliteEventStoreOptions.FileName), Mode = SqliteOpenMode.ReadOnly }.ToString());
        connection.Open();
        return connection;
    }

    private static RawDelivery Delivery(int i, DateTimeOffset at)
    {
        var id = "msg_" + i.ToString("D9", CultureInfo.InvariantCulture);
        var body = Encoding.UTF8.GetBytes($$"""{"id":"evt_{{i}}","type":"login_failed","account":"acct","padding":"{{new string('x', 300)}}"}""");
        return new RawDelivery("bench", at, [new("webhook-id", id)], body, "application/json", VerificationOutcome.Verified, id, at.AddDays(3));
    }

    private long Check(long count) =>
        count == _expectedSnapshots ? count : throw new InvalidOperationException($"read {count} snapshots in the window, expected {_expectedSnapshots}");
}
