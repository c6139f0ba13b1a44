using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Server.Detection;
using Bulwark.Server.Ingest;
using Bulwark.Server.Response;
using Bulwark.TestUtils;
using Bulwark.TestUtils.Fakes;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Cli.Tests;

/// <summary><c>bulwark runs …</c> and <c>bulwark incidents rollback</c> against a server on loopback and a fake platform API.</summary>
public sealed class ResponseCommandTests : IAsyncLifetime
{
    private static readonly string[] Accounts = ["acct_1", "acct_2", "acct_3"];
    private readonly TestSecrets _secrets = new();
    private BulwarkTestServer _server = null!;
    private FakePlatformApi _platform = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _platform = await FakePlatformApi.StartAsync();
        _secrets["PLATFORM_TOKEN"] = _platform.Token;
        _server = await BulwarkTestServer.StartAsync(services: s => s.AddSingleton<ISecretResolver>(_secrets));
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        await _platform.DisposeAsync();
    }

    private Task<(int Exit, string Out, string Err)> RunAsync(string token, params string[] args) => CliRunner.RunAsync(_server.BaseAddress, token, args);

    private Task<(int Exit, string Out, string Err)> AdminAsync(params string[] args) => RunAsync(BulwarkTestServer.AdminToken, args);

    [Fact]
    public async Task ARunWaitingForApproval_IsListed_ApprovedByRunId_ShownStepByStep_AndRolledBack()
    {
        using (var admin = _server.CreateAdminClient())
        {
            (await admin.PutAsync("v1/rules/resets-per-ip", BulwarkTestServer.Json("""
                {"type":"count","severity":"high","confidence":0.7,"group_by":["actor.ip"],"window":"1m","threshold":3,"match":{"field":"event_type","equals":"password_reset"}}
                """), Ct)).EnsureSuccessStatusCode();
            (await admin.PutAsync("v1/connectors/platform", BulwarkTestServer.Json($$"""
                {"type":"platform","platform":"instagram","url":"{{_platform.BaseAddress}}","secret":"env:PLATFORM_TOKEN"}
                """), Ct)).EnsureSuccessStatusCode();
            (await admin.PutAsync("v1/playbooks/contain", BulwarkTestServer.Json("""
                {"trigger":{"rules":["resets-per-ip"]},"auto_threshold":0.9,
                 "steps":[{"id":"suspend","action":"platform.suspend","connector":"platform","for_each":"accounts","with":{"duration":"24h"},"compensate":{"action":"platform.unsuspend"}}]}
                """), Ct)).EnsureSuccessStatusCode();
            var events = Enumerable.Range(1, 3).Select(i => TestEvents.Json($"e-{i}", $"acct_{i}", "203.0.113.9", "password_reset", $"2026-03-02T01:00:0{i}.000Z"));
            (await admin.PostAsync("v1/events", new StringContent("[" + string.Join(",", events) + "]", System.Text.Encoding.UTF8, "application/json"), Ct)).EnsureSuccessStatusCode();
        }

        await _server.Services.GetRequiredService<DetectionPipeline>()
            .WhenHandledAsync(_server.Services.GetRequiredService<IEventStore>().LastOffset, Ct)
            .WaitAsync(TimeSpan.FromSeconds(30), Ct);

        var (_, listed, _) = await AdminAsync("runs", "list", "--status", "waiting_approval", "--json");
        var run = JsonNode.Parse(listed)!["items"]!.AsArray().ShouldHaveSingleItem()!;
        var runId = run["id"]!.GetValue<string>();
        var incidentId = run["incident_id"]!.GetValue<string>();
        var (_, approvals, _) = await AdminAsync("runs", "approvals", "--status", "pending");
        approvals.ShouldContain(runId);
        approvals.ShouldContain("responder");

        var viewer = await _server.CreateIdentityTokenAsync("vic", Role.Viewer);
        var responder = await _server.CreateIdentityTokenAsync("rita", Role.Responder);
        var (refused, _, refusedError) = await RunAsync(viewer, "runs", "approve", runId);
        refused.ShouldBe(1);
        refusedError.ShouldContain("responder");
        var (approved, approvedOut, approvedError) = await RunAsync(responder, "runs", "approve", runId, "--note", "checked");
        approved.ShouldBe(0, approvedError);
        approvedOut.ShouldContain("approved by rita");
        var (nothing, _, nothingError) = await RunAsync(responder, "runs", "deny", runId);
        nothing.ShouldBe(2);
        nothingError.ShouldContain("waits for no approval");

        await _server.Services.GetRequiredService<RunExecutor>().WhenFinishedAsync(runId, Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var (_, shown, _) = await AdminAsync("runs", "get", runId);
        shown.ShouldContain("succeeded");
        shown.ShouldContain("3 succeeded");

        var (rolledBack, rollbackOut, rollbackError) = await RunAsync(responder, "incidents", "rollback", incidentId, "--reason", "false positive", "--wait");
        rolledBack.ShouldBe(0, rollbackError);
        rollbackOut.ShouldContain("rolled_back");
        var (_, again, _) = await RunAsync(responder, "incidents", "rollback", incidentId);
        again.ShouldContain("already_requested");
        Accounts.ShouldAllBe(a => _platform.SideEffects(a, "unsuspend") == 1);
        var (drilled, drillOut, drillError) = await RunAsync(responder, "runs", "start", "--incident", incidentId, "--playbook", "contain", "--dry-run");
        drilled.ShouldBe(0, drillError);
        drillOut.ShouldContain("(dry run)");
        var drillId = drillOut.Split(' ')[0];
        await _server.Services.GetRequiredService<RunExecutor>().WhenFinishedAsync(drillId, Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Accounts.ShouldAllBe(a => _platform.SideEffects(a, "suspend") == 1); // the drill called nothing
        var (_, compensated, _) = await AdminAsync("runs", "get", runId);
        compensated.ShouldContain("3 succeeded"); // the compensations column
        compensated.ShouldContain("compensated");
    }
}
