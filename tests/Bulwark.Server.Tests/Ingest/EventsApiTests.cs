using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Server.Ingest;
using Bulwark.TestUtils;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Ingest;

public sealed class EventsApiTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private IngestServer _ingest = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _ingest = await IngestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _ingest.DisposeAsync();

    [Fact]
    public async Task Push_AcceptsValidItems_ReportsEachInvalidOneByIndex_AndCountsDuplicates()
    {
        var token = await _ingest.Server.CreateIdentityTokenAsync("svc", Role.Ingest);
        using var service = _ingest.Server.CreateClient(token);
        var invalid = """{"schema_version":"v1","id":"bad","source":"svc","platform":"internal","event_type":"reset","account_id":"a","timestamp":"yesterday"}""";
        var body = $"[{IngestServer.Event("e-1", "svc")},{invalid},{IngestServer.Event("e-2", "svc")},{IngestServer.Event("e-1", "svc")},42]";

        var answer = await Http.ReadJsonAsync(await service.PostAsync("v1/events", IngestServer.Body(body), Ct));

        answer["accepted"]!.GetValue<int>().ShouldBe(2);
        answer["duplicates"]!.GetValue<int>().ShouldBe(1);
        var rejected = answer["rejected"]!.AsArray();
        rejected.Select(r => r!["index"]!.GetValue<int>()).ShouldBe([1, 4]);
        rejected[0]!["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ShouldBe(["/event_type", "/timestamp"], ignoreOrder: true);
    }

    [Fact]
    public async Task Push_AsNdjson_RejectsALineThatIsNotJson_AndKeepsTheRest()
    {
        using var admin = _ingest.Server.CreateAdminClient();
        var body = IngestServer.Event("n-1", "svc") + "\n\n{not json\r\n" + IngestServer.Event("n-2", "svc") + "\n";

        var answer = await Http.ReadJsonAsync(await admin.PostAsync("v1/events", IngestServer.Body(body, "application/x-ndjson"), Ct));

        answer["accepted"]!.GetValue<int>().ShouldBe(2);
        answer["rejected"]![0]!["index"]!.GetValue<int>().ShouldBe(1);
    }

    [Fact]
    public async Task Push_AsNdjson_WhoseFirstLineIsAnArray_RejectsThatLine_AndKeepsTheRest()
    {
        using var admin = _ingest.Server.CreateAdminClient();
        var body = "[1, 2]\n" + IngestServer.Event("a-1", "svc") + "\n" + IngestServer.Event("a-2", "svc") + "\n";

        using var response = await admin.PostAsync("v1/events", IngestServer.Body(body, "application/x-ndjson"), Ct);
        var answer = await Http.ReadJsonAsync(response);

        answer["accepted"]!.GetValue<int>().ShouldBe(2);
        answer["rejected"]!.AsArray().ShouldHaveSingleItem()!["index"]!.GetValue<int>().ShouldBe(0);
        (await _ingest.Events.ReadEventsAsync(0, 10, Ct)).Select(e => e.Event.Id).ShouldBe(["a-1", "a-2"]);

        // One JSON array sent as NDJSON is still read as the array it is.
        var array = $"[{IngestServer.Event("a-3", "svc")},\n {IngestServer.Event("a-4", "svc")}]";
        var whole = await Http.ReadJsonAsync(await admin.PostAsync("v1/events", IngestServer.Body(array, "application/x-ndjson"), Ct));
        whole["accepted"]!.GetValue<int>().ShouldBe(2);
    }

    [Fact]
    public async Task Push_AnEventUnderAWebhookSourcesName_IsRejected_SoItCannotTakeTheIdOfADeliveryToCome()
    {
        await _ingest.StandardSourceAsync("gh");
        var token = await _ingest.Server.CreateIdentityTokenAsync("svc", Role.Ingest);
        using var service = _ingest.Server.CreateClient(token);
        var body = $"[{IngestServer.Event("victim-1", "gh", account: "decoy")},{IngestServer.Event("own-1", "svc")}]";

        var answer = await Http.ReadJsonAsync(await service.PostAsync("v1/events", IngestServer.Body(body), Ct));

        answer["accepted"]!.GetValue<int>().ShouldBe(1);
        var rejected = answer["rejected"]!.AsArray().ShouldHaveSingleItem()!;
        rejected["index"]!.GetValue<int>().ShouldBe(0);
        var error = rejected["errors"]!.AsArray().ShouldHaveSingleItem()!;
        (error["path"]!.GetValue<string>(), error["message"]!.GetValue<string>()).ShouldBe(("/source", "'gh' is a webhook source: its events come only from its verified deliveries"));
        (await _ingest.Events.QueryEventsAsync(new EventQuery(Source: "gh"), Ct)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Push_AnEventOver64KiB_IsRejected_AndTheRestAccepted()
    {
        using var admin = _ingest.Server.CreateAdminClient();
        var big = JsonNode.Parse(IngestServer.Event("big-1", "svc"))!.AsObject();
        big["details"] = new JsonObject { ["blob"] = new string('x', EventJson.MaxBytes) };
        var body = $"[{IngestServer.Event("small-1", "svc")},{big.ToJsonString()}]";

        var answer = await Http.ReadJsonAsync(await admin.PostAsync("v1/events", IngestServer.Body(body), Ct));

        answer["accepted"]!.GetValue<int>().ShouldBe(1);
        var rejected = answer["rejected"]!.AsArray().ShouldHaveSingleItem()!;
        rejected["index"]!.GetValue<int>().ShouldBe(1);
        rejected["errors"]![0]!["message"]!.GetValue<string>().ShouldEndWith($"bytes of JSON; one takes at most {EventJson.MaxBytes}");
    }

    [Fact]
    public async Task Push_WithNoValidItem_Is422_AndTheIngestRoleCannotRead()
    {
        var token = await _ingest.Server.CreateIdentityTokenAsync("svc", Role.Ingest);
        using var service = _ingest.Server.CreateClient(token);

        var problem = await Http.ReadProblemAsync(await service.PostAsync("v1/events", IngestServer.Body("""[{"id":1}]"""), Ct), HttpStatusCode.UnprocessableEntity, "validation");
        problem["rejected"]![0]!["index"]!.GetValue<int>().ShouldBe(0);
        await Http.ReadProblemAsync(await service.GetAsync("v1/events", Ct), HttpStatusCode.Forbidden, "forbidden");
        await Http.ReadProblemAsync(await service.PostAsync("v1/events", IngestServer.Body("[{"), Ct), HttpStatusCode.BadRequest, "malformed-request");
        await Http.ReadProblemAsync(await service.PostAsync("v1/events", IngestServer.Body("a,b", "text/csv"), Ct), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Fact]
    public async Task Query_FiltersByAccountTypePlatformAndTime_AndPages()
    {
        using var admin = _ingest.Server.CreateAdminClient();
        var items = Enumerable.Range(0, 30).Select(i => IngestServer.Event(
            $"q-{i}", "svc", type: i % 3 == 0 ? "login_failed" : "password_reset", account: $"acct_{i % 5}", timestamp: $"2026-03-02T00:{i:D2}:00.000Z"));
        (await admin.PostAsync("v1/events", IngestServer.Body("[" + string.Join(',', items) + "]"), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        var byAccount = await Http.ReadJsonAsync(await admin.GetAsync("v1/events?account=acct_2&type=password_reset", Ct));
        byAccount["items"]!.AsArray().Select(e => e!["id"]!.GetValue<string>()).ShouldBe(["q-2", "q-7", "q-17", "q-22"]);

        var window = await Http.ReadJsonAsync(await admin.GetAsync("v1/events?since=2026-03-02T00:10:00Z&until=2026-03-02T00:12:00Z", Ct));
        window["items"]!.AsArray().Select(e => e!["id"]!.GetValue<string>()).ShouldBe(["q-10", "q-11"]);

        var first = await Http.ReadJsonAsync(await admin.GetAsync("v1/events?limit=20", Ct));
        var after = first["next_after"]!.GetValue<long>();
        var second = await Http.ReadJsonAsync(await admin.GetAsync($"v1/events?limit=20&after={after}", Ct));
        second["items"]!.AsArray().Count.ShouldBe(10);
        second["next_after"].ShouldBeNull();

        await Http.ReadProblemAsync(await admin.GetAsync("v1/events?limit=5000", Ct), HttpStatusCode.UnprocessableEntity, "validation");
        await Http.ReadProblemAsync(await admin.GetAsync("v1/events?since=yesterday", Ct), HttpStatusCode.UnprocessableEntity, "validation");
        var backwards = await Http.ReadProblemAsync(
            await admin.GetAsync("v1/events?since=2026-03-02T00:12:00Z&until=2026-03-02T00:10:00Z", Ct), HttpStatusCode.UnprocessableEntity, "validation");
        backwards["errors"]!.AsArray().ShouldHaveSingleItem()!["path"]!.GetValue<string>().ShouldBe("/until");
    }

    [Theory]
    [InlineData("dev-a")]
    [InlineData("dev-b")]
    public async Task DevTrace_PushesThroughCompletely(string scenario)
    {
        var lines = ReadTrace(scenario);
        var token = await _ingest.Server.CreateIdentityTokenAsync("svc", Role.Ingest);
        using var service = _ingest.Server.CreateClient(token);
        var before = _ingest.Events.LastOffset;

        var accepted = 0;
        foreach (var batch in lines.Chunk(5_000))
        {
            var answer = await Http.ReadJsonAsync(await service.PostAsync("v1/events", IngestServer.Body(string.Join('\n', batch), "application/x-ndjson"), Ct));
            answer["rejected"]!.AsArray().ShouldBeEmpty();
            accepted += answer["accepted"]!.GetValue<int>();
        }

        accepted.ShouldBe(lines.Count);
        (_ingest.Events.LastOffset - before).ShouldBe(lines.Count);
        var sample = JsonNode.Parse(lines[lines.Count / 2])!;
        var account = sample["account_id"]!.GetValue<string>();
        var expected = lines.Count(l => l.Contains($"\"account_id\":\"{account}\"", StringComparison.Ordinal));
        (await _ingest.Events.QueryEventsAsync(new EventQuery(Account: account, Limit: 1000), Ct)).Count.ShouldBe(expected);
    }

    [Fact]
    public async Task Replay_RewindsConsumers_AndIsAudited()
    {
        using var admin = _ingest.Server.CreateAdminClient();
        var items = Enumerable.Range(0, 10).Select(i => IngestServer.Event($"r-{i}", "svc", timestamp: $"2026-03-02T0{i}:00:00.000Z"));
        (await admin.PostAsync("v1/events", IngestServer.Body("[" + string.Join(',', items) + "]"), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var fifth = (await _ingest.Events.QueryEventsAsync(new EventQuery(Since: new DateTimeOffset(2026, 3, 2, 5, 0, 0, TimeSpan.Zero), Limit: 1), Ct))[0].Offset;
        await _ingest.Events.SetOffsetAsync("metrics", _ingest.Events.LastOffset, Ct);

        var answer = await Http.ReadJsonAsync(await admin.PostAsync(
            "v1/events/replay",
            BulwarkTestServer.Json("""{"since":"2026-03-02T05:00:00Z","consumers":["metrics"],"reason":"rule fix"}"""),
            Ct));

        answer["rewound"]!["metrics"]!.GetValue<long>().ShouldBe(fifth - 1);
        (await admin.GetStringAsync("v1/audit", Ct)).ShouldContain("events.replay");
        await Http.ReadProblemAsync(
            await admin.PostAsync("v1/events/replay", BulwarkTestServer.Json("""{"since":"2026-03-02T05:00:00Z","consumers":["nobody"]}"""), Ct),
            HttpStatusCode.UnprocessableEntity,
            "validation");
    }

    [Fact]
    public async Task Replay_RewindingAConsumerWhileItHandlesABatch_FeedsItAgainFromTheRewind()
    {
        var recorder = new RecordingConsumer();
        await using var ingest = await IngestServer.StartAsync(services: s => s.AddSingleton<IEventConsumer>(recorder));
        using var admin = ingest.Server.CreateAdminClient();
        var items = Enumerable.Range(1, 3).Select(i => IngestServer.Event($"r-{i}", "svc", timestamp: $"2026-03-02T0{i}:00:00.000Z"));
        (await admin.PostAsync("v1/events", IngestServer.Body("[" + string.Join(',', items) + "]"), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        await recorder.WhenSeenAsync(3);

        // The next batch is held inside the consumer while a replay rewinds it to the start.
        var held = recorder.HoldNext();
        var fourth = IngestServer.Event("r-4", "svc", timestamp: "2026-03-02T04:00:00.000Z");
        (await admin.PostAsync("v1/events", IngestServer.Body("[" + fourth + "]"), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        await held.Entered.Task.WaitAsync(Patience, Ct);
        var answer = await Http.ReadJsonAsync(await admin.PostAsync(
            "v1/events/replay", BulwarkTestServer.Json("""{"since":"2026-03-02T00:00:00Z","consumers":["recorder"]}"""), Ct));
        answer["rewound"]!["recorder"]!.GetValue<long>().ShouldBe(0);
        held.Release.SetResult();

        // Its commit of the held batch does not undo the rewind: it handles everything again, in order.
        await recorder.WhenSeenAsync(8);
        recorder.Seen.ShouldBe(["r-1", "r-2", "r-3", "r-4", "r-1", "r-2", "r-3", "r-4"]);
    }

    [Fact]
    public async Task Replay_AConsumerWaitingOnAQuietLog_ReadsAgainAtOnce()
    {
        var recorder = new RecordingConsumer();
        await using var ingest = await IngestServer.StartAsync(services: s => s.AddSingleton<IEventConsumer>(recorder));
        using var admin = ingest.Server.CreateAdminClient();
        var items = Enumerable.Range(1, 3).Select(i => IngestServer.Event($"q-{i}", "svc", timestamp: $"2026-03-02T0{i}:00:00.000Z"));
        (await admin.PostAsync("v1/events", IngestServer.Body("[" + string.Join(',', items) + "]"), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        await recorder.WhenSeenAsync(3);

        // Its commit of the batch may still be on its way: the offset is set where that commit puts it (the commit then
        // finds it there and stands back), so the replay rewinds it whatever the order.
        await ingest.Events.SetOffsetAsync("recorder", 3, Ct);

        // Caught up, it waits for an event after the last; none comes. The rewind alone feeds it again.
        var answer = await Http.ReadJsonAsync(await admin.PostAsync(
            "v1/events/replay", BulwarkTestServer.Json("""{"since":"2026-03-02T02:00:00Z","consumers":["recorder"]}"""), Ct));
        answer["rewound"]!["recorder"]!.GetValue<long>().ShouldBe(1);

        await recorder.WhenSeenAsync(5).WaitAsync(Patience, Ct);
        recorder.Seen.ShouldBe(["q-1", "q-2", "q-3", "q-2", "q-3"]);
        ingest.Events.LastOffset.ShouldBe(3);
    }

    internal static List<string> ReadTrace(string scenario)
    {
        var path = Path.Combine(RepositoryRoot(), "tests", "data", "scenarios", scenario, "events.jsonl.gz");
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                lines.Add(line);
            }
        }

        return lines;
    }

    /// <summary>A consumer that records the event ids it handles, and can hold a batch until released.</summary>
    private sealed class RecordingConsumer : IEventConsumer
    {
        private readonly Lock _gate = new();
        private readonly List<string> _seen = [];
        private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
        private Hold? _hold;

        public string Name => "recorder";

        public IReadOnlyList<string> Seen
        {
            get
            {
                lock (_gate)
                {
                    return [.. _seen];
                }
            }
        }

        public Hold HoldNext()
        {
            var hold = new Hold();
            Volatile.Write(ref _hold, hold);
            return hold;
        }

        public Task WhenSeenAsync(int count)
        {
            lock (_gate)
            {
                if (_seen.Count >= count)
                {
                    return Task.CompletedTask;
                }

                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((count, done));
                return done.Task.WaitAsync(Patience, Ct);
            }
        }

        public async ValueTask HandleAsync(IReadOnlyList<LoggedEvent> batch, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _hold, null) is { } hold)
            {
                hold.Entered.SetResult();
                await hold.Release.Task.WaitAsync(cancellationToken);
            }

            lock (_gate)
            {
                _seen.AddRange(batch.Select(e => e.Event.Id));
                foreach (var waiter in _waiters.Where(w => _seen.Count >= w.Count).ToList())
                {
                    _waiters.Remove(waiter);
                    waiter.Done.SetResult();
                }
            }
        }

        public sealed class Hold
        {
            public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Bulwark.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException("the repository root (Bulwark.slnx) is not above the test output");
    }
}
