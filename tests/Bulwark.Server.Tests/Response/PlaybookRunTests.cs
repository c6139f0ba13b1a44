using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.Server.Detection;
using Bulwark.Server.Ingest;
using Bulwark.Server.Response;
using Bulwark.Server.Tests.Ingest;
using Bulwark.TestUtils;
using Bulwark.TestUtils.Fakes;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Response;

/// <summary>From events to containment: an incident of a rule starts its playbook's run, which calls the platform API.</summary>
public sealed class PlaybookRunTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly string[] Accounts = ["acct_1", "acct_2", "acct_3"];
    private readonly TempDirectory _data = new();
    private readonly TestSecrets _secrets = new();
    private BulwarkTestServer _server = null!;
    private FakePlatformApi _platform = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _platform = await FakePlatformApi.StartAsync();
        _secrets["PLATFORM_TOKEN"] = _platform.Token;
        _server = await BulwarkTestServer.StartAsync(_data.Path, services: s => s.AddSingleton<ISecretResolver>(_secrets));
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        await _platform.DisposeAsync();
        _data.Dispose();
    }

    [Fact]
    public async Task AnIncidentAboveTheAutoThreshold_RunsItsPlaybook_AndEachAccountsTokensAreRevokedOnce()
    {
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("v1/rules/resets-per-ip", BulwarkTestServer.Json("""
            {"type":"count","severity":"high","confidence":0.95,"group_by":["actor.ip"],"window":"1m","threshold":3,
             "match":{"field":"event_type","equals":"password_reset"}}
            """), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await admin.PutAsync("v1/connectors/platform", BulwarkTestServer.Json($$"""
            {"type":"platform","platform":"instagram","url":"{{_platform.BaseAddress}}","secret":"env:PLATFORM_TOKEN"}
            """), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await admin.PutAsync("v1/playbooks/contain", BulwarkTestServer.Json("""
            {"trigger":{"rules":["resets-per-ip"],"min_severity":"high","min_confidence":0.5},"auto_threshold":0.9,
             "steps":[{"id":"revoke","action":"platform.revoke_tokens","connector":"platform","for_each":"accounts"}]}
            """), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);

        var events = Accounts
            .Select((a, i) => TestEvents.Json($"e-{i}", a, "203.0.113.9", "password_reset", $"2026-03-02T01:00:0{i}.000Z"));
        (await Http.ReadJsonAsync(await admin.PostAsync("v1/events", IngestServer.Body("[" + string.Join(",", events) + "]"), Ct)))["accepted"]!.GetValue<int>().ShouldBe(3);
        await _server.Services.GetRequiredService<DetectionPipeline>()
            .WhenHandledAsync(_server.Services.GetRequiredService<IEventStore>().LastOffset, Ct)
            .WaitAsync(Patience, Ct);

        var store = _server.Services.GetRequiredService<Bulwark.Storage.IControlStore>();
        var started = (await store.ListRunsAsync(new Bulwark.Response.RunQuery(), Ct)).ShouldHaveSingleItem().Value;
        var run = await _server.Services.GetRequiredService<RunExecutor>().WhenFinishedAsync(started.Id, Ct).WaitAsync(Patience, Ct);

        run.Status.ShouldBe("succeeded", run.Document.ToJsonString());
        foreach (var account in Accounts)
        {
            _platform.SideEffects(account, "revoke_tokens").ShouldBe(1);
        }

        (await admin.GetStringAsync("v1/audit?limit=1000", Ct)).ShouldContain("system:playbook/contain");

        // The run through the API: listed by incident, read whole, and on its incident's timeline.
        var listed = await Http.ReadJsonAsync(await admin.GetAsync($"v1/runs?incident={run.IncidentId}&status=succeeded", Ct));
        listed["items"]!.AsArray().ShouldHaveSingleItem()!["id"]!.GetValue<string>().ShouldBe(run.Id);
        var read = await Http.ReadJsonAsync(await admin.GetAsync($"v1/runs/{run.Id}", Ct));
        var step = read["steps"]!.AsArray().ShouldHaveSingleItem()!;
        step["status"]!.GetValue<string>().ShouldBe("succeeded");
        step["targets"]!.AsArray().Select(t => t!["target"]!.GetValue<string>()).Order().ShouldBe(Accounts);
        step["targets"]!.AsArray().ShouldAllBe(t => t!["idempotency_key"]!.GetValue<string>().StartsWith("bwk-", StringComparison.Ordinal));
        var incident = await Http.ReadJsonAsync(await admin.GetAsync($"v1/incidents/{run.IncidentId}", Ct));
        incident["timeline"]!.AsArray().ShouldContain(i => i!["kind"]!.GetValue<string>() == "run");
        await Http.ReadProblemAsync(await admin.GetAsync("v1/runs/run_absent", Ct), HttpStatusCode.NotFound, "not-found");
        await Http.ReadProblemAsync(await admin.GetAsync("v1/runs?status=sleeping", Ct), HttpStatusCode.UnprocessableEntity, "validation");
    }
}
