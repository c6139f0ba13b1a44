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
    private static readonly string[] Accounts = ["acct_1", "acct_2", "acct_3"];
    private ResponseServer _response = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _response = await ResponseServer.StartAsync();

    public async ValueTask DisposeAsync() => await _response.DisposeAsync();

    [Fact]
    public async Task AnIncidentAboveTheAutoThreshold_RunsItsPlaybook_AndEachAccountsTokensAreRevokedOnce()
    {
        var started = await _response.IncidentAsync(0.95, """
            {"trigger":{"rules":["resets-per-ip"],"min_severity":"high","min_confidence":0.5},"auto_threshold":0.9,
             "steps":[{"id":"revoke","action":"platform.revoke_tokens","connector":"platform","for_each":"accounts"}]}
            """, Accounts);
        using var admin = _response.Server.CreateAdminClient();
        var run = await _response.Executor.WhenFinishedAsync(started.Id, Ct).WaitAsync(ResponseServer.Patience, Ct);

        run.Status.ShouldBe("succeeded", run.Document.ToJsonString());
        foreach (var account in Accounts)
        {
            _response.Platform.SideEffects(account, "revoke_tokens").ShouldBe(1);
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
