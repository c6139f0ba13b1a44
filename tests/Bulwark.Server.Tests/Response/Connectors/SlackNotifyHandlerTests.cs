using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Response;
using Bulwark.Server.Response.Connectors;
using Bulwark.TestUtils.Fakes;

namespace Bulwark.Server.Tests.Response.Connectors;

/// <summary><c>notify.slack</c> against a loopback incoming webhook whose URL is the connector's secret.</summary>
public sealed class SlackNotifyHandlerTests : IAsyncLifetime
{
    private readonly ConnectorKit _kit = new();
    private FakeSlack _slack = null!;

    public async ValueTask InitializeAsync() => _slack = await FakeSlack.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _slack.DisposeAsync();
        await _kit.DisposeAsync();
    }

    [Fact]
    public async Task Notify_PostsTextAndBlocksToTheSecretUrl_AndSlacksOkIsSuccess()
    {
        var call = _kit.Call(SlackNotifyHandler.Action, Slack(), parameters: new JsonObject { ["text"] = "Containment started for 2 accounts" });

        var outcome = await _kit.ExecuteAsync(call);

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        outcome.HttpStatus.ShouldBe(200);
        var request = _slack.Requests.ShouldHaveSingleItem();
        request.Header("Idempotency-Key").ShouldBe(call.IdempotencyKey);
        request.Header("X-Correlation-ID").ShouldBe(call.CorrelationId);
        request.Header("Content-Type").ShouldNotBeNull().ShouldStartWith("application/json");
        var message = _slack.Posted.ShouldHaveSingleItem();
        message["text"]!.GetValue<string>().ShouldBe("Containment started for 2 accounts");
        var blocks = message["blocks"].ShouldBeOfType<JsonArray>();
        blocks[0]!["type"]!.GetValue<string>().ShouldBe("section");
        blocks[0]!["text"]!["type"]!.GetValue<string>().ShouldBe("mrkdwn");
        blocks[0]!["text"]!["text"]!.GetValue<string>().ShouldBe("Containment started for 2 accounts");
        var headline = blocks[1]!["text"]!["text"]!.GetValue<string>();
        headline.ShouldContain($"<{ConnectorKit.PublicUrl}v1/incidents/{call.Incident.Id}|{call.Incident.Id}>");
        headline.ShouldContain("HIGH");
        var fields = blocks[2]!["fields"].ShouldBeOfType<JsonArray>().Select(f => f!["text"]!.GetValue<string>()).ToList();
        fields.ShouldContain(f => f.Contains("acct-1001, acct-1002", StringComparison.Ordinal));
        fields.ShouldContain(f => f.Contains("203.0.113.9", StringComparison.Ordinal));
        fields.ShouldContain(f => f.Contains("0.93", StringComparison.Ordinal));
        blocks[^1]!["type"]!.GetValue<string>().ShouldBe("context");
    }

    [Fact]
    public async Task Notify_WithoutText_FallsBackToTheIncident_AndEscapesSlackControlCharacters()
    {
        var incident = ConnectorKit.Incident(title: "Reset storm <b>&</b> device swap", severity: Severity.Critical);

        var outcome = await _kit.ExecuteAsync(_kit.Call(SlackNotifyHandler.Action, Slack(), incident: incident));

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        var message = _slack.Posted.ShouldHaveSingleItem();
        var text = message["text"]!.GetValue<string>();
        text.ShouldContain(incident.Id);
        text.ShouldContain("CRITICAL");
        var headline = message["blocks"]![0]!["text"]!["text"]!.GetValue<string>();
        headline.ShouldContain("Reset storm &lt;b&gt;&amp;&lt;/b&gt; device swap");
    }

    [Theory]
    [InlineData(400, "invalid_payload")]
    [InlineData(403, "action_prohibited")]
    [InlineData(404, "channel_not_found")]
    [InlineData(410, "channel_is_archived")]
    [InlineData(404, "no_service")]
    public async Task SlackError_IsAFailureNoRetryFixes_NamedAndExplained(int status, string code)
    {
        _slack.FailNext(1, status, body: code);

        var outcome = await _kit.ExecuteAsync(_kit.Call(SlackNotifyHandler.Action, Slack()));

        outcome.Succeeded.ShouldBeFalse();
        outcome.Failure.ShouldBe(RetryOn.None);
        outcome.HttpStatus.ShouldBe(status);
        var error = outcome.Error.ShouldNotBeNull();
        error.ShouldContain(code);
        error.Length.ShouldBeGreaterThan(code.Length + 40);
        ConnectorKit.ShouldNotLeak(outcome, _slack.WebhookUrl);
    }

    [Fact]
    public async Task EmptyText_AndNoBlocks_SlackAnswersNoText()
    {
        var outcome = await _kit.ExecuteAsync(_kit.Call(SlackNotifyHandler.Action, Slack(), parameters: new JsonObject { ["text"] = "", ["blocks"] = new JsonArray() }));

        outcome.Failure.ShouldBe(RetryOn.None);
        outcome.HttpStatus.ShouldBe(400);
        outcome.Error.ShouldNotBeNull().ShouldContain("no_text");
    }

    [Fact]
    public async Task RateLimited_IsRetryableWithRetryAfter_AndServerErrorsAreRetryable()
    {
        _slack.FailNext(1, 429, body: "rate_limited", retryAfter: TimeSpan.FromSeconds(1));
        _slack.FailNext(1, 503);

        var limited = await _kit.ExecuteAsync(_kit.Call(SlackNotifyHandler.Action, Slack()));
        var unavailable = await _kit.ExecuteAsync(_kit.Call(SlackNotifyHandler.Action, Slack()));

        limited.Failure.ShouldBe(RetryOn.TooManyRequests);
        limited.RetryAfter.ShouldBe(TimeSpan.FromSeconds(1));
        unavailable.Failure.ShouldBe(RetryOn.ServerError);
    }

    [Fact]
    public async Task UnreachableWebhook_TheErrorNeverHoldsTheUrl()
    {
        var gone = await FakeSlack.StartAsync();
        var url = gone.WebhookUrl;
        await gone.DisposeAsync();

        var outcome = await _kit.ExecuteAsync(_kit.Call(SlackNotifyHandler.Action, _kit.Connector("slack-gone", ConnectorType.Slack, null, url)));

        outcome.Failure.ShouldBe(RetryOn.Timeout);
        ConnectorKit.ShouldNotLeak(outcome, url);
        ConnectorKit.ShouldNotLeak(outcome, new Uri(url).AbsolutePath);
    }

    [Fact]
    public void Describe_MasksTheWebhookUrl_AndShowsTheMessage()
    {
        var call = _kit.Call(SlackNotifyHandler.Action, Slack(), parameters: new JsonObject { ["text"] = "hello" });

        var described = _kit.Handler(call.Action).Describe(call);

        described["url"]!.GetValue<string>().ShouldBe("***");
        described["body"]!["text"]!.GetValue<string>().ShouldBe("hello");
        ConnectorKit.Raw(described).ShouldNotContain(new Uri(_slack.WebhookUrl).AbsolutePath);
        _slack.Requests.ShouldBeEmpty();
    }

    private ConnectorDefinition Slack() => _kit.Connector("slack-secops", ConnectorType.Slack, null, _slack.WebhookUrl);
}
