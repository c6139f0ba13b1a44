using System.Net;
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
/// A failing outside service, seen from a run: 429 with <c>Retry-After</c> and 5xx are retried on the server's clock
/// with the same idempotency key; an open breaker fails the rest at once and the run fails visibly.
/// </summary>
public sealed class RunRetryTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _data = new();
    private readonly TestSecrets _secrets = new();
    private readonly FakeTimeProvider _time = new();
    private BulwarkTestServer _server = null!;
    private FakePlatformApi _platform = null!;
    private FakeSlack _slack = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private RunExecutor Executor => _server.Services.GetRequiredService<RunExecutor>();

    public async ValueTask InitializeAsync()
    {
        _platform = await FakePlatformApi.StartAsync();
        _slack = await FakeSlack.StartAsync();
        _secrets["PLATFORM_TOKEN"] = _platform.Token;
        _secrets["SLACK_WEBHOOK_URL"] = _slack.WebhookUrl;
        _server = await BulwarkTestServer.StartAsync(_data.Path, time: _time, services: s => s.AddSingleton<ISecretResolver>(_secrets));
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        await _platform.DisposeAsync();
        await _slack.DisposeAsync();
        _data.Dispose();
    }

    /// <summary>Three resets of the given accounts from one IP make one incident, whose run revokes each account's tokens.</summary>
    private async Task<string> RunAsync(string[] accounts, string retry, string breaker = "", string onFailure = "")
    {
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("v1/rules/resets-per-ip", BulwarkTestServer.Json("""
            {"type":"count","severity":"high","confidence":0.95,"group_by":["actor.ip"],"window":"1m","threshold":3,
             "match":{"field":"event_type","equals":"password_reset"}}
            """), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await admin.PutAsync("v1/connectors/platform", BulwarkTestServer.Json($$"""
            {"type":"platform","platform":"instagram","url":"{{_platform.BaseAddress}}","secret":"env:PLATFORM_TOKEN"{{breaker}}}
            """), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await admin.PutAsync("v1/playbooks/contain", BulwarkTestServer.Json($$"""
            {"trigger":{"rules":["resets-per-ip"]},"auto_threshold":0.9,
             "steps":[{"id":"revoke","action":"platform.revoke_tokens","connector":"platform","for_each":"accounts","retry":{{retry}}}]{{onFailure}}}
            """), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await admin.PutAsync("v1/connectors/slack", BulwarkTestServer.Json("""{"type":"slack","secret":"env:SLACK_WEBHOOK_URL"}"""), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);

        var events = Enumerable.Range(0, 3).Select(i => TestEvents.Json($"e-{i}", accounts[i % accounts.Length], "203.0.113.9", "password_reset", $"2026-03-02T01:00:0{i}.000Z"));
        (await Http.ReadJsonAsync(await admin.PostAsync("v1/events", IngestServer.Body("[" + string.Join(",", events) + "]"), Ct)))["accepted"]!.GetValue<int>().ShouldBe(3);
        await _server.Services.GetRequiredService<DetectionPipeline>()
            .WhenHandledAsync(_server.Services.GetRequiredService<IEventStore>().LastOffset, Ct)
            .WaitAsync(Patience, Ct);
        return (await _server.Store.ListRunsAsync(new RunQuery(), Ct)).ShouldHaveSingleItem().Value.Id;
    }

    /// <summary>
    /// Drives the fake clock until the run ends: whenever a call waits for a retry, the clock moves to its due time (and
    /// the list of due times is returned, as offsets from the call's last attempt, for the test to check).
    /// </summary>
    private async Task<(RunState Run, List<TimeSpan> Waits)> FinishAsync(string runId)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(Patience);
        var waits = new List<TimeSpan>();
        while (true)
        {
            var changed = Executor.NextChange;
            var run = RunState.Read((await _server.Store.GetRunAsync(runId, timeout.Token))!.Document);
            if (run.Finished)
            {
                return (run, waits);
            }

            var due = run.Steps.SelectMany(s => s.Targets).Where(t => t.Status == StepStatus.Pending && t.NextAttemptAt > _time.GetUtcNow()).Select(t => t.NextAttemptAt!.Value).ToList();
            if (due.Count > 0)
            {
                waits.Add(due.Min() - _time.GetUtcNow());
                _time.Advance(due.Min() - _time.GetUtcNow());
            }

            await changed.WaitAsync(timeout.Token);
        }
    }

    [Fact]
    public async Task A429WithRetryAfter_ThenA5xx_AreRetriedOnTheServersClock_WithTheSameKey_AndActOnce()
    {
        _platform.FailNext(1, 429, retryAfter: TimeSpan.FromSeconds(30));
        _platform.FailNext(1, 503);

        var (run, waits) = await FinishAsync(await RunAsync(["acct_1"], """{"count":3,"initial":"10s","max":"60s","on":["429","5xx"]}"""));

        run.Status.ShouldBe(RunStatus.Succeeded, run.ToDocument().ToJsonString());
        var call = run.Steps.Single().Targets.ShouldHaveSingleItem();
        (call.Attempts, call.HttpStatus).ShouldBe((3, 200));
        waits[0].ShouldBe(TimeSpan.FromSeconds(30)); // Retry-After honoured exactly
        waits.Skip(1).ShouldAllBe(w => w <= TimeSpan.FromSeconds(20)); // then a jittered backoff under initial × 2
        _platform.Requests.Select(r => r.Header("Idempotency-Key")).Distinct().ShouldBe([call.IdempotencyKey]);
        _platform.Requests.Count.ShouldBe(3);
        _platform.SideEffects("acct_1", "revoke_tokens").ShouldBe(1);
    }

    [Fact]
    public async Task RetriesSpent_FailTheRunVisibly_OnItsTimeline_InTheMetrics_AndToPeopleThroughOnFailure()
    {
        _platform.FailNext(3, 500);

        var (run, _) = await FinishAsync(await RunAsync(
            ["acct_1"],
            """{"count":2,"initial":"1s","max":"4s","on":["5xx"]}""",
            onFailure: ""","on_failure":[{"id":"tell","action":"notify.slack","connector":"slack","with":{"text":"Containment failed: run {{run.id}}, incident {{incident.id}}"}}]"""));

        run.Status.ShouldBe(RunStatus.Failed);
        run.Reason.ShouldBe("step 'revoke' failed");
        run.Step("revoke")!.Targets.Single().Attempts.ShouldBe(3);
        using var admin = _server.CreateAdminClient();
        var incident = await Http.ReadJsonAsync(await admin.GetAsync($"v1/incidents/{run.IncidentId}", Ct));
        incident["timeline"]!.AsArray().Single(i => i!["kind"]!.GetValue<string>() == "run")!["run"]!["status"]!.GetValue<string>().ShouldBe("failed");
        (await admin.GetStringAsync("metrics", Ct)).ShouldContain("bulwark_playbook_runs_total{playbook=\"contain\",status=\"failed\"} 1");
        run.Step("tell")!.Status.ShouldBe(StepStatus.Succeeded);
        _slack.Posted.ShouldHaveSingleItem()["text"]!.GetValue<string>().ShouldBe($"Containment failed: run {run.Id}, incident {run.IncidentId}");
    }

    [Fact]
    public async Task AnOpenBreaker_FailsTheRetriesAtOnce_WithoutReachingTheService()
    {
        _platform.FailNext(10, 503);

        var (run, _) = await FinishAsync(await RunAsync(
            ["acct_1", "acct_2", "acct_3"], """{"count":2,"initial":"1s","max":"2s","on":["5xx"]}""", ""","breaker":{"failures":2,"open_for":"60s"}"""));

        run.Status.ShouldBe(RunStatus.Failed);
        var calls = run.Steps.Single().Targets;
        calls.ShouldAllBe(c => c.Status == StepStatus.Failed);
        // Only first attempts reached the service (those that started before two had failed); every retry was refused at once.
        _platform.Requests.Count.ShouldBeInRange(2, 3);
        calls.Sum(c => c.Attempts).ShouldBe(9);
        calls.ShouldAllBe(c => c.HttpStatus == null && c.Error!.StartsWith("circuit open for connector 'platform'", StringComparison.Ordinal));
    }
}
