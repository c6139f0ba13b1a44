using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Response;
using Bulwark.Server.Detection;
using Bulwark.Server.Ingest;
using Bulwark.Server.Response;
using Bulwark.Server.Tests.Ingest;
using Bulwark.Storage;
using Bulwark.TestUtils;
using Bulwark.TestUtils.Fakes;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Response;

/// <summary>
/// The human in the loop and the way back: runs below the auto threshold and steps that need approval wait for the right
/// role, unanswered questions escalate and expire on the server's clock, and a rollback undoes what the runs did, in
/// reverse order, once.
/// </summary>
public sealed class ApprovalAndRollbackTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = ResponseServer.Patience;
    private static readonly string[] Accounts = ["acct_1", "acct_2", "acct_3"];
    private readonly FakeTimeProvider _time = new();
    private ResponseServer _response = null!;
    private FakePartner _partner = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private BulwarkTestServer Server => _response.Server;

    private FakePlatformApi Platform => _response.Platform;

    private RunExecutor Executor => _response.Executor;

    public async ValueTask InitializeAsync()
    {
        _partner = await FakePartner.StartAsync();
        _response = await ResponseServer.StartAsync(_time);
    }

    public async ValueTask DisposeAsync()
    {
        await _response.DisposeAsync();
        await _partner.DisposeAsync();
    }

    /// <summary>The partner's http connector, then the incident of three resets whose run the playbook starts.</summary>
    private async Task<StoredRun> IncidentWithPlaybookAsync(double confidence, string playbook)
    {
        await _response.PutAsync("v1/connectors/partner", $$"""{"type":"http","url":"{{_partner.EndpointUrl}}"}""");
        return await _response.IncidentAsync(confidence, playbook, Accounts);
    }

    private const string RevokeBelowThreshold = """
        {"trigger":{"rules":["resets-per-ip"]},"auto_threshold":0.9,
         "approval":{"roles":["approver"],"ttl":"15m","on_expiry":"escalate","escalate_to":["admin"]},
         "steps":[{"id":"revoke","action":"platform.revoke_tokens","connector":"platform","for_each":"accounts"}]}
        """;

    private async Task<JsonObject> AnswerAsync(string token, string approvalId, string verb, HttpStatusCode expected, string? note = null)
    {
        using var client = Server.CreateClient(token);
        var response = await client.PostAsJsonAsync($"v1/approvals/{approvalId}/{verb}", new JsonObject { ["note"] = note }, Ct);
        if (expected != HttpStatusCode.OK)
        {
            return await Http.ReadProblemAsync(response, expected, expected == HttpStatusCode.Forbidden ? "forbidden" : "conflict");
        }

        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Ct));
        return (await Http.ReadJsonAsync(response)).AsObject();
    }

    [Fact]
    public async Task ALowConfidenceIncident_WaitsForApproval_TheWrongRoleGets403_AndTheRightRoleReleasesIt()
    {
        var run = await IncidentWithPlaybookAsync(0.6, RevokeBelowThreshold);
        var responder = await Server.CreateIdentityTokenAsync("rita", Role.Responder);
        var approver = await Server.CreateIdentityTokenAsync("abe", Role.Approver);

        var waiting = RunState.Read(run.Document);
        waiting.Status.ShouldBe(RunStatus.WaitingApproval);
        using var admin = Server.CreateAdminClient();
        var pending = (await Http.ReadJsonAsync(await admin.GetAsync("v1/approvals?status=pending", Ct)))["items"]!.AsArray().ShouldHaveSingleItem()!;
        pending["id"]!.GetValue<string>().ShouldBe(waiting.ApprovalId);
        pending["run_id"]!.GetValue<string>().ShouldBe(run.Id);
        pending["roles"]!.AsArray().Select(r => r!.GetValue<string>()).ShouldBe(["approver"]);

        var refused = await AnswerAsync(responder, waiting.ApprovalId!, "approve", HttpStatusCode.Forbidden);
        refused["detail"]!.GetValue<string>().ShouldContain("approver");
        Platform.Requests.ShouldBeEmpty();

        var approved = await AnswerAsync(approver, waiting.ApprovalId!, "approve", HttpStatusCode.OK, note: "confirmed with the account owners");
        (approved["status"]!.GetValue<string>(), approved["answered_by"]!.GetValue<string>(), approved["note"]!.GetValue<string>())
            .ShouldBe(("approved", "abe", "confirmed with the account owners"));

        var finished = await Executor.WhenFinishedAsync(run.Id, Ct).WaitAsync(Patience, Ct);
        finished.Status.ShouldBe("succeeded", finished.Document.ToJsonString());
        RunState.Read(finished.Document).Reason.ShouldBe("approved by abe");
        Accounts.ShouldAllBe(a => Platform.SideEffects(a, "revoke_tokens") == 1);
        await AnswerAsync(approver, waiting.ApprovalId!, "deny", HttpStatusCode.Conflict);
        var audit = await admin.GetStringAsync("v1/audit?limit=1000", Ct);
        audit.ShouldContain("approval.ask");
        audit.ShouldContain("approval.approve");
    }

    [Fact]
    public async Task ADeniedRun_CallsNothing_AndSaysWhoDeniedIt()
    {
        var run = await IncidentWithPlaybookAsync(0.6, RevokeBelowThreshold);
        var approver = await Server.CreateIdentityTokenAsync("abe", Role.Approver);

        await AnswerAsync(approver, RunState.Read(run.Document).ApprovalId!, "deny", HttpStatusCode.OK, note: "a pentest");

        var finished = RunState.Read((await Executor.WhenFinishedAsync(run.Id, Ct).WaitAsync(Patience, Ct)).Document);
        finished.Status.ShouldBe(RunStatus.Denied);
        finished.Reason.ShouldBe("denied by abe: a pentest");
        finished.Steps.ShouldAllBe(s => s.Status == StepStatus.Denied);
        Platform.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task AnUnansweredApproval_EscalatesOnce_ThenExpires_OnTheServersClock_AndTheRunIsDenied()
    {
        var run = await IncidentWithPlaybookAsync(0.6, RevokeBelowThreshold);
        var approvalId = RunState.Read(run.Document).ApprovalId!;
        var approvals = Server.Services.GetRequiredService<ApprovalService>();
        var approver = await Server.CreateIdentityTokenAsync("abe", Role.Approver);

        (await approvals.ExpireDueAsync(Ct)).ShouldBe(0);
        _time.Advance(TimeSpan.FromMinutes(15));
        await approvals.ExpireDueAsync(Ct);

        var escalated = Approval.Read((await Server.Store.GetApprovalAsync(approvalId, Ct))!);
        escalated.Status.ShouldBe(ApprovalStatus.Escalated);
        escalated.Roles.ShouldBe([Role.Admin]);
        escalated.ExpiresAt.ShouldBe(_time.GetUtcNow().AddMinutes(15));
        await AnswerAsync(approver, approvalId, "approve", HttpStatusCode.Forbidden);

        _time.Advance(TimeSpan.FromMinutes(15));
        await approvals.ExpireDueAsync(Ct);

        var finished = RunState.Read((await Executor.WhenFinishedAsync(run.Id, Ct).WaitAsync(Patience, Ct)).Document);
        finished.Status.ShouldBe(RunStatus.Denied);
        finished.Reason!.ShouldStartWith("approval expired");
        Platform.Requests.ShouldBeEmpty();
        using var admin = Server.CreateAdminClient();
        var audit = await admin.GetStringAsync("v1/audit?limit=1000", Ct);
        audit.ShouldContain("approval.escalate");
        audit.ShouldContain("approval.expire");
        audit.ShouldContain(Approval.SystemActor);
    }

    [Fact]
    public async Task TheExpirySweep_RunsByItselfOnTheServersClock()
    {
        var run = await IncidentWithPlaybookAsync(0.6, RevokeBelowThreshold.Replace("\"on_expiry\":\"escalate\",\"escalate_to\":[\"admin\"]", "\"on_expiry\":\"deny\"", StringComparison.Ordinal));

        _time.Advance(TimeSpan.FromMinutes(16));

        var finished = RunState.Read((await Executor.WhenFinishedAsync(run.Id, Ct).WaitAsync(Patience, Ct)).Document);
        finished.Status.ShouldBe(RunStatus.Denied);
        finished.Reason!.ShouldStartWith("approval expired");
    }

    [Fact]
    public async Task AStepThatRequiresApproval_WaitsAlone_WhileTheStepsBeforeItRun()
    {
        var run = await IncidentWithPlaybookAsync(0.95, """
            {"trigger":{"rules":["resets-per-ip"]},"auto_threshold":0.9,
             "steps":[{"id":"revoke","action":"platform.revoke_tokens","connector":"platform","for_each":"accounts"},
                      {"id":"suspend","action":"platform.suspend","connector":"platform","for_each":"accounts","depends_on":["revoke"],
                       "requires_approval":{"roles":["responder"],"ttl":"30m","on_expiry":"deny"},
                       "compensate":{"action":"platform.unsuspend"}}]}
            """);
        var responder = await Server.CreateIdentityTokenAsync("rita", Role.Responder);
        using var admin = Server.CreateAdminClient();

        var approval = await WaitForApprovalAsync(run.Id);
        approval.StepId.ShouldBe("suspend");
        Accounts.ShouldAllBe(a => Platform.SideEffects(a, "revoke_tokens") == 1);
        Accounts.ShouldAllBe(a => Platform.SideEffects(a, "suspend") == 0);

        await AnswerAsync(responder, approval.Id, "approve", HttpStatusCode.OK);

        (await Executor.WhenFinishedAsync(run.Id, Ct).WaitAsync(Patience, Ct)).Status.ShouldBe("succeeded");
        Accounts.ShouldAllBe(a => Platform.SideEffects(a, "suspend") == 1);
    }

    /// <summary>Waits until the run asks a step's question (the executor asks it once the steps before it succeeded).</summary>
    private async Task<Approval> WaitForApprovalAsync(string runId)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(Patience);
        while (true)
        {
            var changed = Executor.NextChange;
            var found = await Server.Store.ListApprovalsAsync("pending", runId, null, 10, timeout.Token);
            if (found.Count > 0)
            {
                return Approval.Read(found[0].Value);
            }

            await changed.WaitAsync(timeout.Token);
        }
    }

    private const string Reversible = """
        {"trigger":{"rules":["resets-per-ip"]},"auto_threshold":0.9,
         "steps":[{"id":"first","action":"http.request","connector":"partner","with":{"path":"/first"},"compensate":{"action":"http.request","with":{"path":"/first/undo"}}},
                  {"id":"second","action":"http.request","connector":"partner","depends_on":["first"],"for_each":"accounts","with":{"path":"/second/{{ target }}"},
                   "compensate":{"action":"http.request","with":{"path":"/second/{{ target }}/undo"}}},
                  {"id":"notify","action":"http.request","connector":"partner","depends_on":["second"],"with":{"path":"/notify"}}]}
        """;

    [Fact]
    public async Task Rollback_CallsTheCompensationsInReverseOrder_ExactlyOnce_EvenWhenAskedTwice()
    {
        var run = await IncidentWithPlaybookAsync(0.95, Reversible);
        (await Executor.WhenFinishedAsync(run.Id, Ct).WaitAsync(Patience, Ct)).Status.ShouldBe("succeeded");
        var responder = await Server.CreateIdentityTokenAsync("rita", Role.Responder);
        using var client = Server.CreateClient(responder);

        var first = await client.PostAsJsonAsync($"v1/incidents/{run.IncidentId}/rollback", new JsonObject { ["reason"] = "false positive" }, Ct);
        (await Http.ReadJsonAsync(first, HttpStatusCode.Accepted))["runs"]!.AsArray().ShouldHaveSingleItem()!["outcome"]!.GetValue<string>().ShouldBe("rolling_back");
        var rolledBack = RunState.Read((await Executor.WhenFinishedAsync(run.Id, Ct).WaitAsync(Patience, Ct)).Document);
        var again = await client.PostAsync($"v1/incidents/{run.IncidentId}/rollback", null, Ct);

        (await Http.ReadJsonAsync(again, HttpStatusCode.Accepted))["runs"]!.AsArray().ShouldHaveSingleItem()!["outcome"]!.GetValue<string>().ShouldBe("already_requested");
        rolledBack.Status.ShouldBe(RunStatus.RolledBack);
        rolledBack.Rollback!.RequestedBy.ShouldBe("rita");
        rolledBack.Reason!.ShouldContain("'notify' cannot be undone");
        rolledBack.Step("first")!.Status.ShouldBe(StepStatus.Compensated);
        rolledBack.Step("second")!.Status.ShouldBe(StepStatus.Compensated);
        rolledBack.Step("notify")!.Status.ShouldBe(StepStatus.Succeeded);
        var paths = _partner.Requests.Select(r => r.Path).ToList();
        paths.Count.ShouldBe(1 + 3 + 1 + 3 + 1);
        (paths[0], paths[4]).ShouldBe(("/hooks/bulwark/first", "/hooks/bulwark/notify"));
        paths.Skip(1).Take(3).Order().ShouldBe(Accounts.Select(a => $"/hooks/bulwark/second/{a}"));
        paths.Skip(5).Take(3).Order().ShouldBe(Accounts.Select(a => $"/hooks/bulwark/second/{a}/undo"));
        paths[^1].ShouldBe("/hooks/bulwark/first/undo");

        // Each compensation carries its own key, not the forward call's.
        var forwardKeys = _partner.Requests.Take(5).Select(r => r.Header("Idempotency-Key")).ToHashSet();
        _partner.Requests.Skip(5).ShouldAllBe(r => r.Header("Idempotency-Key") != null && !forwardKeys.Contains(r.Header("Idempotency-Key")));
        using var admin = Server.CreateAdminClient();
        var audit = await admin.GetStringAsync("v1/audit?limit=1000", Ct);
        audit.ShouldContain("incident.rollback");
        audit.ShouldContain("playbook.run.rolled_back");
    }

    [Fact]
    public async Task Rollback_OfARunWaitingForApproval_CancelsTheQuestion_AndCallsNothing()
    {
        var run = await IncidentWithPlaybookAsync(0.6, RevokeBelowThreshold);
        using var admin = Server.CreateAdminClient();

        (await admin.PostAsync($"v1/incidents/{run.IncidentId}/rollback", null, Ct)).StatusCode.ShouldBe(HttpStatusCode.Accepted);

        var finished = RunState.Read((await Executor.WhenFinishedAsync(run.Id, Ct).WaitAsync(Patience, Ct)).Document);
        finished.Status.ShouldBe(RunStatus.RolledBack);
        finished.Steps.ShouldAllBe(s => s.Status == StepStatus.Skipped);
        Approval.Read((await Server.Store.GetApprovalAsync(finished.ApprovalId!, Ct))!).Status.ShouldBe(ApprovalStatus.Cancelled);
        Platform.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task Rollback_NeedsTheRespondCapability_AndAnIncidentThatExists()
    {
        var viewer = await Server.CreateIdentityTokenAsync("vic", Role.Viewer);
        using var client = Server.CreateClient(viewer);
        using var admin = Server.CreateAdminClient();

        await Http.ReadProblemAsync(await client.PostAsync("v1/incidents/inc_absent/rollback", null, Ct), HttpStatusCode.Forbidden, "forbidden");
        await Http.ReadProblemAsync(await admin.PostAsync("v1/incidents/inc_absent/rollback", null, Ct), HttpStatusCode.NotFound, "not-found");
        await Http.ReadProblemAsync(await admin.PostAsync("v1/approvals/apr_absent/approve", null, Ct), HttpStatusCode.NotFound, "not-found");
        await Http.ReadProblemAsync(await admin.GetAsync("v1/approvals?status=maybe", Ct), HttpStatusCode.UnprocessableEntity, "validation");
    }
}
