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
    private static readonly TimeSpan Patience = ResponseServer.Patience;
    private readonly FakeTimeProvider _time = new();
    private ResponseServer _response = null!;
    private FakeSlack _slack = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private BulwarkTestServer Server => _response.Server;

    private FakePlatformApi Platform => _response.Platform;

    private RunExecutor Executor => _response.Executor;

    public async ValueTask InitializeAsync()
    {
        _slack = await FakeSlack.StartAsync();
        _response = await ResponseServer.StartAsync(_time);
        _response.Secrets["SLACK_WEBHOOK_URL"] = _slack.WebhookUrl;
    }

    public async ValueTask DisposeAsync()
    {
        await _response.DisposeAsync();
        await _slack.DisposeAsync();
    }

    /// <summary>A Slack connector, then three resets of the given accounts from one IP make one incident, whose run revokes each account's tokens.</summary>
    private async Task<string> RunAsync(string[] accounts, string retry, string breaker = "", string onFailure = "")
    {
        await _response.PutAsync("v1/connectors/slack", """{"type":"slack","secret":"env:SLACK_WEBHOOK_URL"}""");
        var playbook = $$"""
            {"trigger":{"rules":["resets-per-ip"]},"auto_threshold":0.9,
             "steps":[{"id":"revoke","action":"platform.revoke_tokens","connector":"platform","for_each":"accounts","retry":{{retry}}}]{{onFailure}}}
            """;
        return (await _response.IncidentAsync(0.95, playbook, accounts, breaker)).Id;
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
            var run = RunState.Read((await Server.Store.GetRunAsync(runId, timeout.Token))!.Document);
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
        Platform.FailNext(1, 429, retryAfter: TimeSpan.FromSeconds(30));
        Platform.FailNext(1, 503);

        var (run, waits) = await FinishAsync(await RunAsync(["acct_1"], """{"count":3,"initial":"10s","max":"60s","on":["429","5xx"]}"""));

        run.Status.ShouldBe(RunStatus.Succeeded, run.ToDocument().ToJsonString());
        var call = run.Steps.Single().Targets.ShouldHaveSingleItem();
        (call.Attempts, call.HttpStatus).ShouldBe((3, 200));
        waits[0].ShouldBe(TimeSpan.FromSeconds(30)); // Retry-After honoured exactly
        waits.Skip(1).ShouldAllBe(w => w <= TimeSpan.FromSeconds(20)); // then a jittered backoff under initial × 2
        Platform.Requests.Select(r => r.Header("Idempotency-Key")).Distinct().ShouldBe([call.IdempotencyKey]);
        Platform.Requests.Count.ShouldBe(3);
        Platform.SideEffects("acct_1", "revoke_tokens").ShouldBe(1);
    }

    [Fact]
    public async Task RetriesSpent_FailTheRunVisibly_OnItsTimeline_InTheMetrics_AndToPeopleThroughOnFailure()
    {
        Platform.FailNext(3, 500);

        var (run, _) = await FinishAsync(await RunAsync(
            ["acct_1"],
            """{"count":2,"initial":"1s","max":"4s","on":["5xx"]}""",
            onFailure: ""","on_failure":[{"id":"tell","action":"notify.slack","connector":"slack","with":{"text":"Containment failed: run {{run.id}}, incident {{incident.id}}"}}]"""));

        run.Status.ShouldBe(RunStatus.Failed);
        run.Reason.ShouldBe("step 'revoke' failed");
        run.Step("revoke")!.Targets.Single().Attempts.ShouldBe(3);
        using var admin = Server.CreateAdminClient();
        var incident = await Http.ReadJsonAsync(await admin.GetAsync($"v1/incidents/{run.IncidentId}", Ct));
        incident["timeline"]!.AsArray().Single(i => i!["kind"]!.GetValue<string>() == "run")!["run"]!["status"]!.GetValue<string>().ShouldBe("failed");
        (await admin.GetStringAsync("metrics", Ct)).ShouldContain("bulwark_playbook_runs_total{playbook=\"contain\",status=\"failed\"} 1");
        run.Step("tell")!.Status.ShouldBe(StepStatus.Succeeded);
        _slack.Posted.ShouldHaveSingleItem()["text"]!.GetValue<string>().ShouldBe($"Containment failed: run {run.Id}, incident {run.IncidentId}");
    }

    [Fact]
    public async Task AnOpenBreaker_FailsTheRetriesAtOnce_WithoutReachingTheService()
    {
        Platform.FailNext(10, 503);

        var (run, _) = await FinishAsync(await RunAsync(
            ["acct_1", "acct_2", "acct_3"], """{"count":2,"initial":"1s","max":"2s","on":["5xx"]}""", ""","breaker":{"failures":2,"open_for":"60s"}"""));

        run.Status.ShouldBe(RunStatus.Failed);
        var calls = run.Steps.Single().Targets;
        calls.ShouldAllBe(c => c.Status == StepStatus.Failed);
        // Only first attempts reached the service (those that started before two had failed); every retry was refused at once.
        Platform.Requests.Count.ShouldBeInRange(2, 3);
        calls.Sum(c => c.Attempts).ShouldBe(9);
        calls.ShouldAllBe(c => c.HttpStatus == null && c.Error!.StartsWith("circuit open for connector 'platform'", StringComparison.Ordinal));
    }
}
