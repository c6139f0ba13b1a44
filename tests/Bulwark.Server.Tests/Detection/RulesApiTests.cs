using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.Server.Detection;
using Bulwark.Server.Tests.Ingest;
using Bulwark.TestUtils;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Detection;

/// <summary>Rules put through the API drive the real rule engine behind the event log, into incidents.</summary>
public sealed class RulesApiTests : IAsyncLifetime
{
    private const string ResetsPerIp = """
        {"description":"resets from one IP","type":"count","severity":"high","confidence":0.8,"group_by":["actor.ip"],
         "window":"1m","threshold":3,"match":{"field":"event_type","equals":"password_reset"}}
        """;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _data = new();
    private BulwarkTestServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _server = await BulwarkTestServer.StartAsync(_data.Path);

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _data.Dispose();
    }

    private async Task PushAsync(params string[] events)
    {
        using var admin = _server.CreateAdminClient();
        (await Http.ReadJsonAsync(await admin.PostAsync("v1/events", IngestServer.Body("[" + string.Join(",", events) + "]"), Ct)))["accepted"]!.GetValue<int>().ShouldBe(events.Length);
        await _server.Services.GetRequiredService<DetectionPipeline>()
            .WhenHandledAsync(_server.Services.GetRequiredService<IEventStore>().LastOffset, Ct)
            .WaitAsync(Patience, Ct);
    }

    [Fact]
    public async Task AWindowOpenAcrossARestart_IsRebuiltFromTheLog_AndFiresOnce()
    {
        using (var admin = _server.CreateAdminClient())
        {
            (await admin.PutAsync("v1/rules/resets-per-ip", BulwarkTestServer.Json(ResetsPerIp), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        }

        // Two resets before the restart (and a later event that moves event time past them), the third after it.
        await PushAsync(
            TestEvents.Json("e-1", "acct_1", "203.0.113.9", "password_reset", "2026-03-02T01:00:00.000Z"),
            TestEvents.Json("e-2", "acct_2", "203.0.113.9", "password_reset", "2026-03-02T01:00:10.000Z"),
            TestEvents.Json("e-x", "acct_9", "198.51.100.1", "session_new", "2026-03-02T01:00:40.000Z"));
        await _server.DisposeAsync();
        _server = await BulwarkTestServer.StartAsync(_data.Path);
        await PushAsync(
            TestEvents.Json("e-3", "acct_3", "203.0.113.9", "password_reset", "2026-03-02T01:00:50.000Z"),
            TestEvents.Json("e-4", "acct_9", "198.51.100.1", "session_new", "2026-03-02T01:10:00.000Z"));

        using var client = _server.CreateAdminClient();
        var detection = (await Http.ReadJsonAsync(await client.GetAsync("v1/detections", Ct)))["items"]!.AsArray().ShouldHaveSingleItem()!;
        detection["event_ids"]!.AsArray().Select(e => e!.GetValue<string>()).ShouldBe(["e-1", "e-2", "e-3"]);
        _server.Services.GetServices<IDetectionEngine>().OfType<RuleDetectionEngine>().Single().Replayed.ShouldBe(3);
    }


    [Fact]
    public async Task PutGetList_ShowTheManifestWithItsVersion_AndAuditIt()
    {
        using var admin = _server.CreateAdminClient();

        var created = await admin.PutAsync("v1/rules/resets-per-ip", BulwarkTestServer.Json(ResetsPerIp), Ct);
        var again = await admin.PutAsync("v1/rules/resets-per-ip", BulwarkTestServer.Json(ResetsPerIp), Ct);

        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        again.StatusCode.ShouldBe(HttpStatusCode.OK);
        var rule = await Http.ReadJsonAsync(await admin.GetAsync("v1/rules/resets-per-ip", Ct));
        rule["kind"]!.GetValue<string>().ShouldBe("Rule");
        rule["threshold"]!.GetValue<int>().ShouldBe(3);
        rule["status"]!["version"]!.GetValue<long>().ShouldBe(1);
        (await Http.ReadJsonAsync(await admin.GetAsync("v1/rules", Ct)))["items"]!.AsArray().Count.ShouldBe(1);
        await Http.ReadProblemAsync(await admin.GetAsync("v1/rules/absent", Ct), HttpStatusCode.NotFound, "not-found");
        (await admin.GetStringAsync("v1/audit?limit=1000", Ct)).ShouldContain("rule.create");
    }

    [Fact]
    public async Task Put_OfAnInvalidRule_Is422WithEveryPath_AndAKOfNRuleMustNameRulesInForce()
    {
        using var admin = _server.CreateAdminClient();

        var invalid = await Http.ReadProblemAsync(
            await admin.PutAsync("v1/rules/bad", BulwarkTestServer.Json("""{"type":"count","severity":"loud","window":"1m","threshold":0,"match":{"field":"event_type","regex":"("}}"""), Ct),
            HttpStatusCode.UnprocessableEntity,
            "validation");
        var orphan = await Http.ReadProblemAsync(
            await admin.PutAsync("v1/rules/combo", BulwarkTestServer.Json("""{"type":"k_of_n","severity":"high","window":"10m","threshold":2,"rules":["missing","resets"]}"""), Ct),
            HttpStatusCode.UnprocessableEntity,
            "validation");

        invalid["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ShouldBe(["/severity", "/threshold", "/match/regex"], ignoreOrder: true);
        orphan["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ShouldBe(["/rules/0", "/rules/1"]);
        (await Http.ReadJsonAsync(await admin.GetAsync("v1/rules", Ct)))["items"]!.AsArray().ShouldBeEmpty();
    }

    [Fact]
    public async Task ARuleInForce_FiresOnTheLog_IntoAnIncident()
    {
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("v1/rules/resets-per-ip", BulwarkTestServer.Json(ResetsPerIp), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);

        // Three resets from one IP within a minute; a later event moves event time past the lateness, so they are evaluated.
        var events = new[]
        {
            TestEvents.Json("e-1", "acct_1", "203.0.113.9", "password_reset", "2026-03-02T01:00:00.000Z"),
            TestEvents.Json("e-2", "acct_2", "203.0.113.9", "password_reset", "2026-03-02T01:00:10.000Z"),
            TestEvents.Json("e-3", "acct_3", "203.0.113.9", "password_reset", "2026-03-02T01:00:20.000Z"),
            TestEvents.Json("e-4", "acct_9", "198.51.100.1", "session_new", "2026-03-02T01:10:00.000Z"),
        };
        await PushAsync(events);

        var detection = (await Http.ReadJsonAsync(await admin.GetAsync("v1/detections", Ct)))["items"]!.AsArray().ShouldHaveSingleItem()!;
        detection["rule"]!.GetValue<string>().ShouldBe("resets-per-ip");
        detection["severity"]!.GetValue<string>().ShouldBe("high");
        detection["event_ids"]!.AsArray().Select(e => e!.GetValue<string>()).ShouldBe(["e-1", "e-2", "e-3"]);
        detection["first_event_at"]!.GetValue<string>().ShouldBe("2026-03-02T01:00:00.000000Z");
        detection["platforms"]!.AsArray().Select(p => p!.GetValue<string>()).ShouldBe(["internal"]);
        var incident = (await Http.ReadJsonAsync(await admin.GetAsync("v1/incidents", Ct)))["items"]!.AsArray().ShouldHaveSingleItem()!;
        incident["kind"]!.GetValue<string>().ShouldBe("campaign");
        incident["accounts"]!.AsArray().Select(a => a!.GetValue<string>()).ShouldBe(["acct_1", "acct_2", "acct_3"]);
        incident["ips"]!.AsArray().Select(a => a!.GetValue<string>()).ShouldBe(["203.0.113.9"]);
    }

    [Fact]
    public async Task ADetectorInForce_FiresOnAVolumeBurst_IntoAnAnomalyIncidentListingItsAccounts()
    {
        using var admin = _server.CreateAdminClient();
        var detector = """
            {"description":"resets per platform per minute","severity":"high","model":"ewma","group_by":["platform"],"bucket":"1m",
             "min_count":20,"warm_up":30,"match":{"field":"event_type","equals":"password_reset"}}
            """;
        (await admin.PutAsync("v1/detectors/reset-volume", BulwarkTestServer.Json(detector), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await Http.ReadJsonAsync(await admin.GetAsync("v1/detectors/reset-volume", Ct)))["model"]!.GetValue<string>().ShouldBe("ewma");
        await Http.ReadProblemAsync(
            await admin.PutAsync("v1/detectors/bad", BulwarkTestServer.Json("""{"severity":"high","model":"oracle","bucket":"0s"}"""), Ct),
            HttpStatusCode.UnprocessableEntity,
            "validation");

        // An hour of quiet, then 40 resets in one minute, then a later event closes that minute.
        var events = new List<string> { TestEvents.Json("q-0", "acct_0", "198.51.100.1", "session_new", "2026-03-02T00:00:00.000Z") };
        for (var i = 0; i < 40; i++)
        {
            events.Add(TestEvents.Json($"r-{i}", $"acct_{i}", $"203.0.113.{i % 5}", "password_reset", $"2026-03-02T01:00:{i:D2}.000Z"));
        }

        events.Add(TestEvents.Json("q-1", "acct_0", "198.51.100.1", "session_new", "2026-03-02T01:10:00.000Z"));
        await PushAsync([.. events]);

        // Newest first: the whole minute when it closed, and before it the same minute when its count reached 20.
        var detections = (await Http.ReadJsonAsync(await admin.GetAsync("v1/detections", Ct)))["items"]!.AsArray();
        detections.Select(d => d!["event_count"]!.GetValue<long>()).ShouldBe([40, 20]);
        detections[1]!["detected_event_at"]!.GetValue<string>().ShouldStartWith("2026-03-02T01:00:19");
        var detection = detections[0]!;
        detection["origin"]!.GetValue<string>().ShouldBe("detector");
        detection["group"]!.GetValue<string>().ShouldBe("platform=internal");
        detection["event_count"]!.GetValue<long>().ShouldBe(40);
        detection["evidence"]!["observed"]!.GetValue<int>().ShouldBe(40);
        detection["evidence"]!["expected"]!.GetValue<double>().ShouldBeLessThan(1);
        var incident = (await Http.ReadJsonAsync(await admin.GetAsync("v1/incidents", Ct)))["items"]!.AsArray().ShouldHaveSingleItem()!;
        incident["kind"]!.GetValue<string>().ShouldBe("anomaly");
        incident["accounts"]!.AsArray().Count.ShouldBe(40);
        incident["title"]!.GetValue<string>().ShouldBe("reset-volume: platform=internal");
        (await admin.GetStringAsync("v1/audit?limit=1000", Ct)).ShouldContain("detector.create");
    }

    [Fact]
    public async Task ADetectorAcrossARestart_IsRebuiltFromTheLog_SoItsModelIsWarmAndTheOpenBucketIsScoredOnce()
    {
        using (var admin = _server.CreateAdminClient())
        {
            var detector = """
                {"description":"resets per platform per minute","severity":"high","model":"ewma","group_by":["platform"],"bucket":"1m",
                 "min_count":20,"warm_up":30,"match":{"field":"event_type","equals":"password_reset"}}
                """;
            (await admin.PutAsync("v1/detectors/reset-volume", BulwarkTestServer.Json(detector), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        }

        // An hour of quiet and 19 resets of a burst before the restart (one short of firing); the other 21 and a later
        // event after it. A detector started afresh would have no history (no warm model) and would count only 21.
        var before = new List<string> { TestEvents.Json("q-0", "acct_0", "198.51.100.1", "session_new", "2026-03-02T00:00:00.000Z") };
        var after = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            (i < 19 ? before : after).Add(TestEvents.Json($"r-{i}", $"acct_{i}", $"203.0.113.{i % 5}", "password_reset", $"2026-03-02T01:00:{i:D2}.000Z"));
        }

        after.Add(TestEvents.Json("q-1", "acct_0", "198.51.100.1", "session_new", "2026-03-02T01:10:00.000Z"));
        await PushAsync([.. before]);
        await _server.DisposeAsync();
        _server = await BulwarkTestServer.StartAsync(_data.Path);
        await PushAsync([.. after]);

        using var client = _server.CreateAdminClient();
        var detections = (await Http.ReadJsonAsync(await client.GetAsync("v1/detections", Ct)))["items"]!.AsArray();
        detections.Select(d => d!["event_count"]!.GetValue<long>()).ShouldBe([40, 20]);
        _server.Services.GetServices<IDetectionEngine>().OfType<RateDetectionEngine>().Single().Replayed.ShouldBe(20);
    }
}
