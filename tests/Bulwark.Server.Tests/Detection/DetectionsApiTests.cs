using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Server.Detection;
using Bulwark.Server.Tests.Ingest;
using Bulwark.TestUtils;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Detection;

/// <summary>
/// The detection pipeline behind the log, with an engine that fires on every password reset (the real engines are
/// tested on their own): detections stored once, correlated into incidents, listed, explained and resolved.
/// </summary>
public sealed class DetectionsApiTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _data = new();
    private BulwarkTestServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _server = await StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _data.Dispose();
    }

    private Task<BulwarkTestServer> StartAsync() =>
        BulwarkTestServer.StartAsync(_data.Path, services: s => s.AddSingleton<IDetectionEngine, ResetEngine>());


    private async Task PushAsync(params string[] events)
    {
        using var admin = _server.CreateAdminClient();
        (await Http.ReadJsonAsync(await admin.PostAsync("v1/events", IngestServer.Body("[" + string.Join(",", events) + "]"), Ct)))["accepted"]!
            .GetValue<int>().ShouldBe(events.Length);
        await HandledAsync();
    }

    private Task HandledAsync() =>
        _server.Services.GetRequiredService<DetectionPipeline>()
            .WhenHandledAsync(_server.Services.GetRequiredService<IEventStore>().LastOffset, Ct)
            .WaitAsync(Patience, Ct);

    private async Task<JsonArray> ItemsAsync(string path)
    {
        using var admin = _server.CreateAdminClient();
        return (await Http.ReadJsonAsync(await admin.GetAsync(path, Ct)))["items"]!.AsArray();
    }

    [Fact]
    public async Task Detections_AreStoredAndCorrelated_IntoOneCampaignIncident_WithATimeline()
    {
        await PushAsync(
            TestEvents.Json("e-1", "acct_1", "192.0.2.7", "password_reset", "2026-03-02T01:00:00.000Z"),
            TestEvents.Json("e-2", "acct_1", "198.51.100.1", "session_new", "2026-03-02T01:00:30.000Z"),
            TestEvents.Json("e-3", "acct_2", "192.0.2.7", "password_reset", "2026-03-02T01:01:00.000Z"));

        var incidents = await ItemsAsync("v1/incidents");
        var incident = incidents.ShouldHaveSingleItem()!.AsObject();
        incident["kind"]!.GetValue<string>().ShouldBe("campaign");
        incident["status"]!.GetValue<string>().ShouldBe("open");
        incident["severity"]!.GetValue<string>().ShouldBe("medium");
        incident["accounts"]!.AsArray().Select(a => a!.GetValue<string>()).ShouldBe(["acct_1", "acct_2"]);
        incident["ips"]!.AsArray().Select(a => a!.GetValue<string>()).ShouldBe(["192.0.2.7"]);
        incident["rules"]!.AsArray().Select(a => a!.GetValue<string>()).ShouldBe(["test-reset"]);
        incident["first_event_at"]!.GetValue<string>().ShouldBe("2026-03-02T01:00:00.000000Z");
        incident["detected_event_at"]!.GetValue<string>().ShouldBe("2026-03-02T01:00:00.000000Z");
        var id = incident["id"]!.GetValue<string>();

        var detections = await ItemsAsync("v1/detections?incident=" + id);
        detections.Select(d => d!["id"]!.GetValue<string>()).ShouldBe(["det_e-3", "det_e-1"]);
        detections.ShouldAllBe(d => d!["incident_id"]!.GetValue<string>() == id);

        using var admin = _server.CreateAdminClient();
        var detail = await Http.ReadJsonAsync(await admin.GetAsync("v1/incidents/" + id, Ct));
        var timeline = detail["timeline"]!.AsArray();
        timeline.Where(t => t!["kind"]!.GetValue<string>() == "event")
            .Select(t => (t!["event"]!["id"]!.GetValue<string>(), t["matched"]!.GetValue<bool>()))
            .ShouldBe([("e-1", true), ("e-2", false), ("e-3", true)]);
        timeline.Count(t => t!["kind"]!.GetValue<string>() == "detection").ShouldBe(2);

        var audit = await admin.GetStringAsync("v1/audit?limit=1000", Ct);
        audit.ShouldContain("detection.create");
        audit.ShouldContain("incident.create");
        audit.ShouldContain("incident.update");
    }

    [Fact]
    public async Task Lists_ArePagedNewestFirst_AndFilterByStatusAndSeverity()
    {
        await PushAsync(
            TestEvents.Json("e-1", "acct_1", "192.0.2.1", "password_reset", "2026-03-02T01:00:00.000Z"),
            TestEvents.Json("e-2", "acct_2", "192.0.2.2", "password_reset", "2026-03-02T01:00:01.000Z"),
            TestEvents.Json("e-3", "acct_3", "192.0.2.3", "password_reset", "2026-03-02T01:00:02.000Z"));
        using var admin = _server.CreateAdminClient();

        var first = await Http.ReadJsonAsync(await admin.GetAsync("v1/incidents?limit=2", Ct));
        var next = await Http.ReadJsonAsync(await admin.GetAsync($"v1/incidents?limit=2&before={first["next_before"]}", Ct));

        first["items"]!.AsArray().Select(i => i!["accounts"]![0]!.GetValue<string>()).ShouldBe(["acct_3", "acct_2"]);
        next["items"]!.AsArray().Select(i => i!["accounts"]![0]!.GetValue<string>()).ShouldBe(["acct_1"]);
        next["next_before"].ShouldBeNull();
        (await ItemsAsync("v1/incidents?status=open&severity=medium")).Count.ShouldBe(3);
        (await ItemsAsync("v1/incidents?severity=high")).ShouldBeEmpty();
        var problem = await Http.ReadProblemAsync(await admin.GetAsync("v1/incidents?status=closed&limit=0", Ct), HttpStatusCode.UnprocessableEntity, "validation");
        problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ShouldBe(["/status", "/limit"], ignoreOrder: true);
    }

    [Fact]
    public async Task Resolve_NeedsTheRespondCapability_AVerdict_AndAnOpenIncident()
    {
        await PushAsync(TestEvents.Json("e-1", "acct_1", "192.0.2.1", "password_reset", "2026-03-02T01:00:00.000Z"));
        var id = (await ItemsAsync("v1/incidents")).ShouldHaveSingleItem()!["id"]!.GetValue<string>();
        using var viewer = _server.CreateClient(await _server.CreateIdentityTokenAsync("vic", Role.Viewer));
        using var responder = _server.CreateClient(await _server.CreateIdentityTokenAsync("rita", Role.Responder));
        var url = $"v1/incidents/{id}/resolve";

        await Http.ReadProblemAsync(await viewer.PostAsync(url, BulwarkTestServer.Json("""{"verdict":"benign"}"""), Ct), HttpStatusCode.Forbidden, "forbidden");
        await Http.ReadProblemAsync(await responder.PostAsync(url, BulwarkTestServer.Json("""{"verdict":"maybe"}"""), Ct), HttpStatusCode.UnprocessableEntity, "validation");
        await Http.ReadProblemAsync(await responder.PostAsync(url, BulwarkTestServer.Json("""{"note":"x"}"""), Ct), HttpStatusCode.UnprocessableEntity, "validation");
        await Http.ReadProblemAsync(await responder.PostAsync(url, BulwarkTestServer.Json("{"), Ct), HttpStatusCode.BadRequest, "malformed-request");
        await Http.ReadProblemAsync(await responder.PostAsync("v1/incidents/inc_absent/resolve", BulwarkTestServer.Json("""{"verdict":"benign"}"""), Ct), HttpStatusCode.NotFound, "not-found");

        var resolved = await Http.ReadJsonAsync(await responder.PostAsync(url, BulwarkTestServer.Json("""{"verdict":"true_positive","note":"confirmed with the user"}"""), Ct));
        resolved["status"]!.GetValue<string>().ShouldBe("resolved");
        resolved["resolution"]!["verdict"]!.GetValue<string>().ShouldBe("true_positive");
        resolved["resolution"]!["by"]!.GetValue<string>().ShouldBe("rita");
        await Http.ReadProblemAsync(await responder.PostAsync(url, BulwarkTestServer.Json("""{"verdict":"benign"}"""), Ct), HttpStatusCode.Conflict, "conflict");

        // A later detection on the same account opens a new incident.
        await PushAsync(TestEvents.Json("e-2", "acct_1", "192.0.2.1", "password_reset", "2026-03-02T01:01:00.000Z"));
        var incidents = await ItemsAsync("v1/incidents");
        incidents.Select(i => i!["status"]!.GetValue<string>()).ShouldBe(["open", "resolved"]);
        using var admin = _server.CreateAdminClient();
        (await admin.GetStringAsync("v1/audit?limit=1000", Ct)).ShouldContain("incident.resolve");
    }

    [Fact]
    public async Task ReplayAndRestart_FindTheSameDetections_AndRepeatNoIncident()
    {
        await PushAsync(
            TestEvents.Json("e-1", "acct_1", "192.0.2.1", "password_reset", "2026-03-02T01:00:00.000Z"),
            TestEvents.Json("e-2", "acct_2", "192.0.2.2", "password_reset", "2026-03-02T01:00:01.000Z"));
        using (var admin = _server.CreateAdminClient())
        {
            var replay = await admin.PostAsync("v1/events/replay", BulwarkTestServer.Json("""{"since":"2026-01-01T00:00:00Z","consumers":["detection"]}"""), Ct);
            replay.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        await HandledAsync();
        (await ItemsAsync("v1/detections")).Count.ShouldBe(2);

        await _server.DisposeAsync();
        _server = await StartAsync();
        await PushAsync(TestEvents.Json("e-3", "acct_1", "192.0.2.1", "password_reset", "2026-03-02T01:02:00.000Z"));

        (await ItemsAsync("v1/detections")).Count.ShouldBe(3);
        var incidents = await ItemsAsync("v1/incidents");
        incidents.Count.ShouldBe(2);
        incidents.Single(i => i!["accounts"]![0]!.GetValue<string>() == "acct_1")!["detection_ids"]!.AsArray().Count.ShouldBe(2);
    }

    /// <summary>Fires on every <c>password_reset</c>, grouped by account, with an id derived from the event's.</summary>
    private sealed class ResetEngine : IDetectionEngine
    {
        public ValueTask<IReadOnlyList<DetectionRecord>> ObserveAsync(IReadOnlyList<LoggedEvent> batch, CancellationToken cancellationToken) =>
            ValueTask.FromResult<IReadOnlyList<DetectionRecord>>([.. batch.Where(e => e.Event.EventType == "password_reset").Select(e => new DetectionRecord
            {
                Id = "det_" + e.Event.Id,
                Origin = DetectionOrigin.Rule,
                Rule = "test-reset",
                Severity = Severity.Medium,
                Confidence = 0.5,
                Group = "account_id=" + e.Event.AccountId,
                Accounts = [e.Event.AccountId],
                Ips = e.Event.Actor?.Ip is { } ip ? [ip] : [],
                Platforms = [e.Event.Platform],
                EventIds = [e.Event.Id],
                EventCount = 1,
                FirstEventAt = e.Event.Timestamp,
                DetectedEventAt = e.Event.Timestamp,
                Explanation = "a password reset",
            })]);

        public ValueTask<IReadOnlyList<DetectionRecord>> IdleAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
            ValueTask.FromResult<IReadOnlyList<DetectionRecord>>([]);
    }
}
