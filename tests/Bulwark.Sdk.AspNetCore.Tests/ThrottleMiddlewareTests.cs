using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Sdk.AspNetCore.Throttling;
using Bulwark.TestUtils;
using Bulwark.Throttling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Sdk.AspNetCore.Tests;

public sealed class ThrottleMiddlewareTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private readonly TempDirectory _data = new();
    private BulwarkTestServer _server = null!;
    private string _appToken = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(_data.Path, time: _time);
        _appToken = await _server.CreateIdentityTokenAsync("web", Role.Viewer);
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("/v1/throttles/login", BulwarkTestServer.Json("""
            {"layers":[{"key":"ip","limit":2,"per":"1m"}],"escalation":{"window":"10m","challenge_after":1}}
            """), Ct)).EnsureSuccessStatusCode();
        (await admin.PutAsync("/v1/throttles/strict", BulwarkTestServer.Json("""{"fail_mode":"closed","layers":[{"key":"ip","limit":100,"per":"1m"}]}"""), Ct)).EnsureSuccessStatusCode();
        (await admin.PutAsync("/v1/throttles/dark", BulwarkTestServer.Json("""{"shadow":true,"layers":[{"key":"ip","limit":1,"per":"1h"}]}"""), Ct)).EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _data.Dispose();
    }

    /// <summary>An application whose <c>/work</c> is throttled by <paramref name="throttle"/>, keyed by the <c>X-Test-IP</c> header.</summary>
    private Task<TestApp> StartAppAsync(string throttle, bool remote = false) => TestApp.StartAsync(
        builder => builder.Services.AddBulwarkThrottleClient(o =>
        {
            o.ServerUrl = _server.BaseAddress;
            o.Token = _appToken;
            o.TimeProvider = _time;
            o.PollInterval = TimeSpan.FromSeconds(10);
        }),
        app =>
        {
            app.UseBulwarkThrottle(
                throttle,
                context => new ThrottleKeys(new Dictionary<string, string> { ["ip"] = context.Request.Headers["X-Test-IP"].ToString() }),
                o =>
                {
                    o.Remote = remote;
                    o.Applies = context => context.Request.Path.StartsWithSegments("/work");
                });
            app.MapGet("/work", (HttpContext context) =>
                context.Features.Get<IBulwarkThrottleFeature>() is { ChallengeRequired: true } ? "challenge" : "done");
            app.MapGet("/free", () => "free");
        });

    private static async Task<HttpResponseMessage> GetAsync(TestApp app, string ip, string path = "/work")
    {
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Test-IP", ip);
        return await client.SendAsync(request, Ct);
    }

    private static string Header(HttpResponseMessage response, string name) => response.Headers.GetValues(name).Single();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Throttled_AllowsWithHeaders_RefusesWith429ProblemAndRetryAfter_ThenHandsTheAppAChallenge(bool remote)
    {
        await using var app = await StartAppAsync("login", remote);

        using var first = await GetAsync(app, "198.51.100.7");
        (await first.Content.ReadAsStringAsync(Ct)).ShouldBe("done");
        (Header(first, "RateLimit-Policy"), Header(first, "RateLimit")).ShouldBe(("\"ip\";q=2;w=60", "\"ip\";r=1;t=30"));
        (await GetAsync(app, "198.51.100.7")).StatusCode.ShouldBe(HttpStatusCode.OK);

        using var refused = await GetAsync(app, "198.51.100.7");
        refused.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        refused.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = JsonNode.Parse(await refused.Content.ReadAsStringAsync(Ct))!;
        (problem["type"]!.GetValue<string>(), problem["decision"]!.GetValue<string>(), problem["layer"]!.GetValue<string>())
            .ShouldBe(("urn:bulwark:problem:rate-limited", "block", "ip"));
        (Header(refused, "Retry-After"), Header(refused, "X-RateLimit-Remaining")).ShouldBe(("30", "0"));

        // Unthrottled paths pass untouched; other addresses have their own bucket.
        (await GetAsync(app, "198.51.100.7", "/free")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await GetAsync(app, "203.0.113.9")).StatusCode.ShouldBe(HttpStatusCode.OK);

        _time.Advance(TimeSpan.FromSeconds(30));
        using var challenged = await GetAsync(app, "198.51.100.7");
        challenged.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await challenged.Content.ReadAsStringAsync(Ct)).ShouldBe("challenge");
    }

    [Fact]
    public async Task Local_SyncsATighteningWithTheNextPoll()
    {
        var timers = _time.ActiveTimers;
        await using var app = await StartAppAsync("login");
        var client = app.Services.GetRequiredService<BulwarkThrottleClient>();
        var synced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Synced += (_, _) => synced.TrySetResult();
        using var admin = _server.CreateAdminClient();
        (await admin.PostAsync("/v1/throttles/login/tighten", BulwarkTestServer.Json("""{"factor":2,"ttl":"1h","reason":"wave"}"""), Ct)).EnsureSuccessStatusCode();

        // The client's poll timer is the only one the application adds to the shared clock.
        await _time.WaitForActiveTimersAsync(timers + 1, Ct);
        _time.Advance(TimeSpan.FromSeconds(10));
        await synced.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        (await GetAsync(app, "192.0.2.1")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await GetAsync(app, "192.0.2.1")).StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task ServerDown_RemoteChecksFollowTheFailMode_OpenAllows_ClosedRefuses()
    {
        await using var open = await StartAppAsync("login", remote: true);
        await using var closed = await StartAppAsync("strict", remote: true);
        await _server.DisposeAsync();

        (await GetAsync(open, "198.51.100.1")).StatusCode.ShouldBe(HttpStatusCode.OK);
        using var refused = await GetAsync(closed, "198.51.100.1");
        refused.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        JsonNode.Parse(await refused.Content.ReadAsStringAsync(Ct))!["reason"]!.GetValue<string>().ShouldBe("unavailable");
        _server = await BulwarkTestServer.StartAsync(_data.Path, time: _time);
    }

    [Fact]
    public async Task Shadow_NeverRefuses()
    {
        await using var app = await StartAppAsync("dark");

        for (var i = 0; i < 3; i++)
        {
            using var response = await GetAsync(app, "198.51.100.2");
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            response.Headers.Contains("Retry-After").ShouldBeFalse();
        }
    }

    [Fact]
    public async Task UseBulwarkThrottle_WithoutTheClient_SaysWhatToRegister()
    {
        var error = await Should.ThrowAsync<InvalidOperationException>(() => TestApp.StartAsync(
            _ => { },
            app => app.UseBulwarkThrottle("login", _ => new ThrottleKeys(null))));

        error.Message.ShouldContain("AddBulwarkThrottleClient");
    }
}
