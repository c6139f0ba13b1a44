using System.Text.Json.Nodes;
using Bulwark.Response;
using Bulwark.Server.Response.Connectors;
using Bulwark.TestUtils.Fakes;

namespace Bulwark.Server.Tests.Response.Connectors;

/// <summary><c>http.request</c>, the generic action, against the loopback platform API as "any HTTP API".</summary>
public sealed class HttpRequestHandlerTests : IAsyncLifetime
{
    private const string Token = "generic-api-token-5b1e";

    private readonly ConnectorKit _kit = new();
    private FakePlatformApi _api = null!;

    public async ValueTask InitializeAsync() => _api = await FakePlatformApi.StartAsync(Token);

    public async ValueTask DisposeAsync()
    {
        await _api.DisposeAsync();
        await _kit.DisposeAsync();
    }

    [Fact]
    public async Task Request_SendsMethodPathHeadersAndBody_WithTheBearerToken_AndKeepsTheJsonAnswer()
    {
        var call = _kit.Call(HttpRequestHandler.Action, Api(), parameters: new JsonObject
        {
            ["method"] = "patch",
            ["path"] = "/v1/accounts/acct-1001",
            ["headers"] = new JsonObject { ["X-Reason"] = "bulwark containment" },
            ["body"] = new JsonObject { ["suspended"] = true, ["suspended_until"] = "2026-12-01T00:00:00Z" },
        });

        var outcome = await _kit.ExecuteAsync(call);

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        var request = _api.Requests.ShouldHaveSingleItem();
        (request.Method, request.Path).ShouldBe(("PATCH", "/v1/accounts/acct-1001"));
        request.Header("Authorization").ShouldBe("Bearer " + Token);
        request.Header("X-Reason").ShouldBe("bulwark containment");
        request.Header("Idempotency-Key").ShouldBe(call.IdempotencyKey);
        request.Header("X-Correlation-ID").ShouldBe(call.CorrelationId);
        _api.Account("acct-1001").ShouldBe((true, "2026-12-01T00:00:00Z"));
        outcome.Output.ShouldNotBeNull()["response"]!["suspended"]!.GetValue<bool>().ShouldBeTrue();
    }

    [Theory]
    [InlineData("@evil.example/x")]
    [InlineData("v1/accounts")]
    public async Task PathThatCouldLeaveTheConnectorsOrigin_IsRefused(string path)
    {
        var outcome = await _kit.ExecuteAsync(_kit.Call(HttpRequestHandler.Action, Api(), parameters: new JsonObject { ["path"] = path }));

        outcome.Failure.ShouldBe(RetryOn.None);
        _api.Requests.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("Authorization", "Bearer other")]
    [InlineData("Idempotency-Key", "mine")]
    [InlineData("X-Evil", "a\r\nInjected: yes")]
    public async Task HeadersThatBulwarkOwnsOrThatAreInvalid_AreRefused(string name, string value)
    {
        var outcome = await _kit.ExecuteAsync(_kit.Call(HttpRequestHandler.Action, Api(), parameters: new JsonObject
        {
            ["path"] = "/v1/accounts/acct-1/revoke_tokens",
            ["headers"] = new JsonObject { [name] = value },
        }));

        outcome.Failure.ShouldBe(RetryOn.None);
        _api.Requests.ShouldBeEmpty();
    }

    [Fact]
    public void Describe_MasksTheToken()
    {
        var call = _kit.Call(HttpRequestHandler.Action, Api(), parameters: new JsonObject { ["method"] = "POST", ["path"] = "/v1/accounts/a/revoke_tokens" });

        var described = _kit.Handler(call.Action).Describe(call);

        described["headers"]!["Authorization"]!.GetValue<string>().ShouldBe("Bearer ***");
        described["url"]!.GetValue<string>().ShouldBe(new Uri(_api.BaseAddress, "v1/accounts/a/revoke_tokens").AbsoluteUri);
        ConnectorKit.Raw(described).ShouldNotContain(Token);
    }

    private ConnectorDefinition Api() => _kit.Connector("api", ConnectorType.Http, _api.BaseAddress, Token);
}
