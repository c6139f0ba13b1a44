using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Identity;
using Bulwark.Response;
using Bulwark.Server.Response;
using Bulwark.Server.Tests.Response.Connectors;
using Bulwark.Server.Throttles;
using Bulwark.TestUtils;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Response;

/// <summary>
/// <c>throttle.block</c> and <c>throttle.unblock</c> through their handler, and manual blocks through the API, on a
/// real server over SQLite on a fake clock: the block denies that key only, lapses, survives a restart, and its
/// compensation restores what the key had.
/// </summary>
public sealed class ThrottleBlockTests : IAsyncLifetime
{
    private const string Login = """
        { "layers": [ { "key": "ip", "limit": 1000, "per": "1m" }, { "key": "user", "limit": 1000, "per": "1m" } ] }
        """;

    private static readonly string[] Accounts = ["acct_1", "acct_2", "acct_3"];
    private readonly TempDirectory _data = new();
    private readonly FakeTimeProvider _time = new();
    private BulwarkTestServer _server = null!;
    private string _responder = null!;
    private string _viewer = null!;
    private int _calls;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private BuiltInActions Sut => _server.Services.GetServices<IActionHandler>().OfType<BuiltInActions>().Single();

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(_data.Path, time: _time);
        _responder = await _server.CreateIdentityTokenAsync("oncall", Role.Responder);
        _viewer = await _server.CreateIdentityTokenAsync("app", Role.Viewer);
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("/v1/throttles/login", BulwarkTestServer.Json(Login), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _data.Dispose();
    }

    private async Task RestartAsync()
    {
        await _server.DisposeAsync();
        _server = await BulwarkTestServer.StartAsync(_data.Path, time: _time);
    }

    /// <summary>A call of the run's step for a target, with the idempotency key the executor would give it.</summary>
    private ActionCall Call(string action, string target, JsonObject parameters, string step = "block", JsonObject? previous = null) => new()
    {
        RunId = "run_1",
        Playbook = "contain",
        StepId = step,
        Action = action,
        Target = target,
        IdempotencyKey = RunPlanner.IdempotencyKey("run_1", step, target) + (step.EndsWith(".compensate", StringComparison.Ordinal) ? string.Empty : "#" + Interlocked.Increment(ref _calls)),
        CorrelationId = "inc_01JTAKEOVER",
        Parameters = parameters,
        Incident = ConnectorKit.Incident(),
        Timeout = TimeSpan.FromSeconds(5),
        Previous = previous,
    };

    /// <summary>The forward call whose key is what the compensation derives for its step and target.</summary>
    private static ActionCall Forward(ActionCall call) => call with { IdempotencyKey = RunPlanner.IdempotencyKey(call.RunId, call.StepId, call.Target) };

    private static JsonObject With(string json) => JsonNode.Parse(json)!.AsObject();

    private async Task<JsonObject> CheckAsync(string keys, HttpStatusCode expected)
    {
        using var app = _server.CreateClient(_viewer);
        using var response = await app.PostAsync("/v1/throttles/login/check", BulwarkTestServer.Json($$"""{"keys":{{keys}}}"""), Ct);
        return expected == HttpStatusCode.OK
            ? (await Http.ReadJsonAsync(response)).AsObject()
            : await Http.ReadProblemAsync(response, expected, "rate-limited");
    }

    private async Task<List<string>> AuditActionsAsync()
    {
        using var admin = _server.CreateAdminClient();
        var audit = await Http.ReadJsonAsync(await admin.GetAsync("/v1/audit?limit=1000", Ct));
        return [.. audit["items"]!.AsArray().Select(e => e!["action"]!.GetValue<string>()).Where(a => a.StartsWith("throttle.", StringComparison.Ordinal) && a != "throttle.create")];
    }

    private static string Time(DateTimeOffset at) => AuditChain.FormatTime(at);

