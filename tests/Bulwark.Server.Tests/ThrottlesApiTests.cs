using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

public sealed class ThrottlesApiTests : IAsyncLifetime
{
    private const string PasswordReset = """
        { "description": "Reset requests",
          "layers": [ { "key": "ip", "limit": 3, "per": "1m" }, { "name": "ip-daily", "key": "ip", "limit": 100, "per": "1d" }, { "key": "user", "limit": 5, "per": "1h" } ],
          "escalation": { "window": "10m", "challenge_after": 2, "block_after": 4, "block_for": "1h" } }
        """;

    private readonly FakeTimeProvider _time = new();
    private BulwarkTestServer _server = null!;
    private string _operator = null!;
    private string _responder = null!;
    private string _viewer = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(time: _time);
        _operator = await _server.CreateIdentityTokenAsync("ops", Role.Operator);
        _responder = await _server.CreateIdentityTokenAsync("oncall", Role.Responder);
        _viewer = await _server.CreateIdentityTokenAsync("app", Role.Viewer);
        using var ops = _server.CreateClient(_operator);
        (await ops.PutAsync("/v1/throttles/password-reset", BulwarkTestServer.Json(PasswordReset))).StatusCode.ShouldBe(HttpStatusCode.Created);
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<HttpResponseMessage> CheckAsync(string keys, long cost = 1, string throttle = "password-reset")
    {
        using var app = _server.CreateClient(_viewer);
        return await app.PostAsync($"/v1/throttles/{throttle}/check", BulwarkTestServer.Json($$"""{"keys":{{keys}},"cost":{{cost}}}"""), Ct);
    }

    private static string Header(HttpResponseMessage response, string name) => response.Headers.GetValues(name).Single();

    [Fact]
    public async Task Check_Allow_AnswersTheDecisionWithEveryRateLimitHeader()
    {
        using var response = await CheckAsync("""{"ip":"198.51.100.7","user":"alice"}""");

        var body = await Http.ReadJsonAsync(response);
        (body["decision"]!.GetValue<string>(), body["reason"]!.GetValue<string>(), body["layer"]!.GetValue<string>(), body["remaining"]!.GetValue<long>())
            .ShouldBe(("allow", "none", "ip", 2L));
        body["retry_after_ms"].ShouldBeNull();
        Header(response, "RateLimit-Policy").ShouldBe("\"ip\";q=3;w=60, \"ip-daily\";q=100;w=86400, \"user\";q=5;w=3600");
        Header(response, "RateLimit").ShouldBe("\"ip\";r=2;t=20");
        (Header(response, "X-RateLimit-Limit"), Header(response, "X-RateLimit-Remaining"), Header(response, "X-RateLimit-Reset")).ShouldBe(("3", "2", "20"));
        response.Headers.Contains("Retry-After").ShouldBeFalse();
    }

