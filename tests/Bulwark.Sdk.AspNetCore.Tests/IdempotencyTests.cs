using System.Net;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Bulwark.Sdk.AspNetCore.Idempotency;
using Bulwark.TestUtils;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Sdk.AspNetCore.Tests;

public sealed class IdempotencyTests : IAsyncLifetime
{
    private const string KeyHeader = "Idempotency-Key";
    private const string ReplayedHeader = "Idempotent-Replayed";
    private readonly TaskCompletionSource _slowEntered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _slowRelease = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TestApp? _app;
    private HttpClient _client = null!;
    private int _runs;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        _client?.Dispose();
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    private async Task StartAsync(Action<IdempotencyOptions>? configure = null, TimeProvider? time = null)
    {
        _app = await TestApp.StartAsync(
            builder =>
            {
                if (time is not null)
                {
                    builder.Services.AddSingleton(time);
                }

                builder.Services.AddBulwarkCorrelationId().AddBulwarkIdempotency(configure);
            },
            app =>
            {
                app.UseBulwarkCorrelationId();
                // Stands in for authentication: the caller names itself.
                app.Use((context, next) =>
                {
                    if (context.Request.Headers.TryGetValue("X-Test-User", out var user))
                    {
                        context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, user.ToString())], "test"));
                    }

                    return next(context);
                });
                app.UseBulwarkIdempotency();
                app.MapMethods("/orders", ["GET", "POST", "PUT", "PATCH"], async (HttpContext context) =>
                {
                    var run = Interlocked.Increment(ref _runs);
                    using var reader = new StreamReader(context.Request.Body);
                    var body = await reader.ReadToEndAsync(context.RequestAborted);
                    context.Response.Headers.Location = $"/orders/{run}";
                    context.Response.Headers["X-Order-Id"] = $"order-{run}";
                    context.Response.Headers["X-Unlisted"] = $"unlisted-{run}";
                    context.Response.Headers.SetCookie = $"session=s{run}";
                    return Results.Text(JsonSerializer.Serialize(new Dictionary<string, object> { ["run"] = run, ["echo"] = body }), "application/json", statusCode: 201);
                });
                app.MapPost("/flaky", () => Interlocked.Increment(ref _runs) == 1 ? Results.StatusCode(503) : Results.Text($"run {_runs}"));
                app.MapPost("/throws", string () => Interlocked.Increment(ref _runs) == 1 ? throw new InvalidOperationException("boom") : $"run {_runs}");
                app.MapPost("/slow", async () =>
                {
                    var run = Interlocked.Increment(ref _runs);
                    _slowEntered.TrySetResult();
                    await _slowRelease.Task;
                    return $"run {run}";
                });
                app.MapPost("/big", async (HttpContext context, int size, bool pipe) =>
                {
                    var run = Interlocked.Increment(ref _runs);
                    var bytes = Enumerable.Range(0, size).Select(i => (byte)('a' + ((i + run) % 26))).ToArray();
                    foreach (var chunk in bytes.Chunk(100))
                    {
                        if (pipe)
                        {
                            await context.Response.BodyWriter.WriteAsync(chunk, context.RequestAborted);
                        }
                        else
                        {
                            await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                        }
                    }
                });
            });
        _client = _app.CreateClient();
    }

    private static async Task<HttpResponseMessage> SendAsync(
        HttpClient client, string method, string path, string? key, string body = """{"item":"book"}""", string? user = null, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method != "GET")
        {
            request.Content = content ?? new StringContent(body, Encoding.UTF8, "application/json");
        }

        if (key is not null)
        {
            request.Headers.TryAddWithoutValidation(KeyHeader, key);
        }

        if (user is not null)
        {
            request.Headers.Add("X-Test-User", user);
        }

        return await client.SendAsync(request, Ct);
    }

    private Task<HttpResponseMessage> PostAsync(string path, string? key, string body = """{"item":"book"}""", string? user = null) =>
        SendAsync(_client, "POST", path, key, body, user);

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(",", values)
            : null;

    private static bool Replayed(HttpResponseMessage response) => Header(response, ReplayedHeader) == "true";

    private static async Task ShouldBeProblemAsync(HttpResponseMessage response, int status, string type)
    {
        ((int)response.StatusCode).ShouldBe(status);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        problem.RootElement.GetProperty("type").GetString().ShouldBe(type);
        problem.RootElement.GetProperty("status").GetInt32().ShouldBe(status);
        problem.RootElement.GetProperty("title").GetString().ShouldNotBeNullOrWhiteSpace();
        problem.RootElement.GetProperty("detail").GetString().ShouldNotBeNullOrWhiteSpace();
    }

    [Fact]
    public async Task Post_RepeatedWithSameKeyAndBody_ReplaysIdenticalResponseAndRunsOnce()
    {
        await StartAsync(o =>
        {
            o.StoredHeaders.Add("X-Order-Id");
            o.StoredHeaders.Add("Set-Cookie");
        });

        using var first = await PostAsync("orders", "order-key-1");
        using var second = await PostAsync("orders", "order-key-1");

        _runs.ShouldBe(1);
        first.StatusCode.ShouldBe(HttpStatusCode.Created);
        Replayed(first).ShouldBeFalse();
        Replayed(second).ShouldBeTrue();
        second.StatusCode.ShouldBe(first.StatusCode);
        (await second.Content.ReadAsByteArrayAsync(Ct)).ShouldBe(await first.Content.ReadAsByteArrayAsync(Ct));
        (await first.Content.ReadAsStringAsync(Ct)).ShouldBe("""{"run":1,"echo":"{\u0022item\u0022:\u0022book\u0022}"}""");
        Header(second, "Content-Type").ShouldBe(Header(first, "Content-Type"));
        Header(second, "Content-Type").ShouldBe("application/json");
        Header(second, "Location").ShouldBe("/orders/1");
        Header(second, "X-Order-Id").ShouldBe("order-1");
        Header(first, "Set-Cookie").ShouldBe("session=s1");
        Header(second, "Set-Cookie").ShouldBeNull();
        Header(first, "X-Unlisted").ShouldBe("unlisted-1");
        Header(second, "X-Unlisted").ShouldBeNull();
        Header(second, "X-Correlation-ID").ShouldNotBeNull();
        Header(second, "X-Correlation-ID").ShouldNotBe(Header(first, "X-Correlation-ID"));
    }

    [Fact]
    public async Task Post_WithoutKey_RunsEveryTime()
    {
        await StartAsync();

        using var first = await PostAsync("orders", key: null);
        using var second = await PostAsync("orders", key: null);

        _runs.ShouldBe(2);
        Replayed(second).ShouldBeFalse();
    }

    [Theory]
    [InlineData("POST", "orders", """{"item":"pen"}""")]
    [InlineData("POST", "orders?copy=2", """{"item":"book"}""")]
    [InlineData("PATCH", "orders", """{"item":"book"}""")]
    [InlineData("POST", "slow", """{"item":"book"}""")]
    public async Task Post_SameKeyWithAnotherRequest_Returns422Problem(string method, string path, string body)
    {
        await StartAsync();
        using var first = await PostAsync("orders", "reused-key");

        using var second = await SendAsync(_client, method, path, "reused-key", body);

        first.StatusCode.ShouldBe(HttpStatusCode.Created);
        await ShouldBeProblemAsync(second, 422, "urn:bulwark:problem:idempotency-key-reused");
        _runs.ShouldBe(1);
    }

    [Fact]
    public async Task Post_DuplicateWhileFirstIsInProgress_Returns409ProblemThenReplays()
    {
        await StartAsync();
        var first = PostAsync("slow", "slow-key");
        await _slowEntered.Task.WaitAsync(Ct);

        using var duplicate = await PostAsync("slow", "slow-key");
        using var otherRequest = await PostAsync("slow", "slow-key", """{"item":"other"}""");
        _slowRelease.SetResult();
        using var firstResponse = await first;
        using var afterwards = await PostAsync("slow", "slow-key");

        await ShouldBeProblemAsync(duplicate, 409, "urn:bulwark:problem:idempotency-in-progress");
        await ShouldBeProblemAsync(otherRequest, 422, "urn:bulwark:problem:idempotency-key-reused");
        firstResponse.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await firstResponse.Content.ReadAsStringAsync(Ct)).ShouldBe("run 1");
        Replayed(afterwards).ShouldBeTrue();
        (await afterwards.Content.ReadAsStringAsync(Ct)).ShouldBe("run 1");
        _runs.ShouldBe(1);
    }

    [Theory]
    [InlineData("flaky", 503)]
    [InlineData("throws", 500)]
    public async Task Post_FirstAttemptFailsWith5xx_IsNotStoredAndTheRetryRunsAgain(string path, int firstStatus)
    {
        await StartAsync();

        using var first = await PostAsync(path, "retry-key");
        using var retry = await PostAsync(path, "retry-key");
        using var repeat = await PostAsync(path, "retry-key");

        ((int)first.StatusCode).ShouldBe(firstStatus);
        retry.StatusCode.ShouldBe(HttpStatusCode.OK);
        Replayed(retry).ShouldBeFalse();
        (await retry.Content.ReadAsStringAsync(Ct)).ShouldBe("run 2");
        Replayed(repeat).ShouldBeTrue();
        (await repeat.Content.ReadAsStringAsync(Ct)).ShouldBe("run 2");
        _runs.ShouldBe(2);
    }

    [Theory]
    [InlineData(null, 24)]
    [InlineData(1, 1)]
    public async Task Post_AfterRetention_RunsAgain(int? configuredHours, int retentionHours)
    {
        var time = new FakeTimeProvider();
        await StartAsync(
            o =>
            {
                if (configuredHours is { } hours)
                {
                    o.Retention = TimeSpan.FromHours(hours);
                }
            },
            time);
        using var first = await PostAsync("orders", "retained-key");

        time.Advance(TimeSpan.FromHours(retentionHours) - TimeSpan.FromSeconds(1));
        using var withinRetention = await PostAsync("orders", "retained-key");
        time.Advance(TimeSpan.FromSeconds(1));
        using var afterRetention = await PostAsync("orders", "retained-key");

        Replayed(withinRetention).ShouldBeTrue();
        Replayed(afterRetention).ShouldBeFalse();
        Header(afterRetention, "Location").ShouldBe("/orders/2");
        _runs.ShouldBe(2);
    }

    [Fact]
    public async Task Post_StoreFull_EvictsTheOldestResponse()
    {
        await StartAsync(o => o.MaxEntries = 2);
        foreach (var key in new[] { "key-1", "key-2", "key-3" })
        {
            using var response = await PostAsync("orders", key);
        }

        using var newest = await PostAsync("orders", "key-3");
        using var second = await PostAsync("orders", "key-2");
        using var oldest = await PostAsync("orders", "key-1");

        Replayed(newest).ShouldBeTrue();
        Header(newest, "Location").ShouldBe("/orders/3");
        Replayed(second).ShouldBeTrue();
        Header(second, "Location").ShouldBe("/orders/2");
        Replayed(oldest).ShouldBeFalse();
        Header(oldest, "Location").ShouldBe("/orders/4");
        _runs.ShouldBe(4);
    }

    [Fact]
    public async Task Post_TwoUsersWithTheSameKey_AreIndependent()
    {
        await StartAsync();

        using var alice = await PostAsync("orders", "shared-key", user: "alice");
        using var bob = await PostAsync("orders", "shared-key", user: "bob");
        using var anonymous = await PostAsync("orders", "shared-key");
        using var aliceAgain = await PostAsync("orders", "shared-key", user: "alice");
        using var bobAgain = await PostAsync("orders", "shared-key", user: "bob");

        Replayed(bob).ShouldBeFalse();
        Replayed(anonymous).ShouldBeFalse();
        _runs.ShouldBe(3);
        Replayed(aliceAgain).ShouldBeTrue();
        Header(aliceAgain, "Location").ShouldBe(Header(alice, "Location"));
        Replayed(bobAgain).ShouldBeTrue();
        Header(bobAgain, "Location").ShouldBe(Header(bob, "Location"));
    }

    [Fact]
    public async Task Post_UserNamedAnonymous_IsNotTheAnonymousScope()
    {
        await StartAsync();

        using var anonymous = await PostAsync("orders", "key");
        using var user = await PostAsync("orders", "key", user: IdempotencyOptions.AnonymousScope);

        Replayed(user).ShouldBeFalse();
        _runs.ShouldBe(2);
    }

    [Fact]
    public async Task Post_CustomScopeSelector_ScopesKeysByIt()
    {
        await StartAsync(o => o.ScopeSelector = context => "tenant:" + context.Request.Query["tenant"]);

        using var tenantA = await PostAsync("orders?tenant=a", "key");
        using var tenantB = await PostAsync("orders?tenant=b", "key");
        using var tenantAAgain = await PostAsync("orders?tenant=a", "key", user: "someone");

        Replayed(tenantB).ShouldBeFalse();
        Replayed(tenantAAgain).ShouldBeTrue();
        _runs.ShouldBe(2);
    }

    public static TheoryData<string> MalformedKeys => ["", "has space", "tab\tinside", new string('k', 256)];

    [Theory]
    [MemberData(nameof(MalformedKeys))]
    public async Task Post_MalformedKey_Returns400Problem(string key)
    {
        await StartAsync();

        using var response = await PostAsync("orders", key);

        await ShouldBeProblemAsync(response, 400, "urn:bulwark:problem:malformed-request");
        _runs.ShouldBe(0);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        problem.RootElement.GetProperty("correlation_id").GetString().ShouldBe(Header(response, "X-Correlation-ID"));
    }

    [Fact]
    public async Task Post_KeyOf255VisibleCharacters_IsAccepted()
    {
        await StartAsync();
        var key = new string('k', 254) + "~";

        using var first = await PostAsync("orders", key);
        using var second = await PostAsync("orders", key);

        first.StatusCode.ShouldBe(HttpStatusCode.Created);
        Replayed(second).ShouldBeTrue();
    }

    [Fact]
    public async Task Get_WithKey_IsIgnored()
    {
        await StartAsync();

        using var first = await SendAsync(_client, "GET", "orders", "get-key");
        using var second = await SendAsync(_client, "GET", "orders", "get-key");
        using var malformed = await SendAsync(_client, "GET", "orders", "has space");

        first.StatusCode.ShouldBe(HttpStatusCode.Created);
        Replayed(second).ShouldBeFalse();
        malformed.StatusCode.ShouldBe(HttpStatusCode.Created);
        _runs.ShouldBe(3);
    }

    [Theory]
    [InlineData(false, 2)]
    [InlineData(true, 1)]
    public async Task Put_HonoredOnlyWhenAddedToMethods(bool addPut, int expectedRuns)
    {
        await StartAsync(o =>
        {
            if (addPut)
            {
                o.Methods.Add("put");
            }
        });

        using var first = await SendAsync(_client, "PUT", "orders", "put-key");
        using var second = await SendAsync(_client, "PUT", "orders", "put-key");

        Replayed(second).ShouldBe(addPut);
        _runs.ShouldBe(expectedRuns);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Post_RequestBodyOverTheLimit_Returns413Problem(bool contentLengthKnown)
    {
        await StartAsync(o => o.MaxRequestBodyBytes = 16);
        HttpContent Body(int size)
        {
            var bytes = new byte[size];
            return contentLengthKnown ? new ByteArrayContent(bytes) : new StreamContent(new UnknownLengthStream(bytes));
        }

        using var atLimit = await SendAsync(_client, "POST", "orders", "limit-key", content: Body(16));
        using var overLimit = await SendAsync(_client, "POST", "orders", "over-key", content: Body(17));

        atLimit.StatusCode.ShouldBe(HttpStatusCode.Created);
        await ShouldBeProblemAsync(overLimit, 413, "urn:bulwark:problem:payload-too-large");
        _runs.ShouldBe(1);
    }

    [Theory]
    [InlineData(1000, false, true)]
    [InlineData(1000, true, true)]
    [InlineData(1001, false, false)]
    [InlineData(1001, true, false)]
    public async Task Post_ResponseSize_IsStoredUpToTheLimitAndOnlyPassedThroughBeyondIt(int size, bool pipe, bool stored)
    {
        await StartAsync(o => o.MaxResponseBodyBytes = 1000);
        static string BigBody(int size, int run) => new([.. Enumerable.Range(0, size).Select(i => (char)('a' + ((i + run) % 26)))]);

        using var first = await PostAsync($"big?size={size}&pipe={pipe}", "big-key");
        using var second = await PostAsync($"big?size={size}&pipe={pipe}", "big-key");

        (await first.Content.ReadAsStringAsync(Ct)).ShouldBe(BigBody(size, run: 1));
        Replayed(second).ShouldBe(stored);
        (await second.Content.ReadAsStringAsync(Ct)).ShouldBe(BigBody(size, run: stored ? 1 : 2));
        _runs.ShouldBe(stored ? 1 : 2);
    }

    [Fact]
    public async Task UseBulwarkIdempotency_WithoutAddBulwarkIdempotency_Throws()
    {
        var error = await Should.ThrowAsync<InvalidOperationException>(() => TestApp.StartAsync(_ => { }, app => app.UseBulwarkIdempotency()));

        error.Message.ShouldContain("AddBulwarkIdempotency");
    }

    /// <summary>A body HttpClient cannot measure, so it is sent chunked, without Content-Length.</summary>
    private sealed class UnknownLengthStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