    [Fact]
    public async Task Block_DeniesChecksForThatKeyOnly_SaysSoAndUntilWhen_AndLapsesOnTheServersClock()
    {
        var start = _time.GetUtcNow();

        var outcome = await Sut.ExecuteAsync(Call("throttle.block", "acct_1", With("""{"throttle":"login","for":"1h","reason":"takeover"}""")), Ct);

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        outcome.Output!.ToJsonString().ShouldBe(new JsonObject { ["throttle"] = "login", ["key"] = "acct_1", ["blocked_until"] = Time(start.AddHours(1)), ["previous_until"] = null }.ToJsonString());
        var denied = await CheckAsync("""{"ip":"198.51.100.7","user":"acct_1"}""", HttpStatusCode.TooManyRequests);
        (denied["decision"]!.GetValue<string>(), denied["reason"]!.GetValue<string>(), denied["block"]!.GetValue<string>(), denied["until"]!.GetValue<string>(), denied["layer"]!.GetValue<string>())
            .ShouldBe(("block", "blocked", "manual", Time(start.AddHours(1)), "user"));
        denied["retry_after_ms"]!.GetValue<long>().ShouldBe(3_600_000);
        (await CheckAsync("""{"ip":"198.51.100.7","user":"acct_2"}""", HttpStatusCode.OK))["decision"]!.GetValue<string>().ShouldBe("allow");
        (await CheckAsync("""{"ip":"198.51.100.7"}""", HttpStatusCode.OK))["reason"]!.GetValue<string>().ShouldBe("none");

        _time.Advance(TimeSpan.FromMinutes(59));
        await CheckAsync("""{"user":"acct_1"}""", HttpStatusCode.TooManyRequests);
        _time.Advance(TimeSpan.FromMinutes(1));
        (await CheckAsync("""{"user":"acct_1"}""", HttpStatusCode.OK))["decision"]!.GetValue<string>().ShouldBe("allow");
        (await AuditActionsAsync()).ShouldBe(["throttle.block"]);
    }

    [Fact]
    public async Task Block_ByDefaultBlocksTheTargetForADay_AnAddressBlocksItsIpLayer()
    {
        var start = _time.GetUtcNow();

        var outcome = await Sut.ExecuteAsync(Call("throttle.block", "203.0.113.9", With("""{"throttle":"login"}""")), Ct);

        outcome.Output!["blocked_until"]!.GetValue<string>().ShouldBe(Time(start.AddDays(1)));
        (await CheckAsync("""{"ip":"203.0.113.9","user":"acct_1"}""", HttpStatusCode.TooManyRequests))["layer"]!.GetValue<string>().ShouldBe("ip");
        await CheckAsync("""{"ip":"203.0.113.10","user":"acct_1"}""", HttpStatusCode.OK);
    }

    [Fact]
    public async Task Block_RepeatedWithTheSameIdempotencyKey_IsHarmless_AndAnotherBlockExtendsToTheLaterExpiry()
    {
        var start = _time.GetUtcNow();
        var first = Call("throttle.block", "acct_1", With("""{"throttle":"login","key":"acct_1","for":"1h"}"""));
        var once = await Sut.ExecuteAsync(first, Ct);

        _time.Advance(TimeSpan.FromMinutes(10));
        var again = await Sut.ExecuteAsync(first, Ct);
        var longer = await Sut.ExecuteAsync(Call("throttle.block", "acct_1", With("""{"throttle":"login","for":"2h"}""")), Ct);
        var shorter = await Sut.ExecuteAsync(Call("throttle.block", "acct_1", With("""{"throttle":"login","for":"5m"}""")), Ct);

        again.Output!.ToJsonString().ShouldBe(once.Output!.ToJsonString());
        (longer.Output!["blocked_until"]!.GetValue<string>(), longer.Output["previous_until"]!.GetValue<string>())
            .ShouldBe((Time(start.AddMinutes(130)), Time(start.AddHours(1))));
        (shorter.Output!["blocked_until"]!.GetValue<string>(), shorter.Output["previous_until"]!.GetValue<string>())
            .ShouldBe((Time(start.AddMinutes(130)), Time(start.AddMinutes(130))));
        (await CheckAsync("""{"user":"acct_1"}""", HttpStatusCode.TooManyRequests))["until"]!.GetValue<string>().ShouldBe(Time(start.AddMinutes(130)));
        (await AuditActionsAsync()).ShouldBe(["throttle.block", "throttle.block"]);
    }

