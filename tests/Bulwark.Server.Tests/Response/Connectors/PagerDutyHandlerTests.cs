using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Detection.Incidents;
using Bulwark.Response;
using Bulwark.Server.Response.Connectors;
using Bulwark.TestUtils.Fakes;

namespace Bulwark.Server.Tests.Response.Connectors;

/// <summary><c>notify.pagerduty</c> and its resolve against a loopback Events API v2.</summary>
public sealed class PagerDutyHandlerTests : IAsyncLifetime
{
    private readonly ConnectorKit _kit = new();
    private FakePagerDuty _pagerDuty = null!;

    public async ValueTask InitializeAsync() => _pagerDuty = await FakePagerDuty.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _pagerDuty.DisposeAsync();
        await _kit.DisposeAsync();
    }

    [Fact]
    public async Task Trigger_SendsTheEventsV2Shape_And202IsSuccess()
    {
        var call = _kit.Call(PagerDutyHandler.Trigger, PagerDuty());

        var outcome = await _kit.ExecuteAsync(call);

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        outcome.HttpStatus.ShouldBe(202);
        outcome.Output.ShouldNotBeNull()["dedup_key"]!.GetValue<string>().ShouldBe("bulwark-" + call.Incident.Id);
        var request = _pagerDuty.Requests.ShouldHaveSingleItem();
        request.Path.ShouldBe("/v2/enqueue");
        request.Header("Idempotency-Key").ShouldBe(call.IdempotencyKey);
        request.Header("X-Correlation-ID").ShouldBe(call.CorrelationId);
        var body = request.Json;
        body["routing_key"]!.GetValue<string>().ShouldBe(_pagerDuty.RoutingKey);
        body["event_action"]!.GetValue<string>().ShouldBe("trigger");
        body["dedup_key"]!.GetValue<string>().ShouldBe("bulwark-" + call.Incident.Id);
        var payload = body["payload"]!;
        payload["summary"]!.GetValue<string>().ShouldContain(call.Incident.Title);
        payload["source"]!.GetValue<string>().ShouldBe("bulwark");
        payload["severity"]!.GetValue<string>().ShouldBe("error");
        payload["timestamp"]!.GetValue<string>().ShouldBe(AuditChain.FormatTime(call.Incident.CreatedAt));
        var details = payload["custom_details"]!;
        details["accounts"]!.AsArray().Select(a => a!.GetValue<string>()).ShouldBe(call.Incident.Accounts);
        details["ips"]!.AsArray().Select(a => a!.GetValue<string>()).ShouldBe(call.Incident.Ips);
        details["rules"]!.AsArray().Select(a => a!.GetValue<string>()).ShouldBe(call.Incident.Rules);
        details["confidence"]!.GetValue<double>().ShouldBe(call.Incident.Confidence);
        details["link"]!.GetValue<string>().ShouldBe($"{ConnectorKit.PublicUrl}v1/incidents/{call.Incident.Id}");
        _pagerDuty.Alerts.ShouldHaveSingleItem().Status.ShouldBe("triggered");
    }

    [Theory]
    [InlineData(Severity.Critical, "critical")]
    [InlineData(Severity.High, "error")]
    [InlineData(Severity.Medium, "warning")]
    [InlineData(Severity.Low, "info")]
    public async Task Trigger_MapsTheIncidentSeverity(Severity severity, string expected)
    {
        var outcome = await _kit.ExecuteAsync(_kit.Call(PagerDutyHandler.Trigger, PagerDuty(), incident: ConnectorKit.Incident(severity: severity)));

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        _pagerDuty.Alerts.ShouldHaveSingleItem().LastPayload["severity"]!.GetValue<string>().ShouldBe(expected);
    }

    [Fact]
    public async Task RepeatedTriggers_ForOneIncident_UpdateOneAlert_AndResolveClosesIt()
    {
        var connector = PagerDuty();
        await _kit.ExecuteAsync(_kit.Call(PagerDutyHandler.Trigger, connector, step: "page"));
        await _kit.ExecuteAsync(_kit.Call(PagerDutyHandler.Trigger, connector, step: "page-again", parameters: new JsonObject { ["summary"] = "Still going" }));

        var alert = _pagerDuty.Alerts.ShouldHaveSingleItem();
        alert.Triggers.ShouldBe(2);
        alert.LastPayload["summary"]!.GetValue<string>().ShouldBe("Still going");

        var resolved = await _kit.ExecuteAsync(_kit.Call(PagerDutyHandler.Resolve, connector, step: "page.compensate"));

        resolved.Succeeded.ShouldBeTrue(resolved.Error);
        var body = _pagerDuty.Requests[^1].Json.AsObject();
        body.Select(p => p.Key).Order().ShouldBe(["dedup_key", "event_action", "routing_key"]);
        body["event_action"]!.GetValue<string>().ShouldBe("resolve");
        body["dedup_key"]!.GetValue<string>().ShouldBe(alert.DedupKey);
        _pagerDuty.Alerts.ShouldHaveSingleItem().Status.ShouldBe("resolved");
    }

    [Fact]
    public async Task WrongRoutingKey_400_IsPermanent_AndTheKeyIsInNoOutcome()
    {
        const string wrong = "WR0NGR0UT1NGKEY0123456789ABCDEFG";
        var connector = _kit.Connector("pagerduty-wrong", ConnectorType.PagerDuty, _pagerDuty.EnqueueUrl, wrong);

        var outcome = await _kit.ExecuteAsync(_kit.Call(PagerDutyHandler.Trigger, connector));

        outcome.Failure.ShouldBe(RetryOn.None);
        outcome.HttpStatus.ShouldBe(400);
        outcome.Error.ShouldNotBeNull().ShouldContain("invalid event");
        ConnectorKit.ShouldNotLeak(outcome, wrong);
    }

    [Fact]
    public async Task InvalidSeverityParameter_FailsWithoutCalling()
    {
        var outcome = await _kit.ExecuteAsync(_kit.Call(PagerDutyHandler.Trigger, PagerDuty(), parameters: new JsonObject { ["severity"] = "high" }));

        outcome.Failure.ShouldBe(RetryOn.None);
        _pagerDuty.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task TooManyRequests_AndServerErrors_AreRetryable()
    {
        _pagerDuty.FailNext(1, 429, retryAfter: TimeSpan.FromMinutes(2));
        _pagerDuty.FailNext(1, 502);

        var limited = await _kit.ExecuteAsync(_kit.Call(PagerDutyHandler.Trigger, PagerDuty()));
        var bad = await _kit.ExecuteAsync(_kit.Call(PagerDutyHandler.Trigger, PagerDuty()));

        limited.Failure.ShouldBe(RetryOn.TooManyRequests);
        limited.RetryAfter.ShouldBe(TimeSpan.FromMinutes(2));
        bad.Failure.ShouldBe(RetryOn.ServerError);
        _pagerDuty.Alerts.ShouldBeEmpty();
    }

    [Fact]
    public void Describe_MasksTheRoutingKey()
    {
        var call = _kit.Call(PagerDutyHandler.Trigger, PagerDuty());

        var described = _kit.Handler(call.Action).Describe(call);

        described["url"]!.GetValue<string>().ShouldBe(_pagerDuty.EnqueueUrl.AbsoluteUri);
        described["body"]!["routing_key"]!.GetValue<string>().ShouldBe("***");
        described["body"]!["dedup_key"]!.GetValue<string>().ShouldBe("bulwark-" + call.Incident.Id);
        ConnectorKit.Raw(described).ShouldNotContain(_pagerDuty.RoutingKey);
        _pagerDuty.Requests.ShouldBeEmpty();
    }

    [Fact]
    public void WithoutUrl_TheConnectorUsesPagerDutysEndpoint()
    {
        var connector = _kit.Connector("pagerduty-cloud", ConnectorType.PagerDuty, null, _pagerDuty.RoutingKey);

        var described = _kit.Handler(PagerDutyHandler.Trigger).Describe(_kit.Call(PagerDutyHandler.Trigger, connector));

        described["url"]!.GetValue<string>().ShouldBe("https://events.pagerduty.com/v2/enqueue");
    }

    private ConnectorDefinition PagerDuty() => _kit.Connector("pagerduty", ConnectorType.PagerDuty, _pagerDuty.EnqueueUrl, _pagerDuty.RoutingKey);
}