    [Fact]
    public async Task Check_OverTheLimit_Is429ProblemWithRetryAfter_ThenAChallenge_ThenABlockThatLapses()
    {
        const string Keys = """{"ip":"198.51.100.7"}""";
        for (var i = 0; i < 3; i++)
        {
            (await CheckAsync(Keys)).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        using var denied = await CheckAsync(Keys);
        var problem = await Http.ReadProblemAsync(denied, HttpStatusCode.TooManyRequests, "rate-limited");
        (problem["decision"]!.GetValue<string>(), problem["reason"]!.GetValue<string>(), problem["retry_after_ms"]!.GetValue<long>()).ShouldBe(("block", "rate_exceeded", 20_000L));
        problem["violated-policies"]!.AsArray().Select(n => n!.GetValue<string>()).ShouldBe(["ip"]);
        (Header(denied, "Retry-After"), Header(denied, "RateLimit")).ShouldBe(("20", "\"ip\";r=0;t=60"));

        (await CheckAsync(Keys)).StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        _time.Advance(TimeSpan.FromSeconds(20));

        // Two denials: the next admitted check is a challenge (429, "decision": "challenge"), and no Retry-After.
        using var challenged = await CheckAsync(Keys);
        var challenge = await Http.ReadProblemAsync(challenged, HttpStatusCode.TooManyRequests, "challenge-required");
        (challenge["decision"]!.GetValue<string>(), challenge["reason"]!.GetValue<string>()).ShouldBe(("challenge", "escalated"));
        challenged.Headers.Contains("Retry-After").ShouldBeFalse();
        Header(challenged, "RateLimit").ShouldBe("\"ip\";r=0;t=60");

        (await CheckAsync(Keys)).StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        (await CheckAsync(Keys)).StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);

        // Four denials: blocked for an hour.
        _time.Advance(TimeSpan.FromMinutes(5));
        using var blocked = await CheckAsync(Keys);
        var block = await Http.ReadProblemAsync(blocked, HttpStatusCode.TooManyRequests, "rate-limited");
        block["reason"]!.GetValue<string>().ShouldBe("blocked");
        int.Parse(Header(blocked, "Retry-After"), System.Globalization.CultureInfo.InvariantCulture).ShouldBe(55 * 60);

        using var viewer = _server.CreateClient(_viewer);
        var blocks = await Http.ReadJsonAsync(await viewer.GetAsync("/v1/throttles/password-reset/blocks", Ct));
        var only = blocks["items"]!.AsArray().ShouldHaveSingleItem()!;
        (only["layer"]!.GetValue<string>(), only["key"]!.GetValue<string>(), only["denials"]!.GetValue<int>()).ShouldBe(("ip", "198.51.100.7", 4));

        _time.Advance(TimeSpan.FromMinutes(56));
        (await CheckAsync(Keys)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Unblock_LiftsTheBlock_AndIsAudited_ButOnlyForResponders()
    {
        const string Keys = """{"ip":"198.51.100.8"}""";
        for (var i = 0; i < 7; i++)
        {
            await CheckAsync(Keys);
        }

        (await CheckAsync(Keys)).StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        using var viewer = _server.CreateClient(_viewer);
        (await viewer.DeleteAsync("/v1/throttles/password-reset/blocks/198.51.100.8", Ct)).StatusCode.ShouldBe(HttpStatusCode.Forbidden);

        using var oncall = _server.CreateClient(_responder);
        (await oncall.DeleteAsync("/v1/throttles/password-reset/blocks/198.51.100.8", Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await Http.ReadProblemAsync(await oncall.DeleteAsync("/v1/throttles/password-reset/blocks/198.51.100.8", Ct), HttpStatusCode.NotFound, "not-found");

        _time.Advance(TimeSpan.FromMinutes(1));
        (await CheckAsync(Keys)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var audit = await Http.ReadJsonAsync(await viewer.GetAsync("/v1/audit?action=throttle.unblock", Ct));
        var entry = audit["items"]!.AsArray().Last(e => e!["action"]!.GetValue<string>() == "throttle.unblock")!;
        (entry["actor"]!.GetValue<string>(), entry["target"]!.GetValue<string>()).ShouldBe(("oncall", "throttle/password-reset"));
    }

    [Fact]
    public async Task Unblock_ASubnet_WrittenAsANetwork_WithTheSlashAsIsOrEscaped()
    {
        using var ops = _server.CreateClient(_operator);
        (await ops.PutAsync("/v1/throttles/nets", BulwarkTestServer.Json("""{"layers":[{"key":"subnet","limit":1,"per":"1h"}],"escalation":{"window":"1h","block_after":1,"block_for":"1h"}}"""), Ct)).EnsureSuccessStatusCode();
        using var oncall = _server.CreateClient(_responder);
        foreach (var path in new[] { "198.51.100.0/24", "198.51.100.0%2F24" })
        {
            await CheckAsync("""{"ip":"198.51.100.1"}""", throttle: "nets");
            (await CheckAsync("""{"ip":"198.51.100.2"}""", throttle: "nets")).StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);

            (await oncall.DeleteAsync("/v1/throttles/nets/blocks/" + path, Ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent, path);
            _time.Advance(TimeSpan.FromHours(1));
        }
    }

    [Fact]
    public async Task Tighten_DividesTheRates_IsAuditedWithItsReason_LapsesWithTheClock_AndCanBeRelaxed()
    {
        using var oncall = _server.CreateClient(_responder);
        using var tightened = await oncall.PostAsync("/v1/throttles/password-reset/tighten", BulwarkTestServer.Json("""{"factor":3,"ttl":"30m","layers":["ip"],"reason":"reset wave"}"""), Ct);
        var document = await Http.ReadJsonAsync(tightened);
        var tightening = document["status"]!["tightening"]!;
        (tightening["factor"]!.GetValue<double>(), tightening["by"]!.GetValue<string>(), tightening["reason"]!.GetValue<string>()).ShouldBe((3d, "oncall", "reset wave"));

        (await CheckAsync("""{"ip":"192.0.2.1"}""")).StatusCode.ShouldBe(HttpStatusCode.OK);
        using var second = await CheckAsync("""{"ip":"192.0.2.1"}""");
        second.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        (await Http.ReadProblemAsync(second, HttpStatusCode.TooManyRequests, "rate-limited"))["limit"]!.GetValue<long>().ShouldBe(1);

        _time.Advance(TimeSpan.FromMinutes(30));
        for (var i = 0; i < 3; i++)
        {
            (await CheckAsync("""{"ip":"192.0.2.2"}""")).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        using var viewer = _server.CreateClient(_viewer);
        (await Http.ReadJsonAsync(await viewer.GetAsync("/v1/throttles/password-reset", Ct)))["status"]!["tightening"].ShouldBeNull();

        (await oncall.PostAsync("/v1/throttles/password-reset/tighten", BulwarkTestServer.Json("""{"factor":10,"ttl":"1h","reason":"again"}"""), Ct)).EnsureSuccessStatusCode();
        (await CheckAsync("""{"ip":"192.0.2.3"}""")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await CheckAsync("""{"ip":"192.0.2.3"}""")).StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        (await Http.ReadJsonAsync(await oncall.DeleteAsync("/v1/throttles/password-reset/tighten", Ct)))["status"]!["tightening"].ShouldBeNull();
        (await CheckAsync("""{"ip":"192.0.2.4"}""")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await CheckAsync("""{"ip":"192.0.2.4"}""")).StatusCode.ShouldBe(HttpStatusCode.OK);

        var audit = await Http.ReadJsonAsync(await viewer.GetAsync("/v1/audit", Ct));
        var actions = audit["items"]!.AsArray().Select(e => e!["action"]!.GetValue<string>()).Where(a => a.StartsWith("throttle.", StringComparison.Ordinal)).ToList();
        actions.ShouldBe(["throttle.create", "throttle.tighten", "throttle.tighten", "throttle.relax"], ignoreOrder: true);
    }

    [Fact]
    public async Task Tighten_Invalid_IsAValidationProblemNamingEachField()
    {
        using var oncall = _server.CreateClient(_responder);

        var problem = await Http.ReadProblemAsync(
            await oncall.PostAsync("/v1/throttles/password-reset/tighten", BulwarkTestServer.Json("""{"factor":1,"ttl":"forever"}"""), Ct),
            HttpStatusCode.UnprocessableEntity,
            "validation");
        problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).Order(StringComparer.Ordinal).ShouldBe(["/factor", "/reason", "/ttl"]);

        await Http.ReadProblemAsync(
            await oncall.PostAsync("/v1/throttles/password-reset/tighten", BulwarkTestServer.Json("""{"factor":2,"ttl":"1h","layers":["nope"],"reason":"r"}"""), Ct),
            HttpStatusCode.UnprocessableEntity,
            "validation");
        await Http.ReadProblemAsync(
            await oncall.PostAsync("/v1/throttles/missing/tighten", BulwarkTestServer.Json("""{"factor":2,"ttl":"1h","reason":"r"}"""), Ct),
            HttpStatusCode.NotFound,
            "not-found");
    }

    [Fact]
    public async Task Shadow_AnswersAllowWithTheDecisionThatWouldHaveBeen()
    {
        using var ops = _server.CreateClient(_operator);
        (await ops.PutAsync("/v1/throttles/dark", BulwarkTestServer.Json("""{"shadow":true,"layers":[{"key":"user","limit":1,"per":"1h"}]}"""), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);

        (await CheckAsync("""{"user":"u"}""", throttle: "dark")).StatusCode.ShouldBe(HttpStatusCode.OK);
        using var second = await CheckAsync("""{"user":"u"}""", throttle: "dark");

        var body = await Http.ReadJsonAsync(second);
        (body["decision"]!.GetValue<string>(), body["shadow_decision"]!.GetValue<string>(), body["shadow"]!.GetValue<bool>()).ShouldBe(("allow", "block", true));
        second.Headers.Contains("Retry-After").ShouldBeFalse();
        var metrics = await (await _server.CreateClient().GetAsync("/metrics", Ct)).Content.ReadAsStringAsync(Ct);
        metrics.ShouldContain("bulwark_throttle_decisions_total{decision=\"block\",layer=\"user\",shadow=\"true\",throttle=\"dark\"} 1");
    }

    [Fact]
    public async Task Check_BadInput_IsAProblem_AndAnUnknownThrottleIs404()
    {
        await Http.ReadProblemAsync(await CheckAsync("""{"ip":1}"""), HttpStatusCode.UnprocessableEntity, "validation");
        await Http.ReadProblemAsync(await CheckAsync("""{"ip":"1.2.3.4"}""", cost: -1), HttpStatusCode.UnprocessableEntity, "validation");
        await Http.ReadProblemAsync(await CheckAsync("""{"ip":"1.2.3.4"}""", throttle: "missing"), HttpStatusCode.NotFound, "not-found");
        using var app = _server.CreateClient(_viewer);
        await Http.ReadProblemAsync(await app.PostAsync("/v1/throttles/password-reset/check", BulwarkTestServer.Json("""{"keys":{},"extra":true}"""), Ct), HttpStatusCode.UnprocessableEntity, "validation");
        await Http.ReadProblemAsync(await app.PostAsync("/v1/throttles/password-reset/check", BulwarkTestServer.Json("[1]"), Ct), HttpStatusCode.BadRequest, "malformed-request");
        using var anonymous = _server.CreateClient();
        await Http.ReadProblemAsync(await anonymous.PostAsync("/v1/throttles/password-reset/check", BulwarkTestServer.Json("{}"), Ct), HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Put_ValidatesEveryField_AndTheGetAnswerCanBePutBackUnchanged_AndTheListHasAnETag()
    {
        using var ops = _server.CreateClient(_operator);
        var problem = await Http.ReadProblemAsync(
            await ops.PutAsync("/v1/throttles/bad", BulwarkTestServer.Json("""{"layers":[{"key":"ip","limit":0,"per":"1x"}]}"""), Ct),
            HttpStatusCode.UnprocessableEntity,
            "validation");
        problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).Order(StringComparer.Ordinal).ShouldBe(["/layers/0/limit", "/layers/0/per"]);

        var current = await Http.ReadJsonAsync(await ops.GetAsync("/v1/throttles/password-reset", Ct));
        using var again = await ops.PutAsync("/v1/throttles/password-reset", BulwarkTestServer.Json(current), Ct);
        again.Headers.GetValues("Bulwark-Outcome").ShouldBe(["unchanged"]);

        using var list = await ops.GetAsync("/v1/throttles", Ct);
        var etag = list.Headers.ETag!;
        (await Http.ReadJsonAsync(list))["items"]!.AsArray().Select(t => t!["name"]!.GetValue<string>()).ShouldBe(["password-reset"]);
        using var conditional = new HttpRequestMessage(HttpMethod.Get, "/v1/throttles");
        conditional.Headers.IfNoneMatch.Add(etag);
        (await ops.SendAsync(conditional, Ct)).StatusCode.ShouldBe(HttpStatusCode.NotModified);
    }

    [Fact]
    public async Task PolicyChange_StartsEmptyBuckets_ButATighteningSurvivesWhenItsLayersStillExist()
    {
        for (var i = 0; i < 3; i++)
        {
            await CheckAsync("""{"ip":"203.0.113.1"}""");
        }

        using var oncall = _server.CreateClient(_responder);
        (await oncall.PostAsync("/v1/throttles/password-reset/tighten", BulwarkTestServer.Json("""{"factor":2,"ttl":"1h","layers":["user"],"reason":"r"}"""), Ct)).EnsureSuccessStatusCode();
        var changed = JsonNode.Parse(PasswordReset)!.AsObject();
        changed["description"] = "Reset requests, per address and user";
        using var ops = _server.CreateClient(_operator);
        (await ops.PutAsync("/v1/throttles/password-reset", BulwarkTestServer.Json(changed), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await CheckAsync("""{"ip":"203.0.113.1"}""")).StatusCode.ShouldBe(HttpStatusCode.OK);
        var user = await Http.ReadJsonAsync(await CheckAsync("""{"user":"zed"}"""));
        user["limit"]!.GetValue<long>().ShouldBe(2);
    }
}

public sealed class ThrottleTakeTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private BulwarkTestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(time: _time);
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("/v1/throttles/bulk", BulwarkTestServer.Json("""{"layers":[{"key":"mass_action","limit":10,"per":"1m"}]}"""))).EnsureSuccessStatusCode();
        (await admin.PutAsync("/v1/throttles/dark", BulwarkTestServer.Json("""{"shadow":true,"layers":[{"key":"mass_action","limit":10,"per":"1m"}]}"""))).EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static readonly Throttling.ThrottleKeys Job = new(new Dictionary<string, string> { ["mass_action"] = "ma_1" });

    [Fact]
    public async Task Take_GrantsWhatTheBucketHolds_UpToTheRequest_AndNothingMore()
    {
        var registry = (Bulwark.Server.Throttles.ThrottleRegistry)_server.Services.GetService(typeof(Bulwark.Server.Throttles.ThrottleRegistry))!;
        var bulk = (await registry.FindAsync("bulk", TestContext.Current.CancellationToken))!;

        registry.Take(bulk, Job, 0).Granted.ShouldBe(0);
        registry.Take(bulk, Job, 4).Granted.ShouldBe(4);
        registry.Take(bulk, Job, 20).Granted.ShouldBe(6);
        var none = registry.Take(bulk, Job, 5);
        (none.Granted, none.Decision.RetryAfter).ShouldBe((0L, (TimeSpan?)TimeSpan.FromSeconds(6)));

        _time.Advance(TimeSpan.FromSeconds(12));
        registry.Take(bulk, Job, 5).Granted.ShouldBe(2);

        var dark = (await registry.FindAsync("dark", TestContext.Current.CancellationToken))!;
        registry.Take(dark, Job, 100).Granted.ShouldBe(100);
    }
}