    [Fact]
    public async Task Compensation_RestoresTheBlockTheKeyHad_OrLiftsIt_AndASecondOneChangesNothing()
    {
        var start = _time.GetUtcNow();
        using var oncall = _server.CreateClient(_responder);
        (await oncall.PutAsync("/v1/throttles/login/blocks/acct_1", BulwarkTestServer.Json("""{"for":"1h","reason":"reported by the owner"}"""), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        var extended = await Sut.ExecuteAsync(Forward(Call("throttle.block", "acct_1", With("""{"throttle":"login","for":"1d"}"""))), Ct);
        var fresh = await Sut.ExecuteAsync(Forward(Call("throttle.block", "acct_2", With("""{"throttle":"login","for":"1d"}"""))), Ct);
        extended.Output!["previous_until"]!.GetValue<string>().ShouldBe(Time(start.AddHours(1)));

        // As the executor calls a compensation: the rendered 'with' of `compensate` (empty here) and the forward output.
        var restored = await Sut.ExecuteAsync(Call("throttle.unblock", "acct_1", [], "block.compensate", extended.Output), Ct);
        var lifted = await Sut.ExecuteAsync(Call("throttle.unblock", "acct_2", [], "block.compensate", fresh.Output), Ct);
        var twice = await Sut.ExecuteAsync(Call("throttle.unblock", "acct_1", [], "block.compensate", extended.Output), Ct);

        (restored.Output!["outcome"]!.GetValue<string>(), restored.Output["blocked_until"]!.GetValue<string>()).ShouldBe(("restored", Time(start.AddHours(1))));
        lifted.Output!["outcome"]!.GetValue<string>().ShouldBe("lifted");
        twice.Output!["outcome"]!.GetValue<string>().ShouldBe("left");
        (await CheckAsync("""{"user":"acct_1"}""", HttpStatusCode.TooManyRequests))["until"]!.GetValue<string>().ShouldBe(Time(start.AddHours(1)));
        await CheckAsync("""{"user":"acct_2"}""", HttpStatusCode.OK);
        (await AuditActionsAsync()).ShouldBe(["throttle.block", "throttle.block", "throttle.block", "throttle.unblock", "throttle.unblock"]);
    }

    [Fact]
    public async Task Compensation_LeavesABlockSomeoneChangedSince_AndFindsItsOwnBlockWhenTheForwardOutputWasLost()
    {
        var start = _time.GetUtcNow();
        var changed = await Sut.ExecuteAsync(Forward(Call("throttle.block", "acct_1", With("""{"throttle":"login","for":"1h"}"""))), Ct);
        using var oncall = _server.CreateClient(_responder);
        (await oncall.PutAsync("/v1/throttles/login/blocks/acct_1", BulwarkTestServer.Json("""{"for":"7d","reason":"confirmed takeover"}"""), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        await Sut.ExecuteAsync(Forward(Call("throttle.block", "acct_2", With("""{"throttle":"login","for":"1h"}"""))), Ct);

        var left = await Sut.ExecuteAsync(Call("throttle.unblock", "acct_1", [], "block.compensate", changed.Output), Ct);
        var lost = await Sut.ExecuteAsync(Call("throttle.unblock", "acct_2", With("""{"throttle":"login"}"""), "block.compensate", previous: null), Ct);

        left.Output!["outcome"]!.GetValue<string>().ShouldBe("left");
        (await CheckAsync("""{"user":"acct_1"}""", HttpStatusCode.TooManyRequests))["until"]!.GetValue<string>().ShouldBe(Time(start.AddDays(7)));
        lost.Output!["outcome"]!.GetValue<string>().ShouldBe("lifted");
        await CheckAsync("""{"user":"acct_2"}""", HttpStatusCode.OK);
    }

    [Fact]
    public async Task APlaybookBlocksTheIncidentsAccounts_AndItsRollbackRestoresWhatEachHad()
    {
        var start = _time.GetUtcNow();
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("v1/rules/resets-per-ip", BulwarkTestServer.Json("""
            {"type":"count","severity":"high","confidence":0.95,"group_by":["actor.ip"],"window":"1m","threshold":3,
             "match":{"field":"event_type","equals":"password_reset"}}
            """), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await admin.PutAsync("v1/playbooks/contain", BulwarkTestServer.Json("""
            {"trigger":{"rules":["resets-per-ip"]},"auto_threshold":0.9,
             "steps":[{"id":"block","action":"throttle.block","for_each":"accounts","with":{"throttle":"login","for":"1d","reason":"incident {{incident.id}}"},
                       "compensate":{"action":"throttle.unblock","with":{}}}]}
            """), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        using var oncall = _server.CreateClient(_responder);
        (await oncall.PutAsync("/v1/throttles/login/blocks/acct_1", BulwarkTestServer.Json("""{"for":"1h","reason":"reported by the owner"}"""), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);

        var events = Accounts.Select((a, i) => TestEvents.Json($"e-{i}", a, "203.0.113.9", "password_reset", $"2026-03-02T01:00:0{i}.000Z"));
        (await Http.ReadJsonAsync(await admin.PostAsync("v1/events", Ingest.IngestServer.Body("[" + string.Join(",", events) + "]"), Ct)))["accepted"]!.GetValue<int>().ShouldBe(3);
        await _server.Services.GetRequiredService<Bulwark.Server.Detection.DetectionPipeline>()
            .WhenHandledAsync(_server.Services.GetRequiredService<Bulwark.Ingest.IEventStore>().LastOffset, Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var executor = _server.Services.GetRequiredService<RunExecutor>();
        var started = (await _server.Store.ListRunsAsync(new RunQuery(), Ct)).ShouldHaveSingleItem().Value;
        var run = await executor.WhenFinishedAsync(started.Id, Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        run.Status.ShouldBe("succeeded", run.Document.ToJsonString());
        foreach (var account in Accounts)
        {
            (await CheckAsync($$"""{"user":"{{account}}"}""", HttpStatusCode.TooManyRequests))["until"]!.GetValue<string>().ShouldBe(Time(start.AddDays(1)));
        }

        (await oncall.PostAsync($"v1/incidents/{run.IncidentId}/rollback", BulwarkTestServer.Json("""{"reason":"false positive"}"""), Ct)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var rolledBack = await executor.WhenFinishedAsync(run.Id, Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        rolledBack.Status.ShouldBe("rolled_back", rolledBack.Document.ToJsonString());
        (await CheckAsync("""{"user":"acct_1"}""", HttpStatusCode.TooManyRequests))["until"]!.GetValue<string>().ShouldBe(Time(start.AddHours(1)));
        await CheckAsync("""{"user":"acct_2"}""", HttpStatusCode.OK);
        await CheckAsync("""{"user":"acct_3"}""", HttpStatusCode.OK);
        (await _server.Store.ListThrottleBlocksAsync("login", Ct)).Select(b => b.Key).ShouldBe(["acct_1"]);
    }

    [Fact]
    public async Task Unblock_LiftsTheBlock_AndUnblockingAKeyThatIsNotBlockedSucceeds()
    {
        await Sut.ExecuteAsync(Call("throttle.block", "acct_1", With("""{"throttle":"login"}""")), Ct);

        var lifted = await Sut.ExecuteAsync(Call("throttle.unblock", "acct_1", With("""{"throttle":"login"}"""), "lift"), Ct);
        var again = await Sut.ExecuteAsync(Call("throttle.unblock", "acct_1", With("""{"throttle":"login"}"""), "lift"), Ct);

        (lifted.Succeeded, lifted.Output!["outcome"]!.GetValue<string>()).ShouldBe((true, "lifted"));
        (again.Succeeded, again.Output!["outcome"]!.GetValue<string>()).ShouldBe((true, "not_blocked"));
        await CheckAsync("""{"user":"acct_1"}""", HttpStatusCode.OK);
        (await AuditActionsAsync()).ShouldBe(["throttle.block", "throttle.unblock"]);
    }

    [Theory]
    [InlineData("throttle.block", """{"throttle":"absent"}""", "does not exist")]
    [InlineData("throttle.block", """{}""", "needs 'throttle'")]
    [InlineData("throttle.block", """{"throttle":"login","for":"31d"}""", "from 1s to 30d")]
    [InlineData("throttle.block", """{"throttle":"login","for":"soon"}""", "'soon'")]
    [InlineData("throttle.block", """{"throttle":"login","key":"203.0.113.0/16"}""", "203.0.113.0/24")]
    [InlineData("throttle.unblock", """{"throttle":"absent"}""", "does not exist")]
    public async Task BadInput_FailsAtOnce_WithoutRetries_AndChangesNothing(string action, string with, string error)
    {
        var outcome = await Sut.ExecuteAsync(Call(action, "acct_1", With(with)), Ct);

        (outcome.Succeeded, outcome.Failure).ShouldBe((false, RetryOn.None));
        outcome.Error!.ShouldContain(error);
        (await _server.Store.ListThrottleBlocksAsync(null, Ct)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Block_SurvivesARestart_AndLapsesAfterIt()
    {
        await Sut.ExecuteAsync(Call("throttle.block", "acct_1", With("""{"throttle":"login","for":"2h"}""")), Ct);

        await RestartAsync();

        await CheckAsync("""{"user":"acct_1"}""", HttpStatusCode.TooManyRequests);
        await CheckAsync("""{"user":"acct_2"}""", HttpStatusCode.OK);
        _time.Advance(TimeSpan.FromHours(2));
        await CheckAsync("""{"user":"acct_1"}""", HttpStatusCode.OK);
    }

    [Fact]
    public async Task Api_PutCreatesThenExtends_ListsBesideEscalationBlocks_AndDeleteLiftsIt_AllAudited()
    {
        var start = _time.GetUtcNow();
        using var oncall = _server.CreateClient(_responder);
        using var app = _server.CreateClient(_viewer);

        using var created = await oncall.PutAsync("/v1/throttles/login/blocks/198.51.100.0%2F24", BulwarkTestServer.Json("""{"for":"1h","reason":"scanner"}"""), Ct);
        var block = (await Http.ReadJsonAsync(created, HttpStatusCode.Created)).AsObject();
        using var extended = await oncall.PutAsync("/v1/throttles/login/blocks/198.51.100.0/24", BulwarkTestServer.Json("""{"for":"3h","reason":"still scanning"}"""), Ct);
        var longer = (await Http.ReadJsonAsync(extended)).AsObject();
        using var unchanged = await oncall.PutAsync("/v1/throttles/login/blocks/acct_9", BulwarkTestServer.Json("""{"reason":"default duration"}"""), Ct);
        (await Http.ReadJsonAsync(unchanged, HttpStatusCode.Created))["until"]!.GetValue<string>().ShouldBe(Time(start.AddDays(1)));

        (block["kind"]!.GetValue<string>(), block["key"]!.GetValue<string>(), block["until"]!.GetValue<string>(), block["by"]!.GetValue<string>(), block["reason"]!.GetValue<string>())
            .ShouldBe(("manual", "198.51.100.0/24", Time(start.AddHours(1)), "oncall", "scanner"));
        block["previous_until"].ShouldBeNull();
        created.Headers.Location!.ToString().ShouldBe("/v1/throttles/login/blocks/198.51.100.0%2F24");
        (longer["until"]!.GetValue<string>(), longer["previous_until"]!.GetValue<string>()).ShouldBe((Time(start.AddHours(3)), Time(start.AddHours(1))));
        extended.Headers.GetValues("Bulwark-Outcome").Single().ShouldBe("updated");
        var listed = await Http.ReadJsonAsync(await app.GetAsync("/v1/throttles/login/blocks", Ct));
        listed["items"]!.AsArray().Select(i => (i!["kind"]!.GetValue<string>(), i["key"]!.GetValue<string>())).ShouldBe([("manual", "198.51.100.0/24"), ("manual", "acct_9")]);

        (await oncall.DeleteAsync("/v1/throttles/login/blocks/198.51.100.0%2F24", Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await Http.ReadProblemAsync(await oncall.DeleteAsync("/v1/throttles/login/blocks/198.51.100.0%2F24", Ct), HttpStatusCode.NotFound, "not-found");
        var after = await Http.ReadJsonAsync(await app.GetAsync("/v1/throttles/login/blocks", Ct));
        after["items"]!.AsArray().Select(i => i!["key"]!.GetValue<string>()).ShouldBe(["acct_9"]);
        (await AuditActionsAsync()).ShouldBe(["throttle.block", "throttle.block", "throttle.block", "throttle.unblock"]);
    }

    [Fact]
    public async Task Api_BadInputIs422WithEveryError_AnUnknownThrottle404_AndAViewerMayNotBlock()
    {
        using var oncall = _server.CreateClient(_responder);

        using var invalid = await oncall.PutAsync("/v1/throttles/login/blocks/203.0.113.0%2F16", BulwarkTestServer.Json("""{"for":"90d","color":"red"}"""), Ct);
        var problem = await Http.ReadProblemAsync(invalid, HttpStatusCode.UnprocessableEntity, "validation");
        problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).Order().ShouldBe(["/color", "/for", "/key", "/reason"]);
        await Http.ReadProblemAsync(await oncall.PutAsync("/v1/throttles/absent/blocks/acct_1", BulwarkTestServer.Json("""{"reason":"r"}"""), Ct), HttpStatusCode.NotFound, "not-found");
        await Http.ReadProblemAsync(await oncall.PutAsync("/v1/throttles/login/blocks/acct_1", BulwarkTestServer.Json("[]"), Ct), HttpStatusCode.BadRequest, "malformed-request");
        using var app = _server.CreateClient(_viewer);
        await Http.ReadProblemAsync(await app.PutAsync("/v1/throttles/login/blocks/acct_1", BulwarkTestServer.Json("""{"reason":"r"}"""), Ct), HttpStatusCode.Forbidden, "forbidden");
        (await _server.Store.ListThrottleBlocksAsync(null, Ct)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Sweep_DeletesLapsedBlocksOnly()
    {
        await Sut.ExecuteAsync(Call("throttle.block", "acct_1", With("""{"throttle":"login","for":"10m"}""")), Ct);
        await Sut.ExecuteAsync(Call("throttle.block", "acct_2", With("""{"throttle":"login","for":"3h"}""")), Ct);

        // Short of the hourly sweep: this test sweeps by itself.
        _time.Advance(TimeSpan.FromMinutes(30));

        var swept = await _server.Services.GetRequiredService<ThrottleBlockSweeper>().SweepAsync(Ct);

        swept.ShouldBe(1);
        (await _server.Store.ListThrottleBlocksAsync("login", Ct)).Select(b => b.Key).ShouldBe(["acct_2"]);
        await CheckAsync("""{"user":"acct_2"}""", HttpStatusCode.TooManyRequests);
    }
}
