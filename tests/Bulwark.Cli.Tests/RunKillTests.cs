using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.TestUtils;
using Bulwark.TestUtils.Fakes;

namespace Bulwark.Cli.Tests;

/// <summary>
/// The real executable SIGKILLed in the middle of a playbook run whose platform API is slow: after a restart the run
/// completes, and the platform (which honours <c>Idempotency-Key</c>) applied every side effect exactly once.
/// </summary>
public sealed class RunKillTests : IDisposable
{
    private const string Token = "bwk_run-kill-test-token-0123456789ab";
    private static readonly string[] Accounts = ["acct_1", "acct_2", "acct_3"];
    private readonly TempDirectory _directory = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task KillMinus9_WhileCallsAreInFlight_TheRunResumesAndNoSideEffectIsDoubled()
    {
        await using var platform = await FakePlatformApi.StartAsync();
        var environment = new Dictionary<string, string> { ["PLATFORM_TOKEN"] = platform.Token };

        // The revocations take effect at once but are answered only after 30 s: the kill lands while all three are in flight.
        platform.DelayNext(3, TimeSpan.FromSeconds(30));
        string runId;
        await using (var server = await ServerProcess.StartAsync(_directory.Path, bootstrapToken: Token, environment: environment))
        {
            using var admin = server.CreateClient(Token);
            await PutAsync(admin, "v1/rules/resets-per-ip", """
                {"type":"count","severity":"high","confidence":0.95,"group_by":["actor.ip"],"window":"1m","threshold":3,
                 "match":{"field":"event_type","equals":"password_reset"}}
                """);
            await PutAsync(admin, "v1/connectors/platform", $$"""
                {"type":"platform","platform":"instagram","url":"{{platform.BaseAddress}}","secret":"env:PLATFORM_TOKEN"}
                """);
            await PutAsync(admin, "v1/playbooks/contain", """
                {"trigger":{"rules":["resets-per-ip"]},"auto_threshold":0.9,
                 "steps":[{"id":"revoke","action":"platform.revoke_tokens","connector":"platform","for_each":"accounts","timeout":"60s"},
                          {"id":"expire","action":"platform.expire_sessions","connector":"platform","for_each":"accounts","depends_on":["revoke"]}]}
                """);
            var events = Accounts.Select((a, i) => TestEvents.Json($"e-{i}", a, "203.0.113.9", "password_reset", $"2026-03-02T01:00:0{i}.000Z"));
            using var pushed = await admin.PostAsync("v1/events", new StringContent("[" + string.Join(",", events) + "]", Encoding.UTF8, "application/json"), Ct);
            pushed.StatusCode.ShouldBe(HttpStatusCode.OK, await pushed.Content.ReadAsStringAsync(Ct));

            await platform.WaitForRequestsAsync(3, Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);
            runId = (await RunAsync(admin))["id"]!.GetValue<string>();
            await server.KillHardAsync();
        }

        Accounts.ShouldAllBe(a => platform.SideEffects(a, "revoke_tokens") == 1);
        await using var restarted = await ServerProcess.StartAsync(_directory.Path, bootstrapToken: Token, environment: environment);
        using var reader = restarted.CreateClient(Token);

        // The server is another process: poll its API (real time) until the run ends.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        JsonNode run;
        while ((run = JsonNode.Parse(await reader.GetStringAsync($"v1/runs/{runId}", timeout.Token))!)["status"]!.GetValue<string>() is "running")
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), timeout.Token);
        }

        run["status"]!.GetValue<string>().ShouldBe("succeeded", run.ToJsonString());
        foreach (var account in Accounts)
        {
            platform.SideEffects(account, "revoke_tokens").ShouldBe(1);
            platform.SideEffects(account, "expire_sessions").ShouldBe(1);
        }

        // Each revocation whose outcome the kill left unknown was made again, with its first key.
        var revokes = platform.Requests.Where(r => r.Path.EndsWith("/revoke_tokens", StringComparison.Ordinal)).ToList();
        revokes.Count.ShouldBe(6);
        revokes.GroupBy(r => r.Header("Idempotency-Key")).ShouldAllBe(g => g.Count() == 2);
        run["steps"]![0]!["targets"]!.AsArray().ShouldAllBe(t => t!["attempts"]!.GetValue<int>() == 2);
    }

    private static async Task PutAsync(HttpClient admin, string path, string body)
    {
        using var response = await admin.PutAsync(path, new StringContent(body, Encoding.UTF8, "application/json"), Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
    }

    private static async Task<JsonNode> RunAsync(HttpClient admin)
    {
        var runs = JsonNode.Parse(await admin.GetStringAsync("v1/runs", Ct))!["items"]!.AsArray();
        return runs.ShouldHaveSingleItem()!;
    }
}
