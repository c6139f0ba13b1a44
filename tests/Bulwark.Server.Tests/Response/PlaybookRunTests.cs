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

    [Fact]
    public async Task AccountsThatJoinAnIncidentAfterItsRunStarted_GetAFollowUpRun_AndEachIsContainedOnce()
    {
        await _response.PutAsync("v1/rules/ato", """
            {"type":"sequence","severity":"high","confidence":0.95,"group_by":["account_id"],"within":"60s","steps":[
              {"name":"changed","match":{"field":"event_type","equals":"account_changed"}},
              {"name":"rotated","match":{"field":"event_type","equals":"token_rotated"}}]}
            """);
        await _response.PutAsync("v1/connectors/platform", $$"""
            {"type":"platform","platform":"instagram","url":"{{_response.Platform.BaseAddress}}","secret":"env:PLATFORM_TOKEN"}
            """);
        await _response.PutAsync("v1/playbooks/contain", """
            {"trigger":{"rules":["ato"]},"auto_threshold":0.9,
             "steps":[{"id":"revoke","action":"platform.revoke_tokens","connector":"platform","for_each":"accounts"}]}
            """);

        // Two takeovers from one IP, one after the other: the second joins the first's incident.
        await _response.PushAsync(
            TestEvents.Json("a-1", "acct_1", "203.0.113.9", "account_changed", "2026-03-02T01:00:00.000Z"),
            TestEvents.Json("a-2", "acct_1", "203.0.113.9", "token_rotated", "2026-03-02T01:00:05.000Z"));
        var first = (await _response.Server.Store.ListRunsAsync(new Bulwark.Response.RunQuery(), Ct)).ShouldHaveSingleItem().Value;
        await _response.FinishedAsync(first.Id);
        await _response.PushAsync(
            TestEvents.Json("b-1", "acct_2", "203.0.113.9", "account_changed", "2026-03-02T01:01:00.000Z"),
            TestEvents.Json("b-2", "acct_2", "203.0.113.9", "token_rotated", "2026-03-02T01:01:05.000Z"));

        var runs = await _response.Server.Store.ListRunsAsync(new Bulwark.Response.RunQuery(), Ct);
        runs.Count.ShouldBe(2);
        runs.ShouldAllBe(r => r.Value.IncidentId == first.IncidentId);
        var followUp = await _response.FinishedAsync(runs[0].Value.Id);
        followUp.Status.ShouldBe(Bulwark.Response.RunStatus.Succeeded);
        followUp.Accounts.ShouldBe(["acct_2"]);
        _response.Platform.SideEffects("acct_1", "revoke_tokens").ShouldBe(1);
        _response.Platform.SideEffects("acct_2", "revoke_tokens").ShouldBe(1);

        // A third detection that adds no account starts nothing.
        await _response.PushAsync(
            TestEvents.Json("c-1", "acct_2", "203.0.113.9", "account_changed", "2026-03-02T01:02:00.000Z"),
            TestEvents.Json("c-2", "acct_2", "203.0.113.9", "token_rotated", "2026-03-02T01:02:05.000Z"));
        (await _response.Server.Store.ListRunsAsync(new Bulwark.Response.RunQuery(), Ct)).Count.ShouldBe(2);
    }

    [Fact]
    public async Task APersonStartsADryRun_ItRecordsWhatItWouldCall_AsksNobody_AndCallsNothing()
    {
        // Below the auto threshold: a real run would wait; the dry run goes through and says so.
        var started = await _response.IncidentAsync(0.6, """
            {"trigger":{"rules":["resets-per-ip"]},"auto_threshold":0.9,
             "steps":[{"id":"revoke","action":"platform.revoke_tokens","connector":"platform","for_each":"accounts"}]}
            """, Accounts);
        var responder = await _response.Server.CreateIdentityTokenAsync("rita", Bulwark.Identity.Role.Responder);
        using var client = _response.Server.CreateClient(responder);

        var answer = await client.PostAsync($"v1/incidents/{started.IncidentId}/runs", BulwarkTestServer.Json("""{"playbook":"contain","dry_run":true}"""), Ct);

        var drill = await Http.ReadJsonAsync(answer, HttpStatusCode.Accepted);
        drill["dry_run"]!.GetValue<bool>().ShouldBeTrue();
        var run = await _response.FinishedAsync(drill["id"]!.GetValue<string>());
        run.Status.ShouldBe(Bulwark.Response.RunStatus.Succeeded);
        run.Reason!.ShouldStartWith("dry run; a real run would wait for approval");
        var calls = run.Step("revoke")!.Targets;
        calls.Select(t => t.Target).Order().ShouldBe(Accounts);
        calls.ShouldAllBe(t => t.Output!["dry_run"]!.GetValue<bool>() && t.Output["would_send"] != null);
        _response.Platform.Requests.ShouldBeEmpty();
        RunStateOf(await _response.Server.Store.GetRunAsync(started.Id, Ct)).Status.ShouldBe(Bulwark.Response.RunStatus.WaitingApproval);
        (await _response.Server.Store.ListApprovalsAsync(null, drill["id"]!.GetValue<string>(), null, 10, Ct)).ShouldBeEmpty();
        using var admin = _response.Server.CreateAdminClient();
        await Http.ReadProblemAsync(
            await admin.PostAsync($"v1/incidents/{started.IncidentId}/runs", BulwarkTestServer.Json("""{"playbook":"absent"}"""), Ct), HttpStatusCode.NotFound, "not-found");
        await Http.ReadProblemAsync(
            await admin.PostAsync("v1/incidents/inc_absent/runs", BulwarkTestServer.Json("""{"playbook":"contain"}"""), Ct), HttpStatusCode.NotFound, "not-found");
        await Http.ReadProblemAsync(
            await admin.PostAsync($"v1/incidents/{started.IncidentId}/runs", BulwarkTestServer.Json("""{"dry_run":"yes"}"""), Ct), HttpStatusCode.UnprocessableEntity, "validation");
    }

    private static Bulwark.Response.RunState RunStateOf(Bulwark.Response.StoredRun? stored) => Bulwark.Response.RunState.Read(stored!.Document);
}
