using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Response;
using Bulwark.Server.Response.Connectors;
using Bulwark.TestUtils.Fakes;

namespace Bulwark.Server.Tests.Response.Connectors;

/// <summary>The platform actions against a loopback platform API that honours <c>Idempotency-Key</c>.</summary>
public sealed class PlatformActionHandlerTests : IAsyncLifetime
{
    private const string Token = "plat_live_8d1f0c2b7a-secret-token";

    private readonly ConnectorKit _kit = new();
    private FakePlatformApi _platform = null!;
    private FakeJira _jira = null!;

    public async ValueTask InitializeAsync()
    {
        _platform = await FakePlatformApi.StartAsync(Token);
        _jira = await FakeJira.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _platform.DisposeAsync();
        await _jira.DisposeAsync();
        await _kit.DisposeAsync();
    }

    [Theory]
    [InlineData(PlatformActionHandler.RevokeTokens, "revoke_tokens")]
    [InlineData(PlatformActionHandler.ExpireSessions, "expire_sessions")]
    [InlineData(PlatformActionHandler.ForcePasswordReset, "force_password_reset")]
    public async Task PostAction_DefaultMapping_PostsToTheAccountWithBearerIdempotencyKeyAndCorrelationId(string action, string path)
    {
        var call = _kit.Call(action, Platform(), target: "acct-1001");

        var outcome = await _kit.ExecuteAsync(call);

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        outcome.HttpStatus.ShouldBe(200);
        var request = _platform.Requests.ShouldHaveSingleItem();
        request.Method.ShouldBe("POST");
        request.Path.ShouldBe($"/v1/accounts/acct-1001/{path}");
        request.Header("Authorization").ShouldBe("Bearer " + Token);
        request.Header("Idempotency-Key").ShouldBe(call.IdempotencyKey);
        request.Header("X-Correlation-ID").ShouldBe(call.CorrelationId);
        _platform.SideEffects("acct-1001", path).ShouldBe(1);
    }

    [Fact]
    public async Task Suspend_WithDuration_PatchesTheAccountUntilNowPlusTheDuration()
    {
        var call = _kit.Call(PlatformActionHandler.Suspend, Platform(), parameters: new JsonObject { ["duration"] = "24h" });

        var outcome = await _kit.ExecuteAsync(call);

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        var request = _platform.Requests.ShouldHaveSingleItem();
        request.Method.ShouldBe("PATCH");
        request.Path.ShouldBe("/v1/accounts/acct-1001");
        var until = AuditChain.FormatTime(_kit.Time.GetUtcNow().AddHours(24));
        JsonNode.DeepEquals(request.Json, new JsonObject { ["suspended"] = true, ["suspended_until"] = until }).ShouldBeTrue(request.Text);
        _platform.Account("acct-1001").ShouldBe((true, until));
    }

