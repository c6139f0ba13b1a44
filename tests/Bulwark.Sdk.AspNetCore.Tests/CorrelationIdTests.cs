using Bulwark.Sdk.AspNetCore.Correlation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Sdk.AspNetCore.Tests;

public sealed class CorrelationIdTests : IAsyncLifetime
{
    private const string Header = "X-Correlation-ID";
    private const string NoHeader = "(none)";
    private readonly CapturingLoggerProvider _logs = new();
    private readonly List<TestApp> _apps = [];
    private TestApp _downstream = null!;
    private int _generated;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        // A second application, reached over real HTTP, that answers with the correlation header it received.
        _downstream = await TestApp.StartAsync(
            _ => { },
            app => app.MapGet("/seen", (HttpRequest request) =>
                request.Headers.TryGetValue(request.Query["header"].FirstOrDefault() ?? Header, out var id) ? id.ToString() : NoHeader));
        _apps.Add(_downstream);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.DisposeAsync();
        }

        _logs.Dispose();
    }

    private string NextGeneratedId() => $"gen-{Interlocked.Increment(ref _generated)}";

    private async Task<HttpClient> StartAsync(Action<CorrelationIdOptions>? configure = null, Action<WebApplication>? before = null)
    {
        var sut = await TestApp.StartAsync(
            builder =>
            {
                builder.Logging.AddProvider(_logs);
                builder.Services.AddBulwarkCorrelationId(o =>
                {
                    o.Generator = NextGeneratedId;
                    configure?.Invoke(o);
                });
                builder.Services.AddHttpClient("downstream", c => c.BaseAddress = _downstream.BaseAddress);
            },
            app =>
            {
                app.UseBulwarkCorrelationId();
                before?.Invoke(app);
                app.MapGet("/id", (HttpContext context, ICorrelationIdAccessor accessor) =>
                    $"{context.Features.Get<ICorrelationIdFeature>()?.CorrelationId}|{accessor.CorrelationId}");
                app.MapGet("/call", async (IHttpClientFactory factory, string? header) =>
                    await factory.CreateClient("downstream").GetStringAsync($"seen?header={header ?? Header}"));
                app.MapGet("/call-unnamed", async (IHttpClientFactory factory) =>
                    await factory.CreateClient().GetStringAsync(new Uri(_downstream.BaseAddress, "seen")));
                app.MapGet("/call-with-own-id", async (IHttpClientFactory factory) =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, "seen");
                    request.Headers.Add(Header, "own-id");
                    using var response = await factory.CreateClient("downstream").SendAsync(request);
                    return await response.Content.ReadAsStringAsync();
                });
                app.MapGet("/log", (ILogger<CorrelationIdTests> logger) => TestLog.Message(logger, "handled"));
                app.MapGet("/fail", string () => throw new InvalidOperationException("boom"));
            });
        _apps.Add(sut);
        return sut.CreateClient();
    }

    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string path, string? id = null, string header = Header)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (id is not null)
        {
            request.Headers.TryAddWithoutValidation(header, id);
        }

        return await client.SendAsync(request, Ct);
    }

    private static string? Echoed(HttpResponseMessage response, string header = Header) =>
        response.Headers.TryGetValues(header, out var values) ? values.Single() : null;

    [Fact]
    public async Task Invoke_NoIncomingId_GeneratesOneAndEchoesAndExposesIt()
    {
        using var client = await StartAsync();

        using var response = await GetAsync(client, "id");

        response.EnsureSuccessStatusCode();
        Echoed(response).ShouldBe("gen-1");
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("gen-1|gen-1");
    }

    [Fact]
    public async Task Invoke_DefaultGenerator_MakesDistinct128BitHexIds()
    {
        using var client = await StartAsync(o => o.Generator = new CorrelationIdOptions().Generator);

        using var first = await GetAsync(client, "id");
        using var second = await GetAsync(client, "id");

        Echoed(first)!.ShouldMatch("^[0-9a-f]{32}$");
        Echoed(second)!.ShouldMatch("^[0-9a-f]{32}$");
        Echoed(first).ShouldNotBe(Echoed(second));
    }

    public static TheoryData<string> ValidIds => ["req-42", "a", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", new string('x', 128)];

    public static TheoryData<string> MalformedIds => ["has space", "tab\tinside", new string('x', 129), ""];

    [Theory]
    [MemberData(nameof(ValidIds))]
    public async Task Invoke_ValidIncomingId_IsAcceptedEchoedAndExposed(string id)
    {
        using var client = await StartAsync();

        using var response = await GetAsync(client, "id", id);

        Echoed(response).ShouldBe(id);
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe($"{id}|{id}");
        _generated.ShouldBe(0);
    }

    [Theory]
    [MemberData(nameof(MalformedIds))]
    public async Task Invoke_MalformedIncomingId_IsReplacedByAGeneratedOne(string id)
    {
        using var client = await StartAsync();

        using var response = await GetAsync(client, "id", id);

        response.EnsureSuccessStatusCode();
        Echoed(response).ShouldBe("gen-1");
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("gen-1|gen-1");
    }

    [Fact]
    public async Task Invoke_EchoDisabled_NoResponseHeaderButIdStillExposed()
    {
        using var client = await StartAsync(o => o.EchoOnResponse = false);

        using var response = await GetAsync(client, "id", "req-1");

        Echoed(response).ShouldBeNull();
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("req-1|req-1");
    }

    [Fact]
    public async Task Invoke_ErrorHandlerClearsTheResponse_IdIsStillEchoed()
    {
        using var client = await StartAsync(before: app => app.UseExceptionHandler(error => error.Run(context =>
        {
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return Task.CompletedTask;
        })));

        using var response = await GetAsync(client, "fail", "req-7");

        ((int)response.StatusCode).ShouldBe(500);
        Echoed(response).ShouldBe("req-7");
    }

    [Fact]
    public async Task Invoke_GeneratorReturnsInvalidId_FailsTheRequest()
    {
        using var client = await StartAsync(o => o.Generator = () => "not valid");

        using var response = await GetAsync(client, "id");

        ((int)response.StatusCode).ShouldBe(500);
        Echoed(response).ShouldBeNull();
    }

    [Theory]
    [InlineData("call", "req-9")]
    [InlineData("call-unnamed", "req-9")]
    [InlineData("call", null)]
    public async Task OutgoingCall_DuringRequest_CarriesTheRequestsId(string path, string? incoming)
    {
        using var client = await StartAsync();

        using var response = await GetAsync(client, path, incoming);

        response.EnsureSuccessStatusCode();
        var seen = await response.Content.ReadAsStringAsync(Ct);
        seen.ShouldBe(incoming ?? "gen-1");
        seen.ShouldBe(Echoed(response));
    }

    [Fact]
    public async Task OutgoingCall_ThatSetsItsOwnId_KeepsIt()
    {
        using var client = await StartAsync();

        using var response = await GetAsync(client, "call-with-own-id", "req-1");

        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("own-id");
    }

    [Fact]
    public async Task OutgoingCall_OutsideAnyRequest_CarriesNoId()
    {
        using var client = await StartAsync();
        using var warmup = await GetAsync(client, "call", "req-1");
        var factory = _apps[^1].Services.GetRequiredService<IHttpClientFactory>();

        var seen = await factory.CreateClient("downstream").GetStringAsync("seen", Ct);

        (await warmup.Content.ReadAsStringAsync(Ct)).ShouldBe("req-1");
        seen.ShouldBe(NoHeader);
    }

    [Fact]
    public async Task Invoke_CustomHeaderName_IsReadEchoedAndPropagated()
    {
        using var client = await StartAsync(o => o.HeaderName = "X-Request-Id");

        using var response = await GetAsync(client, "call?header=X-Request-Id", "req-5", "X-Request-Id");

        Echoed(response, "X-Request-Id").ShouldBe("req-5");
        Echoed(response).ShouldBeNull();
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("req-5");
    }

    [Fact]
    public async Task Invoke_LogWrittenByTheHandler_HasCorrelationIdScope()
    {
        using var client = await StartAsync();

        var logger = _apps[^1].Services.GetRequiredService<ILogger<CorrelationIdTests>>();

        using var response = await GetAsync(client, "log", "req-3");
        TestLog.Message(logger, "outside");

        response.EnsureSuccessStatusCode();
        _logs.ScopeValue("handled", "CorrelationId").ShouldBe("req-3");
        _logs.ScopeValue("outside", "CorrelationId").ShouldBeNull();
    }

    [Fact]
    public async Task UseBulwarkCorrelationId_WithoutAddBulwarkCorrelationId_Throws()
    {
        var error = await Should.ThrowAsync<InvalidOperationException>(() => TestApp.StartAsync(_ => { }, app => app.UseBulwarkCorrelationId()));

        error.Message.ShouldContain("AddBulwarkCorrelationId");
    }
}
