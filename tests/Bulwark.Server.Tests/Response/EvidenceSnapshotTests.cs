using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Ingest;
using Bulwark.Response;
using Bulwark.Server.Detection;
using Bulwark.Server.Ingest;
using Bulwark.Server.Response;
using Bulwark.Server.Tests.Ingest;
using Bulwark.TestUtils;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Response;

/// <summary>
/// <c>evidence.snapshot</c> in a playbook run on a real server over SQLite: signed webhook deliveries and a posted event
/// make an incident, whose run freezes it; the record holds its detections, their events with their raw snapshots'
/// hashes, and its audit range; its hash verifies from the API's answer; a repeat returns it; it survives a restart.
/// </summary>
public sealed class EvidenceSnapshotTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _data = new();
    private readonly TestSecrets _secrets = new();
    private readonly FakeTimeProvider _time = new();
    private BulwarkTestServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _server = await StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _data.Dispose();
    }

    private Task<BulwarkTestServer> StartAsync() =>
        BulwarkTestServer.StartAsync(_data.Path, time: _time, services: s => s.AddSingleton<ISecretResolver>(_secrets));

    private static string Event(string id, string source, string account, string timestamp) => new JsonObject
    {
        ["schema_version"] = "v1",
        ["id"] = id,
        ["source"] = source,
        ["platform"] = "internal",
        ["event_type"] = "password_reset",
        ["account_id"] = account,
        ["actor"] = new JsonObject { ["ip"] = "203.0.113.9" },
        ["timestamp"] = timestamp,
    }.ToJsonString();

    /// <summary>
    /// Two resets delivered as signed webhooks (each kept as a raw snapshot) and one posted to <c>/v1/events</c> make a
    /// detection and an incident, whose playbook freezes its evidence. Returns the finished run.
    /// </summary>
    private async Task<StoredRun> IncidentFrozenByAPlaybookAsync()
    {
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("v1/rules/resets-per-ip", BulwarkTestServer.Json("""
            {"type":"count","severity":"high","confidence":0.95,"group_by":["actor.ip"],"window":"1m","threshold":3,
             "match":{"field":"event_type","equals":"password_reset"}}
            """), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await admin.PutAsync("v1/playbooks/freeze", BulwarkTestServer.Json("""
            {"trigger":{"rules":["resets-per-ip"]},"auto_threshold":0.5,
             "steps":[{"id":"evidence","action":"evidence.snapshot","with":{"note":"frozen for {{incident.id}}"}}]}
            """), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        var secret = StandardWebhookSigner.NewSecret();
        _secrets["SW_PARTNER"] = secret;
        (await admin.PutAsync("v1/sources/partner", BulwarkTestServer.Json("""{"scheme":"standard-webhooks","secrets":["env:SW_PARTNER"],"normalizer":"event-v1"}"""), Ct))
            .StatusCode.ShouldBe(HttpStatusCode.Created);

        var signer = new StandardWebhookSigner(secret);
        using var client = _server.CreateClient();
        foreach (var (id, account, at) in new[] { ("e-1", "acct_1", "2026-03-02T01:00:00.000Z"), ("e-2", "acct_2", "2026-03-02T01:00:01.000Z") })
        {
            using var delivered = await client.SendAsync(signer.Request("partner", "msg_" + id, _time.GetUtcNow(), Encoding.UTF8.GetBytes(Event(id, "partner", account, at))), Ct);
            delivered.StatusCode.ShouldBe(HttpStatusCode.OK, await delivered.Content.ReadAsStringAsync(Ct));
        }

        var events = _server.Services.GetRequiredService<IEventStore>();
        await _server.Services.GetRequiredService<NormalizerWorker>().WhenNormalizedAsync(events.LastSnapshotSeq, Ct).WaitAsync(Patience, Ct);
        (await Http.ReadJsonAsync(await admin.PostAsync("v1/events", IngestServer.Body(Event("e-3", "svc", "acct_3", "2026-03-02T01:00:02.000Z")), Ct)))["accepted"]!.GetValue<int>().ShouldBe(1);
        await _server.Services.GetRequiredService<DetectionPipeline>().WhenHandledAsync(events.LastOffset, Ct).WaitAsync(Patience, Ct);

        var started = (await _server.Store.ListRunsAsync(new RunQuery(), Ct)).ShouldHaveSingleItem().Value;
        var run = await _server.Services.GetRequiredService<RunExecutor>().WhenFinishedAsync(started.Id, Ct).WaitAsync(Patience, Ct);
        run.Status.ShouldBe("succeeded", run.Document.ToJsonString());
        return run;
    }

    private static JsonObject StepOutput(StoredRun run) =>
        RunState.Read(run.Document).Step("evidence")!.Targets.ShouldHaveSingleItem().Output.ShouldNotBeNull();

    [Fact]
    public async Task APlaybookStep_FreezesTheIncidentsDetectionsEventsAndAuditRange_IntoOneRecordWhoseHashVerifies()
    {
        var run = await IncidentFrozenByAPlaybookAsync();
        var output = StepOutput(run);
        using var admin = _server.CreateAdminClient();

        var record = (await Http.ReadJsonAsync(await admin.GetAsync($"v1/evidence/{output["evidence_id"]}", Ct))).AsObject();
        var content = record["content"]!.AsObject();
        var sha256 = record["sha256"]!.GetValue<string>();

        (output["sha256"]!.GetValue<string>(), output["events"]!.GetValue<int>(), output["detections"]!.GetValue<int>()).ShouldBe((sha256, 3, 1));
        (record["incident_id"]!.GetValue<string>(), record["created_by"]!.GetValue<string>()).ShouldBe((run.IncidentId, "system:playbook/freeze"));
        EvidenceSnapshot.Verify(content, sha256).ShouldBeTrue();
        using (var raw = await admin.GetAsync($"v1/evidence/{output["evidence_id"]}/content", Ct))
        {
            Convert.ToHexStringLower(SHA256.HashData(await raw.Content.ReadAsByteArrayAsync(Ct))).ShouldBe(sha256);
        }

        // Its detections and incident are the incident's; its events are those the detection matched.
        var detections = (await Http.ReadJsonAsync(await admin.GetAsync($"v1/detections?incident={run.IncidentId}", Ct)))["items"]!.AsArray();
        var detection = detections.ShouldHaveSingleItem()!;
        content["detections"]!.AsArray().Select(d => d!["id"]!.GetValue<string>()).ShouldBe([detection["id"]!.GetValue<string>()]);
        (content["incident"]!["id"]!.GetValue<string>(), content["note"]!.GetValue<string>()).ShouldBe((run.IncidentId, "frozen for " + run.IncidentId));
        var frozen = content["events"]!.AsArray();
        frozen.Select(e => e!["event"]!["id"]!.GetValue<string>()).ShouldBe(detection["event_ids"]!.AsArray().Select(i => i!.GetValue<string>()), ignoreOrder: true);
        content["missing_event_ids"]!.AsArray().ShouldBeEmpty();

        // Each delivered event names its raw snapshot, with the hash the raw store keeps; the posted one has none.
        var logged = (await Http.ReadJsonAsync(await admin.GetAsync("v1/events?limit=10", Ct)))["items"]!.AsArray();
        foreach (var item in frozen)
        {
            var id = item!["event"]!["id"]!.GetValue<string>();
            var snapshot = logged.Single(e => e!["id"]!.GetValue<string>() == id)!["snapshot"]?.GetValue<string>();
            item["snapshot_id"]?.GetValue<string>().ShouldBe(snapshot);
            if (id == "e-3")
            {
                (snapshot, item["snapshot_sha256"]).ShouldBe((null, null));
                continue;
            }

            var stored = await Http.ReadJsonAsync(await admin.GetAsync($"v1/raw/{snapshot}", Ct));
            item["snapshot_sha256"]!.GetValue<string>().ShouldBe(stored["sha256"]!.GetValue<string>());
        }

        // The audit range is pinned by the chain; the incident's entries are whole.
        var audit = content["audit"]!;
        var log = (await Http.ReadJsonAsync(await admin.GetAsync("v1/audit?limit=1000", Ct)))["items"]!.AsArray();
        // It starts with the transaction that created the incident: the entry of the detection that opened it comes first.
        var creation = log.Single(e => e!["action"]!.GetValue<string>() == "detection.create" && e["target"]!.GetValue<string>() == "detection/" + detection["id"]!.GetValue<string>())!;
        log.Single(e => e!["seq"]!.GetValue<long>() == creation["seq"]!.GetValue<long>() + 1)!["action"]!.GetValue<string>().ShouldBe("incident.create");
        audit["from_seq"]!.GetValue<long>().ShouldBe(creation["seq"]!.GetValue<long>());
        audit["from_prev_hash"]!.GetValue<string>().ShouldBe(creation["prev_hash"]!.GetValue<string>());
        var last = log.Single(e => e!["seq"]!.GetValue<long>() == audit["to_seq"]!.GetValue<long>())!;
        audit["to_hash"]!.GetValue<string>().ShouldBe(last["hash"]!.GetValue<string>());
        audit["chain_intact"]!.GetValue<bool>().ShouldBeTrue();
        var actions = audit["entries"]!.AsArray().Select(e => e!["action"]!.GetValue<string>()).ToList();
        actions.ShouldContain("incident.create");
        actions.ShouldContain("detection.create");
        actions.ShouldContain("playbook.run.create");
        foreach (var entry in audit["entries"]!.AsArray())
        {
            entry!["hash"]!.GetValue<string>().ShouldBe(log.Single(e => e!["seq"]!.GetValue<long>() == entry["seq"]!.GetValue<long>())!["hash"]!.GetValue<string>());
        }

        var made = log.Single(e => e!["action"]!.GetValue<string>() == "evidence.snapshot")!;
        (made["actor"]!.GetValue<string>(), made["target"]!.GetValue<string>()).ShouldBe(("system:playbook/freeze", "evidence/" + output["evidence_id"]));
        made["seq"]!.GetValue<long>().ShouldBeGreaterThan(audit["to_seq"]!.GetValue<long>());
    }

    [Fact]
    public async Task ARepeatedCall_ReturnsTheSameRecord_NeverASecond_AndTheRecordSurvivesARestart()
    {
        var run = await IncidentFrozenByAPlaybookAsync();
        var output = StepOutput(run);
        var incident = (await _server.Store.GetIncidentAsync(run.IncidentId, Ct)).ShouldNotBeNull();
        var handler = _server.Services.GetServices<IActionHandler>().OfType<EvidenceActions>().Single();
        var call = new ActionCall
        {
            RunId = run.Id,
            Playbook = "freeze",
            StepId = "evidence",
            Action = "evidence.snapshot",
            Target = run.IncidentId,
            IdempotencyKey = RunPlanner.IdempotencyKey(run.Id, "evidence", run.IncidentId),
            CorrelationId = run.IncidentId,
            Parameters = new JsonObject { ["note"] = "again" },
            Incident = incident,
            Timeout = TimeSpan.FromSeconds(10),
        };
        _time.Advance(TimeSpan.FromMinutes(5));

        var again = await handler.ExecuteAsync(call, Ct);
        var other = await handler.ExecuteAsync(call with { StepId = "evidence-2", IdempotencyKey = RunPlanner.IdempotencyKey(run.Id, "evidence-2", run.IncidentId) }, Ct);

        again.Output!.ToJsonString().ShouldBe(output.ToJsonString());
        other.Output!["evidence_id"]!.GetValue<string>().ShouldNotBe(output["evidence_id"]!.GetValue<string>());
        using var admin = _server.CreateAdminClient();
        var listed = (await Http.ReadJsonAsync(await admin.GetAsync($"v1/incidents/{run.IncidentId}/evidence", Ct)))["items"]!.AsArray();
        listed.Select(e => e!["id"]!.GetValue<string>()).ShouldBe([other.Output["evidence_id"]!.GetValue<string>(), output["evidence_id"]!.GetValue<string>()]);
        var before = await admin.GetStringAsync($"v1/evidence/{output["evidence_id"]}", Ct);

        await _server.DisposeAsync();
        _server = await StartAsync();

        using var afterRestart = _server.CreateAdminClient();
        (await afterRestart.GetStringAsync($"v1/evidence/{output["evidence_id"]}", Ct)).ShouldBe(before);
        var record = await Http.ReadJsonAsync(await afterRestart.GetAsync($"v1/evidence/{output["evidence_id"]}", Ct));
        EvidenceSnapshot.Verify(record["content"]!.AsObject(), output["sha256"]!.GetValue<string>()).ShouldBeTrue();
    }

    [Fact]
    public async Task UnknownIdsAre404Problems_AndABadPageIs422()
    {
        using var admin = _server.CreateAdminClient();

        await Http.ReadProblemAsync(await admin.GetAsync("v1/evidence/evd_absent", Ct), HttpStatusCode.NotFound, "not-found");
        await Http.ReadProblemAsync(await admin.GetAsync("v1/evidence/evd_absent/content", Ct), HttpStatusCode.NotFound, "not-found");
        await Http.ReadProblemAsync(await admin.GetAsync("v1/incidents/inc_absent/evidence", Ct), HttpStatusCode.NotFound, "not-found");
        await Http.ReadProblemAsync(await admin.GetAsync("v1/incidents/inc_absent/evidence?limit=0", Ct), HttpStatusCode.UnprocessableEntity, "validation");
    }

    [Fact]
    public async Task ForAnIncidentThatDoesNotExist_TheActionFailsWithoutRetries_AndStoresNothing()
    {
        var handler = _server.Services.GetServices<IActionHandler>().OfType<EvidenceActions>().Single();

        var outcome = await handler.ExecuteAsync(
            new ActionCall
            {
                RunId = "run_1",
                Playbook = "freeze",
                StepId = "evidence",
                Action = "evidence.snapshot",
                Target = "inc_absent",
                IdempotencyKey = "bwk-absent",
                CorrelationId = "inc_absent",
                Parameters = [],
                Incident = Connectors.ConnectorKit.Incident("inc_absent"),
                Timeout = TimeSpan.FromSeconds(10),
            },
            Ct);

        (outcome.Succeeded, outcome.Failure).ShouldBe((false, RetryOn.None));
        outcome.Error!.ShouldContain("inc_absent");
        (await _server.Store.ListEvidenceAsync("inc_absent", null, 10, Ct)).ShouldBeEmpty();
    }
}