    [Fact]
    public async Task Suspend_WithUntil_SendsItAsWritten_AndWithNeitherSendsNull()
    {
        var connector = Platform();
        await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.Suspend, connector, target: "acct-a", parameters: new JsonObject { ["until"] = "2026-01-20T00:00:00Z" }));
        await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.Suspend, connector, target: "acct-b"));

        _platform.Requests[0].Json["suspended_until"]!.GetValue<string>().ShouldBe("2026-01-20T00:00:00Z");
        var open = _platform.Requests[1].Json.AsObject();
        open.ContainsKey("suspended_until").ShouldBeTrue();
        open["suspended_until"].ShouldBeNull();
        _platform.Account("acct-b").ShouldBe((true, null));
    }

    [Fact]
    public async Task Unsuspend_PatchesSuspendedFalse()
    {
        var connector = Platform();
        await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.Suspend, connector, parameters: new JsonObject { ["duration"] = "1h" }));

        var outcome = await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.Unsuspend, connector));

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        JsonNode.DeepEquals(_platform.Requests[1].Json, new JsonObject { ["suspended"] = false }).ShouldBeTrue();
        _platform.Account("acct-1001").Suspended.ShouldBeFalse();
    }

    [Fact]
    public async Task SameCallTwice_SameIdempotencyKey_ThePlatformAppliesItOnce()
    {
        var call = _kit.Call(PlatformActionHandler.RevokeTokens, Platform());

        (await _kit.ExecuteAsync(call)).Succeeded.ShouldBeTrue();
        (await _kit.ExecuteAsync(call with { Attempt = 2 })).Succeeded.ShouldBeTrue();

        _platform.Requests.Count.ShouldBe(2);
        _platform.Requests.Select(r => r.Header("Idempotency-Key")).Distinct().ShouldHaveSingleItem().ShouldBe(call.IdempotencyKey);
        _platform.SideEffects("acct-1001").ShouldBe(1);
    }

    [Fact]
    public async Task TooManyRequests_RetryAfterSeconds_IsRetryableWithThatDelay_AndAppliesNothing()
    {
        _platform.FailNext(1, 429, retryAfter: TimeSpan.FromSeconds(7));

        var outcome = await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.RevokeTokens, Platform()));

        outcome.Succeeded.ShouldBeFalse();
        outcome.Failure.ShouldBe(RetryOn.TooManyRequests);
        outcome.HttpStatus.ShouldBe(429);
        outcome.RetryAfter.ShouldBe(TimeSpan.FromSeconds(7));
        _platform.SideEffects("acct-1001").ShouldBe(0);
    }

    [Fact]
    public async Task TooManyRequests_RetryAfterHttpDate_IsTheWaitFromTheServersClock()
    {
        _platform.FailNext(1, 429, retryAt: _kit.Time.GetUtcNow().AddSeconds(90));

        var outcome = await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.RevokeTokens, Platform()));

        outcome.Failure.ShouldBe(RetryOn.TooManyRequests);
        outcome.RetryAfter.ShouldBe(TimeSpan.FromSeconds(90));
    }

    [Theory]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(503)]
    public async Task ServerError_IsRetryableAsServerError(int status)
    {
        _platform.FailNext(1, status, body: "upstream unavailable");

        var outcome = await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.ForcePasswordReset, Platform()));

        outcome.Failure.ShouldBe(RetryOn.ServerError);
        outcome.HttpStatus.ShouldBe(status);
        outcome.Error.ShouldNotBeNull().ShouldContain("upstream unavailable");
    }

    [Fact]
    public async Task NotFound_IsAFailureNoRetryFixes()
    {
        var connector = Platform(actions: new() { ["revoke_tokens"] = new HttpMapping("POST", "/v2/users/{{target}}/logout", null) });

        var outcome = await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.RevokeTokens, connector));

        outcome.Succeeded.ShouldBeFalse();
        outcome.Failure.ShouldBe(RetryOn.None);
        outcome.HttpStatus.ShouldBe(404);
    }

    [Fact]
    public async Task WrongToken_401_IsPermanent_AndTheErrorHoldsNoSecret()
    {
        var connector = _kit.Connector("platform-wrong", ConnectorType.Platform, _platform.BaseAddress, "not-the-token-" + Token);

        var outcome = await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.RevokeTokens, connector));

        outcome.Failure.ShouldBe(RetryOn.None);
        outcome.HttpStatus.ShouldBe(401);
        ConnectorKit.ShouldNotLeak(outcome, Token);
    }

    [Fact]
    public async Task Stalled_TimesOutOnTheServersClock_ThenTheRetryWithTheSameKeyAppliesNothingTwice()
    {
        // The connector's 2 s is shorter than the step's 10 s: the call gives up at 2 s.
        var connector = Platform(change: c => c with { Timeout = TimeSpan.FromSeconds(2) });
        var call = _kit.Call(PlatformActionHandler.RevokeTokens, connector, timeout: TimeSpan.FromSeconds(10));
        _platform.StallNext(1);

        var pending = _kit.ExecuteAsync(call);
        await _platform.WaitForRequestsAsync(1, ConnectorKit.Ct);
        _kit.Time.Advance(TimeSpan.FromSeconds(2));
        var outcome = await pending;

        outcome.Succeeded.ShouldBeFalse();
        outcome.Failure.ShouldBe(RetryOn.Timeout);
        outcome.HttpStatus.ShouldBeNull();
        outcome.Error.ShouldNotBeNull().ShouldContain("2s");
        _platform.SideEffects("acct-1001").ShouldBe(1);

        var retried = await _kit.ExecuteAsync(call with { Attempt = 2 });

        retried.Succeeded.ShouldBeTrue(retried.Error);
        _platform.SideEffects("acct-1001").ShouldBe(1);
    }

    [Fact]
    public async Task ConnectionRefused_IsATimeoutKindOfFailure()
    {
        var gone = await FakePlatformApi.StartAsync(Token);
        var address = gone.BaseAddress;
        await gone.DisposeAsync();
        var connector = _kit.Connector("platform-gone", ConnectorType.Platform, address, Token);

        var outcome = await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.RevokeTokens, connector));

        outcome.Failure.ShouldBe(RetryOn.Timeout);
        outcome.Error.ShouldNotBeNull().ShouldContain("connection");
        ConnectorKit.ShouldNotLeak(outcome, Token);
    }

    [Fact]
    public async Task ConnectorMapping_ReplacesTheDefault_WithTargetIncidentAndCorrelationRendered()
    {
        var connector = Platform(actions: new()
        {
            ["platform.revoke_tokens"] = new HttpMapping("POST", "/v1/accounts/{{ target }}/logout_everywhere", new JsonObject
            {
                ["reason"] = "bulwark {{incident.id}}",
                ["trace"] = new JsonArray("{{correlation_id}}"),
            }),
        });
        var call = _kit.Call(PlatformActionHandler.RevokeTokens, connector, target: "acct/1 x");

        var outcome = await _kit.ExecuteAsync(call);

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        var request = _platform.Requests.ShouldHaveSingleItem();
        var effect = _platform.Effects.ShouldHaveSingleItem();
        (effect.Account, effect.Action, effect.IdempotencyKey).ShouldBe(("acct/1 x", "logout_everywhere", call.IdempotencyKey));
        request.Json["reason"]!.GetValue<string>().ShouldBe("bulwark " + call.Incident.Id);
        request.Json["trace"]![0]!.GetValue<string>().ShouldBe(call.CorrelationId);
    }

    [Fact]
    public async Task ConnectorMapping_WithAnUnknownPlaceholder_FailsWithoutCalling()
    {
        var connector = Platform(actions: new() { ["expire_sessions"] = new HttpMapping("POST", "/v1/accounts/{{account.email}}/expire", null) });

        var outcome = await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.ExpireSessions, connector));

        outcome.Failure.ShouldBe(RetryOn.None);
        outcome.Error.ShouldNotBeNull().ShouldContain("{{account.email}}");
        _platform.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task MappedToTicket_FilesOneSupportTicketPerCall_InsteadOfCallingThePlatform()
    {
        var connector = PlatformWithTicketFallback();
        var call = _kit.Call(PlatformActionHandler.Suspend, connector, target: "acct-1002", parameters: new JsonObject { ["until"] = "2026-12-01T00:00:00Z" });

        var outcome = await _kit.ExecuteAsync(call);

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        _platform.Requests.ShouldBeEmpty();
        var issue = _jira.Issues.ShouldHaveSingleItem();
        outcome.Output.ShouldNotBeNull()["key"]!.GetValue<string>().ShouldBe(issue.Key);
        outcome.Output["fallback"]!.GetValue<string>().ShouldBe("ticket");
        issue.Labels.ShouldContain("bulwark-support");
        issue.Labels.ShouldContain("bulwark-call-" + call.IdempotencyKey);
        issue.Labels.ShouldNotContain("bulwark-" + call.Incident.Id);
        var summary = issue.Fields["summary"]!.GetValue<string>();
        summary.ShouldContain("suspend");
        summary.ShouldContain("acct-1002");
        summary.ShouldContain("2026-12-01T00:00:00Z");
        issue.Fields["description"]!.ToJsonString().ShouldContain(call.Incident.Id);

        var again = await _kit.ExecuteAsync(call with { Attempt = 2 });
        var otherAccount = await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.Suspend, connector, target: "acct-1001"));

        again.Output.ShouldNotBeNull()["key"]!.GetValue<string>().ShouldBe(issue.Key);
        otherAccount.Succeeded.ShouldBeTrue(otherAccount.Error);
        _jira.Issues.Count.ShouldBe(2);
    }

    [Fact]
    public async Task MappedToTicket_WithoutATicketConnector_FailsPermanently()
    {
        var connector = Platform(actions: new() { ["force_password_reset"] = HttpMapping.Ticket });

        var outcome = await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.ForcePasswordReset, connector));

        outcome.Failure.ShouldBe(RetryOn.None);
        outcome.Error.ShouldNotBeNull().ShouldContain("ticket connector");
        _platform.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task SecretNotSet_FailsPermanently_NamingTheReferenceOnly()
    {
        var connector = _kit.Connector("platform-unset", ConnectorType.Platform, _platform.BaseAddress, secretValue: null);

        var outcome = await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.RevokeTokens, connector));

        outcome.Failure.ShouldBe(RetryOn.None);
        outcome.Error.ShouldNotBeNull().ShouldContain("env:CONNECTOR_PLATFORM_UNSET");
        _platform.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task ConnectorOfAnotherType_FailsPermanently()
    {
        var slack = _kit.Connector("slack", ConnectorType.Slack, null, "https://hooks.slack.example/x");

        var outcome = await _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.RevokeTokens, slack));

        outcome.Failure.ShouldBe(RetryOn.None);
        outcome.Error.ShouldNotBeNull().ShouldContain("platform");
    }

    [Fact]
    public async Task Describe_IsTheRequestItWouldSend_WithTheTokenMasked_AndCallsNothing()
    {
        var call = _kit.Call(PlatformActionHandler.Suspend, Platform(), parameters: new JsonObject { ["until"] = "2026-12-01T00:00:00Z" });

        var described = _kit.Handler(call.Action).Describe(call);

        described["method"]!.GetValue<string>().ShouldBe("PATCH");
        described["url"]!.GetValue<string>().ShouldBe(new Uri(_platform.BaseAddress, "v1/accounts/acct-1001").AbsoluteUri);
        described["headers"]!["Authorization"]!.GetValue<string>().ShouldBe("Bearer ***");
        described["headers"]!["Idempotency-Key"]!.GetValue<string>().ShouldBe(call.IdempotencyKey);
        described["body"]!["suspended_until"]!.GetValue<string>().ShouldBe("2026-12-01T00:00:00Z");
        ConnectorKit.Raw(described).ShouldNotContain(Token);
        _platform.Requests.ShouldBeEmpty();

        var ticket = _kit.Handler(call.Action).Describe(call with { Connector = PlatformWithTicketFallback() });
        ticket["fallback"]!.GetValue<string>().ShouldBe("ticket");
        ticket["headers"]!["Authorization"]!.GetValue<string>().ShouldBe("Basic ***");
        ConnectorKit.Raw(ticket).ShouldNotContain(_jira.Token);
        _jira.Requests.ShouldBeEmpty();
    }

    private ConnectorDefinition Platform(Dictionary<string, HttpMapping>? actions = null, Func<ConnectorDefinition, ConnectorDefinition>? change = null) =>
        _kit.Connector("platform", ConnectorType.Platform, _platform.BaseAddress, Token, c =>
        {
            var platform = c with { Platform = "instagram", Actions = actions ?? c.Actions };
            return change?.Invoke(platform) ?? platform;
        });

    private ConnectorDefinition PlatformWithTicketFallback()
    {
        _kit.Connector("jira", ConnectorType.Jira, _jira.BaseAddress, _jira.Secret, c => c with { Project = _jira.Project });
        return Platform(actions: new() { ["suspend"] = HttpMapping.Ticket }, change: c => c with { TicketConnector = "jira" });
    }
}
