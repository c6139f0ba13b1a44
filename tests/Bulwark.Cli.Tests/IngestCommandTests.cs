using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Bulwark.Cli.Client;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Server.Ingest;
using Bulwark.TestUtils;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Cli.Tests;

public sealed class IngestCommandTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    /// <summary>An Okta event hook: verified by a Standard Webhooks source, but not a v1 event.</summary>
    private const string OktaHook =
        """{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"f790999f-fe87-467a-9880-6982a583986c","published":"2018-03-28T22:23:07.777Z","eventType":"user.session.start","outcome":{"result":"SUCCESS"},"actor":{"id":"00u1qw6mqitPHM8AJ0g7","type":"User"},"client":{"ipAddress":"12.97.85.90"}}]}}""";

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(Now);
    private readonly TestSecrets _secrets = new();
    private readonly TempDirectory _files = new();
    private BulwarkTestServer _server = null!;
    private string _operator = null!;
    private string _pusher = null!;
    private string _viewer = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IEventStore Events => _server.Services.GetRequiredService<IEventStore>();

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(time: _time, services: s => s.AddSingleton<ISecretResolver>(_secrets));
        _operator = await _server.CreateIdentityTokenAsync("ops", Role.Operator);
        _pusher = await _server.CreateIdentityTokenAsync("collector", Role.Ingest);
        _viewer = await _server.CreateIdentityTokenAsync("val", Role.Viewer);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _files.Dispose();
    }

    public static TheoryData<string, string> Commands() => new()
    {
        { "sources", "list" },
        { "sources list", "--json" },
        { "sources get", "<name>" },
        { "events", "replay" },
        { "events push", "--batch" },
        { "events list", "--account" },
        { "events replay", "--renormalize" },
        { "events replay", "--no-wait" },
        { "events", "replays" },
        { "events replays", "<id>" },
        { "quarantine", "retry" },
        { "quarantine list", "--before" },
        { "quarantine get", "<id>" },
        { "quarantine retry", "<id>" },
        { "raw", "get" },
        { "raw get", "--body" },
    };

    private Task<(int Exit, string Out, string Err)> Run(string token, params string[] args) => CliRunner.RunAsync(_server.BaseAddress, token, args);

    private static string Row(string table, string first) => table.Split('\n').Single(l => l.StartsWith(first + " ", StringComparison.Ordinal)).TrimEnd();

    private static string[] Rows(string table) => [.. table.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.TrimEnd())];

    private static string Event(string id, string type = "password_reset", string account = "acct_1", string timestamp = "2026-03-02T00:00:00.000Z", string platform = "internal", string source = "svc") =>
        new JsonObject
        {
            ["schema_version"] = "v1",
            ["id"] = id,
            ["source"] = source,
            ["platform"] = platform,
            ["event_type"] = type,
            ["account_id"] = account,
            ["actor"] = new JsonObject { ["ip"] = "198.51.100.7" },
            ["timestamp"] = timestamp,
        }.ToJsonString();

    private string WriteFile(string name, params string[] lines)
    {
        var path = _files.Combine(name);
        var text = string.Join('\n', lines) + "\n";
        if (name.EndsWith(".gz", StringComparison.Ordinal))
        {
            using var file = File.Create(path);
            using var gzip = new GZipStream(file, CompressionLevel.Optimal);
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }
        else
        {
            File.WriteAllText(path, text);
        }

        return path;
    }

    private async Task PushAsync(params string[] lines) =>
        (await Run(_pusher, "events", "push", WriteFile($"seed-{Guid.NewGuid():N}.jsonl", lines), "--quiet")).Exit.ShouldBe(0);

    /// <summary>A Standard Webhooks source with the <c>event-v1</c> normalizer and a fresh secret; returns its signer.</summary>
    private async Task<StandardWebhookSigner> StandardSourceAsync(string name)
    {
        var secret = StandardWebhookSigner.NewSecret();
        _secrets["SW_" + name.ToUpperInvariant()] = secret;
        await PutSourceAsync(name, new JsonObject { ["scheme"] = "standard-webhooks", ["secrets"] = new JsonArray("env:SW_" + name.ToUpperInvariant()) });
        return new StandardWebhookSigner(secret);
    }

    private async Task PutSourceAsync(string name, JsonObject manifest)
    {
        using var admin = _server.CreateAdminClient();
        using var response = await admin.PutAsync($"v1/sources/{name}", BulwarkTestServer.Json(manifest), Ct);
        response.IsSuccessStatusCode.ShouldBeTrue(await response.Content.ReadAsStringAsync(Ct));
    }

    /// <summary>Delivers a signed body and returns the raw snapshot's id, once the normalizer has recorded it.</summary>
    private async Task<string> DeliverAsync(StandardWebhookSigner signer, string source, string deliveryId, byte[] body)
    {
        using var client = _server.CreateClient();
        using var response = await client.SendAsync(signer.Request(source, deliveryId, Now, body), Ct);
        var answer = await response.Content.ReadAsStringAsync(Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, answer);
        await NormalizedAsync();
        return JsonNode.Parse(answer)!["snapshot"]!.GetValue<string>();
    }

    /// <summary>Waits until the normalizer has recorded every stored snapshot (the worker signals; no sleeping).</summary>
    private async Task NormalizedAsync()
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        await _server.Services.GetRequiredService<NormalizerWorker>().WhenNormalizedAsync(Events.LastSnapshotSeq, deadline.Token);
    }

    // ---- events push ----

    [Theory]
    [InlineData("1")]
    [InlineData("2")]
    [InlineData("1000")]
    public async Task Push_Jsonl_AcceptsTheValidLines_AndNamesTheInvalidOneByItsLineNumber_Exit1(string batch)
    {
        var path = WriteFile("events.jsonl", Event("e-1"), Event("e-2"), string.Empty, """{"schema_version":"v1","id":"e-bad","source":"svc"}""", Event("e-3"));

        var (exit, output, err) = await Run(_pusher, "events", "push", path, "--batch", batch, "--quiet");

        exit.ShouldBe(1, err);
        err.ShouldBeEmpty();
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines[0].ShouldStartWith("4 lines: 3 accepted, 0 already in the log, 1 rejected in ");
        lines[1].ShouldStartWith("  line 4: ");
        lines[1].ShouldContain("/account_id");
        lines.Length.ShouldBe(2);
        (await Events.QueryEventsAsync(new EventQuery(Source: "svc"), Ct)).Select(e => e.Event.Id).ShouldBe(["e-1", "e-2", "e-3"]);
    }

    [Fact]
    public async Task Push_GzipFile_WithJson_PrintsOnlyTheSummary_AndASecondPushCountsDuplicates()
    {
        var path = WriteFile("events.jsonl.gz", Event("g-1"), Event("g-2"), "not json at all", Event("g-3"));

        var (exit, output, err) = await Run(_pusher, "events", "push", path, "--json");

        exit.ShouldBe(1);
        err.ShouldBeEmpty("--json prints no progress bar");
        var summary = JsonNode.Parse(output)!;
        (summary["lines"]!.GetValue<int>(), summary["accepted"]!.GetValue<int>(), summary["duplicates"]!.GetValue<int>(), summary["rejected"]!.GetValue<int>())
            .ShouldBe((4, 3, 0, 1));
        summary["seconds"]!.GetValue<double>().ShouldBeGreaterThanOrEqualTo(0);
        var rejection = summary["rejections"]!.AsArray().ShouldHaveSingleItem()!;
        rejection["line"]!.GetValue<int>().ShouldBe(3);
        rejection["errors"]![0]!["message"]!.GetValue<string>().ShouldStartWith("the line is not valid JSON");

        var (againExit, again, againErr) = await Run(_pusher, "events", "push", WriteFile("again.jsonl.gz", Event("g-1"), Event("g-2"), Event("g-3")), "--json");

        againExit.ShouldBe(0, againErr);
        var second = JsonNode.Parse(again)!;
        (second["accepted"]!.GetValue<int>(), second["duplicates"]!.GetValue<int>(), second["rejected"]!.GetValue<int>()).ShouldBe((0, 3, 0));
        second["rejections"]!.AsArray().ShouldBeEmpty();
        (await Events.QueryEventsAsync(new EventQuery(Source: "svc"), Ct)).Count.ShouldBe(3);
    }

    [Fact]
    public async Task Push_WithoutQuiet_DrawsTheProgressBarOnStandardErrorOnly()
    {
        var path = WriteFile("bar.jsonl", Event("b-1"), Event("b-2"));

        var (exit, output, err) = await Run(_pusher, "events", "push", path);

        exit.ShouldBe(0, err);
        err.ShouldContain("\r[##############################] 100.0%  2 events");
        err.ShouldContain("0 rejected");
        output.ShouldStartWith("2 lines: 2 accepted, 0 already in the log, 0 rejected in ");
        output.ShouldNotContain("#");

        var (quietExit, quiet, quietErr) = await Run(_pusher, "events", "push", path, "--quiet");
        quietExit.ShouldBe(0);
        quietErr.ShouldBeEmpty();
        quiet.ShouldStartWith("2 lines: 0 accepted, 2 already in the log, 0 rejected in ");
    }

    [Fact]
    public async Task Push_ABatchWithNoValidEvent_StillReportsEachLine_AndPrintsTheFirstTen()
    {
        var bad = Enumerable.Range(1, 12).Select(i => $$"""{"schema_version":"v1","id":"x-{{i}}"}""").ToArray();

        var (exit, output, err) = await Run(_pusher, "events", "push", WriteFile("bad.jsonl", bad), "--quiet");

        exit.ShouldBe(1, err);
        err.ShouldBeEmpty("a batch the server refuses whole (422) still carries its rejections: an answer, not an error");
        output.ShouldStartWith("12 lines: 0 accepted, 0 already in the log, 12 rejected in ");
        var reported = output.Split('\n').Where(l => l.StartsWith("  line ", StringComparison.Ordinal)).Select(l => l.Split(':')[0].Trim()).ToList();
        reported.ShouldBe([.. Enumerable.Range(1, 10).Select(i => $"line {i}")]);

        var (_, json, _) = await Run(_pusher, "events", "push", WriteFile("bad.jsonl", bad), "--json", "--batch", "5");
        JsonNode.Parse(json)!["rejections"]!.AsArray().Select(r => r!["line"]!.GetValue<int>()).ShouldBe(Enumerable.Range(1, 12));
    }

    [Fact]
    public async Task Push_WithARate_SendsEachBatchWhenItsTimeComes()
    {
        var path = WriteFile("rated.jsonl", Event("r-1"), Event("r-2"), Event("r-3"), Event("r-4"));
        var clock = new TimerSignallingClock();
        var before = Events.LastOffset;

        // 2 events a second, one a batch: the first at once; before each later one the command sets a timer for half a
        // second and sends nothing until the clock has moved that far.
        var push = CliRunner.RunAsync(_server.BaseAddress, _pusher, clock, "events", "push", path, "--rate", "2", "--batch", "1", "--json");
        await Events.WaitForEventsAsync(before, Ct).WaitAsync(Patience, Ct);
        for (var sent = 1; sent < 4; sent++)
        {
            (await clock.NextTimerAsync().WaitAsync(Patience, Ct)).ShouldBe(TimeSpan.FromMilliseconds(500));
            Events.LastOffset.ShouldBe(before + sent);
            clock.Advance(TimeSpan.FromMilliseconds(500));
            await Events.WaitForEventsAsync(before + sent, Ct).WaitAsync(Patience, Ct);
        }

        var (exit, output, err) = await push.WaitAsync(Patience, Ct);
        exit.ShouldBe(0, err);
        Events.LastOffset.ShouldBe(before + 4);
        var summary = JsonNode.Parse(output)!;
        summary["accepted"]!.GetValue<int>().ShouldBe(4);
        summary["seconds"]!.GetValue<double>().ShouldBe(1.5);
    }

    [Fact]
    public async Task Push_WithARateAndNoBatch_CapsTheBatchAtTheRate()
    {
        var path = WriteFile("rated.jsonl", Event("r-1"), Event("r-2"), Event("r-3"), Event("r-4"));
        var clock = new TimerSignallingClock();
        var before = Events.LastOffset;

        // --rate 3 without --batch: batches of 3, the second a second after the first.
        var push = CliRunner.RunAsync(_server.BaseAddress, _pusher, clock, "events", "push", path, "--rate", "3", "--json");
        (await clock.NextTimerAsync().WaitAsync(Patience, Ct)).ShouldBe(TimeSpan.FromSeconds(1));
        Events.LastOffset.ShouldBe(before + 3);
        clock.Advance(TimeSpan.FromSeconds(1));

        var (exit, output, err) = await push.WaitAsync(Patience, Ct);
        exit.ShouldBe(0, err);
        Events.LastOffset.ShouldBe(before + 4);
        JsonNode.Parse(output)!["seconds"]!.GetValue<double>().ShouldBe(1);
    }

    [Fact]
    public async Task Push_EventsLargerThanOneRequestTakes_GoInSeveralRequests()
    {
        // 300 events of 60 KiB (under the server's 64 KiB an event): 18 MiB, over its 16 MiB a push, however large
        // --batch is.
        var note = new string('n', 60 * 1024);
        var lines = Enumerable.Range(0, 300).Select(i =>
        {
            var item = JsonNode.Parse(Event($"big-{i}"))!.AsObject();
            item["details"] = new JsonObject { ["note"] = note };
            return item.ToJsonString();
        });

        var (exit, output, err) = await Run(_pusher, "events", "push", WriteFile("big.jsonl", [.. lines]), "--batch", "20000", "--json");

        exit.ShouldBe(0, err);
        JsonNode.Parse(output)!["accepted"]!.GetValue<int>().ShouldBe(300);
    }

    [Theory]
    [InlineData("--batch", "0", "--batch must be from 1 to 20000")]
    [InlineData("--batch", "20001", "--batch must be from 1 to 20000")]
    [InlineData("--rate", "0", "--rate must be above 0")]
    [InlineData("--rate", "-3", "--rate must be above 0")]
    [InlineData("--rate", "NaN", "--rate must be above 0")]
    public async Task Push_OutOfBoundsOptions_AreUsageErrors_Exit2(string option, string value, string message)
    {
        var (exit, output, err) = await Run(_pusher, "events", "push", WriteFile("one.jsonl", Event("o-1")), option, value);

        exit.ShouldBe(2);
        output.ShouldBeEmpty();
        err.ShouldContain(message);
        (await Events.QueryEventsAsync(new EventQuery(), Ct)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Push_MissingFile_NoFile_OrAWordForANumber_AreUsageErrors_Exit2()
    {
        var missing = _files.Combine("nowhere.jsonl");

        var (exit, _, err) = await Run(_pusher, "events", "push", missing);

        exit.ShouldBe(2);
        err.ShouldContain($"{missing} does not exist");
        (await Run(_pusher, "events", "push")).Exit.ShouldBe(2);
        var (word, _, wordErr) = await Run(_pusher, "events", "push", WriteFile("one.jsonl", Event("o-1")), "--batch", "many");
        word.ShouldBe(2);
        wordErr.ShouldStartWith("error: 'many' is not a whole number (--batch)");
        wordErr.ShouldNotContain("System.");
    }

    [Fact]
    public async Task Push_AGzFileThatIsNotGzip_SaysSoWithoutAStackTrace_Exit2()
    {
        var path = _files.Combine("plain.jsonl.gz");
        await File.WriteAllTextAsync(path, Event("g-1") + "\n", Ct);

        var (exit, _, err) = await Run(_pusher, "events", "push", path, "--quiet");

        exit.ShouldBe(2);
        err.ShouldStartWith($"error: {path} is not a readable gzip file after line 0 (");
        err.ShouldNotContain("   at ");
    }

    [Fact]
    public async Task Push_NeedsTheIngestCapability()
    {
        var path = WriteFile("one.jsonl", Event("o-1"));

        var (exit, _, err) = await Run(_viewer, "events", "push", path, "--quiet");

        exit.ShouldBe(1);
        err.ShouldContain("403");
        (await Run(_operator, "events", "push", path, "--quiet")).Exit.ShouldBe(0);
    }

    // ---- events list ----

    [Fact]
    public async Task List_FiltersByEachOption_AsATableOrJson()
    {
        await PushAsync(
            Event("l-1", "login_failed", "acct_1", "2026-03-02T01:00:00.000Z", "web", "svc-a"),
            Event("l-2", "password_reset", "acct_2", "2026-03-02T02:00:00.000Z", "web", "svc-a"),
            Event("l-3", "login_failed", "acct_2", "2026-03-02T03:00:00.000Z", "ios", "svc-b"),
            Event("l-4", "session_new", "acct_3", "2026-03-02T04:00:00.000Z", "ios", "svc-b"));

        var (exit, table, err) = await Run(_viewer, "events", "list");
        exit.ShouldBe(0, err);
        table.ShouldStartWith("OFFSET");
        Row(table, "1").ShouldMatch(@"^1\s+2026-03-02T01:00:00\.000Z\s+web\s+login_failed\s+acct_1\s+198\.51\.100\.7\s+l-1$");
        Rows(table).Length.ShouldBe(4);

        async Task<string[]> Ids(params string[] filter)
        {
            var (code, json, error) = await Run(_viewer, ["events", "list", .. filter, "--json"]);
            code.ShouldBe(0, error);
            return [.. JsonNode.Parse(json)!["items"]!.AsArray().Select(e => e!["id"]!.GetValue<string>())];
        }

        (await Ids("--account", "acct_2")).ShouldBe(["l-2", "l-3"]);
        (await Ids("--type", "login_failed")).ShouldBe(["l-1", "l-3"]);
        (await Ids("--platform", "ios")).ShouldBe(["l-3", "l-4"]);
        (await Ids("--source", "svc-a")).ShouldBe(["l-1", "l-2"]);
        (await Ids("--since", "2026-03-02T02:00:00Z", "--until", "2026-03-02T04:00:00Z")).ShouldBe(["l-2", "l-3"]);
        (await Ids("--account", "acct_2", "--type", "login_failed", "--platform", "ios", "--source", "svc-b")).ShouldBe(["l-3"]);
        (await Ids("--account", "nobody")).ShouldBeEmpty();

        var (_, limited, _) = await Run(_viewer, "events", "list", "--limit", "2", "--json");
        var page = JsonNode.Parse(limited)!;
        page["items"]!.AsArray().Select(e => e!["offset"]!.GetValue<long>()).ShouldBe([1L, 2L]);
        page["next_after"]!.GetValue<long>().ShouldBe(2);
        (await Ids("--limit", "2", "--after", "2")).ShouldBe(["l-3", "l-4"]);

        var (tableExit, _, more) = await Run(_viewer, "events", "list", "--limit", "2");
        tableExit.ShouldBe(0);
        more.ShouldContain("--after 2");
    }

    [Fact]
    public async Task List_BadTimeOrLimit_IsRefusedByTheServer_Exit1()
    {
        var (exit, _, err) = await Run(_viewer, "events", "list", "--since", "yesterday");
        exit.ShouldBe(1);
        err.ShouldContain("422");
        err.ShouldContain("  /since: must be a time such as 2026-03-02T00:00:00Z");

        var (limitExit, _, limitErr) = await Run(_viewer, "events", "list", "--limit", "5000");
        limitExit.ShouldBe(1);
        limitErr.ShouldContain("  /limit: must be a whole number from 1 to 1000");
    }

    // ---- events replay ----

    [Fact]
    public async Task Replay_RewindsTheConsumer_PrintsWhereTo_AndIsAuditedWithTheReason()
    {
        await PushAsync([.. Enumerable.Range(0, 6).Select(i => Event($"p-{i}", timestamp: $"2026-03-02T0{i}:00:00.000Z"))]);
        var third = (await Events.QueryEventsAsync(new EventQuery(Since: new DateTimeOffset(2026, 3, 2, 3, 0, 0, TimeSpan.Zero), Limit: 1), Ct))[0].Offset;
        await Events.SetOffsetAsync("metrics", Events.LastOffset, Ct);

        var (exit, output, err) = await Run(_operator, "events", "replay", "--since", "2026-03-02T03:00:00Z", "--consumer", "metrics", "--reason", "rule fix");

        exit.ShouldBe(0, err);
        output.ShouldBe($"metrics: rewound to offset {third - 1}\n", StringCompareShould.IgnoreLineEndings);
        var (_, audit, _) = await Run(_viewer, "audit", "tail", "-n", "1", "--json");
        var entry = JsonNode.Parse(audit)!;
        (entry["action"]!.GetValue<string>(), entry["actor"]!.GetValue<string>(), entry["reason"]!.GetValue<string>()).ShouldBe(("events.replay", "ops", "rule fix"));
        entry["after"]!["rewound"]!["metrics"]!.GetValue<long>().ShouldBe(third - 1);

        // Nobody past a time after the last event: nothing to rewind.
        await Events.SetOffsetAsync("metrics", Events.LastOffset, Ct);
        var (nothingExit, nothing, _) = await Run(_operator, "events", "replay", "--since", "2026-04-01T00:00:00Z");
        nothingExit.ShouldBe(0);
        nothing.ShouldBe("no consumer was past that time: nothing to rewind\n", StringCompareShould.IgnoreLineEndings);

        var (_, json, _) = await Run(_operator, "events", "replay", "--since", "2026-04-01T00:00:00Z", "--json");
        var result = JsonNode.Parse(json)!;
        (result["since"]!.GetValue<string>(), result["rewound"]!.AsObject().Count, result["renormalized"]!.GetValue<int>()).ShouldBe(("2026-04-01T00:00:00.000000Z", 0, 0));
    }

    [Fact]
    public async Task Replay_Renormalize_NormalizesTheSnapshotsAgain_AndCountsThem()
    {
        var signer = await StandardSourceAsync("partner");
        await DeliverAsync(signer, "partner", "msg_1", Encoding.UTF8.GetBytes(Event("w-1", source: "partner")));

        var (exit, output, err) = await Run(_operator, "events", "replay", "--since", "2026-11-21T11:00:00Z", "--until", "2026-11-21T13:00:00Z", "--renormalize");

        exit.ShouldBe(0, err);
        output.ShouldContain("re-normalized 1 snapshots: 0 new events");
    }

    [Fact]
    public async Task Replays_ListsAndShowsTheReplaysOfThisServer_AndAnUnknownIdFails()
    {
        var (_, none, _) = await Run(_viewer, "events", "replays");
        none.ShouldBe("no replay since the server started\n", StringCompareShould.IgnoreLineEndings);
        var (_, first, _) = await Run(_operator, "events", "replay", "--since", "2026-04-01T00:00:00Z", "--json");
        var (_, second, _) = await Run(_operator, "events", "replay", "--since", "2026-05-01T00:00:00Z", "--json");
        var ids = new[] { second, first }.Select(j => JsonNode.Parse(j)!["id"]!.GetValue<string>()).ToList();

        var (exit, listed, err) = await Run(_viewer, "events", "replays");
        exit.ShouldBe(0, err);
        listed.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split("  ")[0]).ShouldBe(ids);
        listed.ShouldContain($"{ids[0]}  completed  since 2026-05-01T00:00:00.000000Z  re-normalized 0, 0 new events  started ");

        var (_, shown, _) = await Run(_viewer, "events", "replays", ids[1], "--json");
        (JsonNode.Parse(shown)!["id"]!.GetValue<string>(), JsonNode.Parse(shown)!["state"]!.GetValue<string>()).ShouldBe((ids[1], "completed"));
        var (unknown, _, unknownErr) = await Run(_viewer, "events", "replays", "rpl_absent");
        unknown.ShouldBe(1);
        unknownErr.ShouldContain("404");
        unknownErr.ShouldContain("audit log");
    }

    [Fact]
    public async Task Replay_NeedsASince_AKnownConsumer_AndTheConfigureCapability()
    {
        var (noSince, _, noSinceErr) = await Run(_operator, "events", "replay");
        noSince.ShouldBe(2);
        noSinceErr.ShouldContain("--since");

        var (unknown, _, unknownErr) = await Run(_operator, "events", "replay", "--since", "2026-03-02T00:00:00Z", "--consumer", "nobody");
        unknown.ShouldBe(1);
        unknownErr.ShouldContain("  /consumers: there is no consumer 'nobody'");

        var (viewer, _, viewerErr) = await Run(_viewer, "events", "replay", "--since", "2026-03-02T00:00:00Z");
        viewer.ShouldBe(1);
        viewerErr.ShouldContain("403");
    }

    // ---- sources ----

    [Fact]
    public async Task Sources_ListAndGet_ShowReferencesNeverValues_AndSayWhichDoNotResolve()
    {
        var partnerSecret = StandardWebhookSigner.NewSecret();
        _secrets["SW_PARTNER"] = partnerSecret;
        await PutSourceAsync("partner", new JsonObject { ["scheme"] = "standard-webhooks", ["secrets"] = new JsonArray("env:SW_PARTNER"), ["description"] = "Partner app" });

        // A file reference resolves when the source is PUT; the file is then removed (a rotation gone wrong).
        var secretFile = _files.Combine("gh-secret");
        var ghSecret = "gh-webhook-secret-" + Guid.NewGuid().ToString("N");
        await File.WriteAllTextAsync(secretFile, ghSecret + "\n", Ct);
        await PutSourceAsync("gh", new JsonObject { ["scheme"] = "github", ["secrets"] = new JsonArray("file:" + secretFile, "env:SW_PARTNER"), ["max_body"] = 4096 });
        File.Delete(secretFile);

        var (exit, list, err) = await Run(_viewer, "sources", "list");
        exit.ShouldBe(0, err);
        list.ShouldStartWith("NAME");
        Row(list, "partner").ShouldMatch(@"^partner\s+standard-webhooks\s+event-v1\s+env:SW_PARTNER\s+/v1/webhooks/partner$");
        Row(list, "gh").ShouldMatch($@"^gh\s+github\s+event-v1\s+file:{System.Text.RegularExpressions.Regex.Escape(secretFile)} \(does not resolve\), env:SW_PARTNER\s+/v1/webhooks/gh$");

        var (getExit, details, _) = await Run(_viewer, "sources", "get", "gh");
        getExit.ShouldBe(0);
        details.ShouldContain($"secrets              file:{secretFile} (does not resolve), env:SW_PARTNER");
        details.ShouldContain("scheme               github");
        details.ShouldContain("max body             4096");
        details.ShouldContain("endpoint             /v1/webhooks/gh");
        details.ShouldContain("throttle             -");

        var (_, listJson, _) = await Run(_viewer, "sources", "list", "--json");
        JsonNode.Parse(listJson)!["items"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()).ShouldBe(["gh", "partner"], ignoreOrder: true);
        var (_, getJson, _) = await Run(_viewer, "sources", "get", "gh", "--json");
        var document = JsonNode.Parse(getJson)!;
        document["secrets"]!.AsArray().Select(s => s!.GetValue<string>()).ShouldBe(["file:" + secretFile, "env:SW_PARTNER"]);
        document["status"]!["secrets"]!.AsArray().Select(s => s!["resolves"]!.GetValue<bool>()).ShouldBe([false, true]);

        foreach (var text in new[] { list, details, listJson, getJson })
        {
            text.ShouldNotContain(partnerSecret["whsec_".Length..]);
            text.ShouldNotContain(ghSecret);
        }

        var (missing, _, missingErr) = await Run(_viewer, "sources", "get", "nope");
        missing.ShouldBe(1);
        missingErr.ShouldContain("404");
    }

    // ---- quarantine ----

    [Fact]
    public async Task Quarantine_ListGetRetry_StaysOpenUntilTheSourceIsFixed_ThenResolves()
    {
        var signer = await StandardSourceAsync("idp");
        var snapshot = await DeliverAsync(signer, "idp", "msg_1", Encoding.UTF8.GetBytes(OktaHook));

        var (exit, list, err) = await Run(_viewer, "quarantine", "list");
        exit.ShouldBe(0, err);
        list.ShouldStartWith("ID");
        var row = Rows(list).ShouldHaveSingleItem();
        row.ShouldMatch($@"^q_\S+\s+idp\s+open\s+1\s+{snapshot}\s+\S");
        var id = row.Split(' ')[0];

        var (getExit, details, _) = await Run(_viewer, "quarantine", "get", id);
        getExit.ShouldBe(0);
        details.ShouldContain($"id        {id}");
        details.ShouldContain($"snapshot  {snapshot}");
        details.ShouldContain("status    open");
        var (_, getJson, _) = await Run(_viewer, "quarantine", "get", id, "--json");
        var entry = JsonNode.Parse(getJson)!;
        (entry["source"]!.GetValue<string>(), entry["status"]!.GetValue<string>()).ShouldBe(("idp", "open"));
        details.ShouldContain("reason    " + entry["reason"]!.GetValue<string>());

        // Retried with the same definition: still open, exit 1.
        var (stillExit, still, _) = await Run(_operator, "quarantine", "retry", id);
        stillExit.ShouldBe(1);
        still.ShouldBe("open: 0 events appended, 0 already in the log\n", StringCompareShould.IgnoreLineEndings);

        // The operator sees an Okta payload and fixes the source's normalizer.
        await PutSourceAsync("idp", new JsonObject { ["scheme"] = "standard-webhooks", ["secrets"] = new JsonArray("env:SW_IDP"), ["normalizer"] = "okta" });
        var (fixedExit, resolved, fixedErr) = await Run(_operator, "quarantine", "retry", id);
        fixedExit.ShouldBe(0, fixedErr);
        resolved.ShouldBe("resolved: 1 events appended, 0 already in the log\n", StringCompareShould.IgnoreLineEndings);
        (await Events.QueryEventsAsync(new EventQuery(Source: "idp"), Ct)).ShouldHaveSingleItem().Event.Id.ShouldBe("f790999f-fe87-467a-9880-6982a583986c");

        var (_, openJson, _) = await Run(_viewer, "quarantine", "list", "--status", "open", "--json");
        JsonNode.Parse(openJson)!["items"]!.AsArray().ShouldBeEmpty();
        var (_, resolvedJson, _) = await Run(_viewer, "quarantine", "list", "--status", "resolved", "--json");
        JsonNode.Parse(resolvedJson)!["items"]!.AsArray().ShouldHaveSingleItem()!["id"]!.GetValue<string>().ShouldBe(id);
        var (_, audit, _) = await Run(_viewer, "audit", "tail", "-n", "2");
        audit.ShouldContain($"quarantine.retry  quarantine/{id}");

        var (againExit, _, againErr) = await Run(_operator, "quarantine", "retry", id);
        againExit.ShouldBe(1);
        againErr.ShouldContain("409");
        againErr.ShouldContain("resolved already");
    }

    [Fact]
    public async Task Quarantine_RetryJson_UnknownIds_BadStatus_AndAViewer()
    {
        var signer = await StandardSourceAsync("idp");
        await DeliverAsync(signer, "idp", "msg_1", Encoding.UTF8.GetBytes("""{"not":"an event"}"""));
        var id = (await Events.ListQuarantineAsync(QuarantineStatus.Open, 10, null, Ct)).ShouldHaveSingleItem().Id;

        var (exit, json, _) = await Run(_operator, "quarantine", "retry", id, "--json");
        exit.ShouldBe(1);
        var result = JsonNode.Parse(json)!;
        (result["entry"]!["status"]!.GetValue<string>(), result["appended"]!.GetValue<int>()).ShouldBe(("open", 0));

        var (viewerExit, _, viewerErr) = await Run(_viewer, "quarantine", "retry", id);
        viewerExit.ShouldBe(1);
        viewerErr.ShouldContain("403");
        var (missingExit, _, missingErr) = await Run(_viewer, "quarantine", "get", "q_nope");
        missingExit.ShouldBe(1);
        missingErr.ShouldContain("404");
        (await Run(_operator, "quarantine", "retry", "q_nope")).Exit.ShouldBe(1);
        var (statusExit, _, statusErr) = await Run(_viewer, "quarantine", "list", "--status", "closed");
        statusExit.ShouldBe(2);
        statusErr.ShouldContain("closed");
    }

    [Fact]
    public async Task QuarantineList_ByPages_SaysWhereTheNextPageStarts()
    {
        var signer = await StandardSourceAsync("idp");
        var snapshots = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            snapshots.Add(await DeliverAsync(signer, "idp", "msg_" + i, Encoding.UTF8.GetBytes("{\"not\":\"an event\",\"n\":" + i + "}")));
        }

        var (exit, page, err) = await Run(_viewer, "quarantine", "list", "--limit", "2");
        exit.ShouldBe(0, err);
        var rows = Rows(page);
        rows.Length.ShouldBe(2);
        var last = rows[1].Split(' ')[0];
        err.ShouldContain($"--before {last}");

        var (nextExit, next, nextErr) = await Run(_viewer, "quarantine", "list", "--limit", "2", "--before", last);
        nextExit.ShouldBe(0, nextErr);
        nextErr.ShouldNotContain("--before");
        var all = rows.Concat(Rows(next)).ToList();
        all.Select(r => r.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4]).ShouldBe(Enumerable.Reverse(snapshots));
        var (_, json, _) = await Run(_viewer, "quarantine", "list", "--limit", "2", "--json");
        JsonNode.Parse(json)!["next_before"]!.GetValue<string>().ShouldBe(last);
    }

    // ---- raw get ----

    [Fact]
    public async Task RawGet_DescribesTheSnapshot_AsATableOrJson_WithoutSecretHeaders()
    {
        var signer = await StandardSourceAsync("partner");
        var body = Encoding.UTF8.GetBytes(Event("w-1", source: "partner") + "\n");
        var id = await DeliverAsync(signer, "partner", "msg_1", body);

        var (exit, output, err) = await Run(_viewer, "raw", "get", id);

        exit.ShouldBe(0, err);
        output.ShouldContain($"id            {id}");
        output.ShouldContain("source        partner");
        output.ShouldContain("received      2026-11-21T12:00:00.000000Z");
        output.ShouldContain("verification  verified");
        output.ShouldContain("delivery id   msg_1");
        output.ShouldContain("content type  application/json");
        output.ShouldContain($"size          {body.Length}");
        output.ShouldContain("sha256        " + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body)));
        output.Split('\n').ShouldContain(l => l.Equals("webhook-id: msg_1", StringComparison.OrdinalIgnoreCase));
        output.ShouldContain(Event("w-1", source: "partner"));

        var (_, json, _) = await Run(_viewer, "raw", "get", id, "--json");
        var snapshot = JsonNode.Parse(json)!;
        Convert.FromBase64String(snapshot["body_base64"]!.GetValue<string>()).ShouldBe(body);
        snapshot["delivery_id"]!.GetValue<string>().ShouldBe("msg_1");

        var (missing, _, missingErr) = await Run(_viewer, "raw", "get", "raw_nope");
        missing.ShouldBe(1);
        missingErr.ShouldContain("404");
    }

    [Fact]
    public async Task RawGet_BodyToAFile_IsByteExact_EvenWhenNotUtf8()
    {
        var signer = await StandardSourceAsync("partner");
        byte[] body = [0x7B, 0xFF, 0xFE, 0x00, 0x0D, 0x0A, 0xC3, 0x28, 0x7D, 0x0A];
        var id = await DeliverAsync(signer, "partner", "msg_bin", body);
        var target = _files.Combine("body.bin");

        var (exit, output, err) = await Run(_viewer, "raw", "get", id, "--body", target);

        exit.ShouldBe(0, err);
        output.ShouldBeEmpty();
        (await File.ReadAllBytesAsync(target, Ct)).ShouldBe(body);
        var (_, described, _) = await Run(_viewer, "raw", "get", id);
        described.ShouldContain("(binary body: use --body FILE)");
    }

    [Fact]
    public async Task RawGet_BodyToStandardOutput_IsByteExact_FromTheRealExecutable()
    {
        var signer = await StandardSourceAsync("partner");
        byte[] body = [.. Encoding.UTF8.GetBytes(Event("w-é", source: "partner")), 0x0D, 0x0A, 0xFF, 0x0A];
        var id = await DeliverAsync(signer, "partner", "msg_1", body);

        var (exit, stdout, stderr) = await RunExecutableAsync("raw", "get", id, "--body", "-", "--server", _server.BaseAddress.ToString(), "--token", _viewer);

        exit.ShouldBe(0, stderr);
        stdout.ShouldBe(body);
    }

    /// <summary>Runs the built <c>bulwark.dll</c> as a child process and returns its exit code and exact output bytes.</summary>
    private static async Task<(int Exit, byte[] Out, string Err)> RunExecutableAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "bulwark.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("BULWARK_URL");
        start.Environment.Remove("BULWARK_TOKEN");
        using var process = Process.Start(start)!;
        using var output = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(output, Ct);
        var error = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);
        await copy;
        return (process.ExitCode, output.ToArray(), await error);
    }

    // ---- help ----

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Help_DescribesEachCommand(string command, string mentions)
    {
        var (exit, output, _) = await CliRunner.RunAsync(null, null, [.. command.Split(' '), "--help"]);

        exit.ShouldBe(0);
        output.ShouldContain("Description:");
        output.ShouldContain(command);
        output.ShouldContain(mentions);
        output.ShouldContain("--server");
    }

    [Fact]
    public async Task PushHelp_SaysWhatItNeeds_AndWhenItExits1()
    {
        var (_, output, _) = await CliRunner.RunAsync(null, null, "events", "push", "--help");

        output.ShouldContain("ingest capability");
        output.ShouldContain("Exit 1 if any event was rejected");
        foreach (var option in new[] { "<file>", "--rate", "--batch", "--quiet", "--json" })
        {
            output.ShouldContain(option);
        }
    }
}
