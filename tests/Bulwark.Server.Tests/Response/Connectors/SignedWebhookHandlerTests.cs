using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.Response;
using Bulwark.Server.Response.Connectors;
using Bulwark.TestUtils;
using Bulwark.TestUtils.Fakes;

namespace Bulwark.Server.Tests.Response.Connectors;

/// <summary><c>webhook.signed</c> to a loopback partner, checked with the server's own Standard Webhooks verifier.</summary>
public sealed class SignedWebhookHandlerTests : IAsyncLifetime
{
    private static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    private readonly ConnectorKit _kit = new();
    private readonly string _secret = StandardWebhookSigner.NewSecret();
    private FakePartner _partner = null!;

    public async ValueTask InitializeAsync() => _partner = await FakePartner.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _partner.DisposeAsync();
        await _kit.DisposeAsync();
    }

    [Theory]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330L, "{\"test\": 2432232314}", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")]
    [InlineData("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553L, "{\"email\":\"test@example.com\",\"username\":\"test_user\"}", "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=")]
    public void Signer_MatchesTheSpecificationsVectors(string secret, string id, long timestamp, string payload, string expected) =>
        StandardWebhooksSigner.Sign(secret, id, DateTimeOffset.FromUnixTimeSeconds(timestamp), Encoding.UTF8.GetBytes(payload)).ShouldBe(expected);

    [Fact]
    public void Signer_RefusesAnIdWithAFullStop_AndABadSecret_WithoutEchoingIt()
    {
        Should.Throw<ArgumentException>(() => StandardWebhooksSigner.Sign(_secret, "msg.1", _kit.Time.GetUtcNow(), [1]));
        var error = Should.Throw<ArgumentException>(() => StandardWebhooksSigner.Sign("whsec_!!not-base64!!", "msg_1", _kit.Time.GetUtcNow(), [1]));
        error.Message.ShouldNotContain("!!not-base64!!");
    }

    [Fact]
    public async Task Delivery_VerifiesWithTheServersVerifier_AndItsIdIsTheIdempotencyKey()
    {
        var call = _kit.Call(SignedWebhookHandler.Action, Partner(), parameters: new JsonObject { ["type"] = "bulwark.account.contained" });

        var outcome = await _kit.ExecuteAsync(call);

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        outcome.HttpStatus.ShouldBe(204);
        var delivery = _partner.Requests.ShouldHaveSingleItem();
        delivery.Header("webhook-id").ShouldBe(call.IdempotencyKey);
        delivery.Header("Idempotency-Key").ShouldBe(call.IdempotencyKey);
        delivery.Header("X-Correlation-ID").ShouldBe(call.CorrelationId);
        delivery.Header("webhook-timestamp").ShouldBe(_kit.Time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        var verified = Verify(delivery, _kit.Time.GetUtcNow());
        verified.IsVerified.ShouldBeTrue(verified.Detail);
        verified.DeliveryId.ShouldBe(call.IdempotencyKey);
        var body = delivery.Json;
        body["type"]!.GetValue<string>().ShouldBe("bulwark.account.contained");
        body["data"]!["incident"]!["id"]!.GetValue<string>().ShouldBe(call.Incident.Id);
        body["data"]!["target"]!.GetValue<string>().ShouldBe(call.Target);
        ConnectorKit.ShouldNotLeak(outcome, _secret);
    }

    [Fact]
    public async Task Retry_LaterAttempt_KeepsTheIdAndBody_SignsItsOwnTimestamp()
    {
        var call = _kit.Call(SignedWebhookHandler.Action, Partner());
        _partner.FailNext(1, 503);
        var first = await _kit.ExecuteAsync(call);
        _kit.Time.Advance(TimeSpan.FromMinutes(30));

        var second = await _kit.ExecuteAsync(call with { Attempt = 2 });

        first.Failure.ShouldBe(RetryOn.ServerError);
        second.Succeeded.ShouldBeTrue(second.Error);
        var (early, late) = (_partner.Requests[0], _partner.Requests[1]);
        late.Header("webhook-id").ShouldBe(early.Header("webhook-id"));
        late.Body.ShouldBe(early.Body);
        late.Header("webhook-timestamp").ShouldNotBe(early.Header("webhook-timestamp"));
        Verify(late, _kit.Time.GetUtcNow()).IsVerified.ShouldBeTrue();
        Verify(early, _kit.Time.GetUtcNow()).IsVerified.ShouldBeFalse();
    }

    [Theory]
    [InlineData(410, RetryOn.None)]
    [InlineData(404, RetryOn.ServerError)]
    [InlineData(400, RetryOn.ServerError)]
    [InlineData(301, RetryOn.ServerError)]
    [InlineData(429, RetryOn.TooManyRequests)]
    [InlineData(504, RetryOn.ServerError)]
    public async Task Answers_AreClassifiedAsTheSpecificationSays(int status, RetryOn expected)
    {
        _partner.FailNext(1, status);

        var outcome = await _kit.ExecuteAsync(_kit.Call(SignedWebhookHandler.Action, Partner()));

        outcome.Succeeded.ShouldBeFalse();
        outcome.Failure.ShouldBe(expected);
        outcome.HttpStatus.ShouldBe(status);
    }

    [Fact]
    public async Task SecretThatIsNotWhsec_FailsWithoutCalling_AndIsNotEchoed()
    {
        var connector = _kit.Connector("partner-bad", ConnectorType.Webhook, _partner.EndpointUrl, "plain-shared-secret-value");

        var outcome = await _kit.ExecuteAsync(_kit.Call(SignedWebhookHandler.Action, connector));

        outcome.Failure.ShouldBe(RetryOn.None);
        ConnectorKit.ShouldNotLeak(outcome, "plain-shared-secret-value");
        _partner.Requests.ShouldBeEmpty();
    }

    [Fact]
    public void Describe_MasksTheSignature()
    {
        var call = _kit.Call(SignedWebhookHandler.Action, Partner());

        var described = _kit.Handler(call.Action).Describe(call);

        described["headers"]!["webhook-signature"]!.GetValue<string>().ShouldBe("v1,***");
        described["headers"]!["webhook-id"]!.GetValue<string>().ShouldBe(call.IdempotencyKey);
        described["url"]!.GetValue<string>().ShouldBe(_partner.EndpointUrl.AbsoluteUri);
        ConnectorKit.Raw(described).ShouldNotContain(_secret);
        _partner.Requests.ShouldBeEmpty();
    }

    private VerificationResult Verify(RecordedRequest delivery, DateTimeOffset now) =>
        StandardWebhooksScheme.Instance.Verify(
            new WebhookRequest(delivery.Method, delivery.Headers, new Dictionary<string, string>(), delivery.Body),
            new SchemeSecrets([_secret]),
            now,
            Tolerance);

    private ConnectorDefinition Partner() => _kit.Connector("partner", ConnectorType.Webhook, _partner.EndpointUrl, _secret);
}
