using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Schemes.SchemeTesting;

namespace Bulwark.Core.Tests.Ingest.Schemes;

public sealed class SlackSchemeTests
{
    // TV-SLACK-1 (api.slack.com "Verifying requests from Slack").
    private const string Secret = "8f742231b10e8888abcd99yyyzzz85a5";
    private const long Timestamp = 1531420618;
    private const string Body =
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar"
        + "&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com"
        + "%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

    private const string Signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    private static readonly SlackScheme Sut = SlackScheme.Instance;

    [Fact]
    public void Verify_TvSlack1AtTsPlus3_VerifiedWithSignedAtAndNoDeliveryId()
    {
        var result = Sut.Verify(Delivery(Signature), Secrets(Secret), At(Timestamp, 3), Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.SignedAt.ShouldBe(At(Timestamp));
        result.DeliveryId.ShouldBeNull();
    }

    [Fact]
    public void Verify_TvSlack1AtTsPlus301_TimestampOutsideWindowTooOld()
    {
        var result = Sut.Verify(Delivery(Signature), Secrets(Secret), At(Timestamp, 301), Tolerance);

        result.ShouldBe(VerificationOutcome.TimestampOutsideWindow);
        result.Detail.ShouldContain("too old");
    }

    [Fact]
    public void Verify_TvSlack1AtTsMinus301_TimestampOutsideWindowTooNew()
    {
        var result = Sut.Verify(Delivery(Signature), Secrets(Secret), At(Timestamp, -301), Tolerance);

        result.ShouldBe(VerificationOutcome.TimestampOutsideWindow);
        result.Detail.ShouldContain("too new");
    }

    [Theory]
    [InlineData(300)]
    [InlineData(-300)]
    public void Verify_TvSlack1ExactlyAtTheTolerance_Verified(int nowMinusTs)
    {
        Sut.Verify(Delivery(Signature), Secrets(Secret), At(Timestamp, nowMinusTs), Tolerance).ShouldBe(VerificationOutcome.Verified);
    }

    [Fact]
    public void Verify_TvSlack1StaleWithWrongSecret_BadSignatureSoTheWindowStaysHidden()
    {
        Sut.Verify(Delivery(Signature), Secrets("another-signing-secret"), At(Timestamp, 3600), Tolerance)
            .ShouldBe(VerificationOutcome.BadSignature);
    }

    [Theory]
    [InlineData("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b504")]
    [InlineData("v0=a2114d57")]
    [InlineData("v0=not-hex")]
    public void Verify_WrongSignature_BadSignature(string header)
    {
        Sut.Verify(Delivery(header), Secrets(Secret), At(Timestamp, 3), Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Theory]
    [InlineData("v0=")]
    [InlineData("a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")]
    [InlineData("v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")]
    public void Verify_NotV0Prefixed_MalformedSignature(string header)
    {
        Sut.Verify(Delivery(header), Secrets(Secret), At(Timestamp, 3), Tolerance).ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Fact]
    public void Verify_TimestampChanged_BadSignature()
    {
        var request = Post(Body, ("X-Slack-Request-Timestamp", "1531420619"), ("X-Slack-Signature", Signature));

        Sut.Verify(request, Secrets(Secret), At(Timestamp, 3), Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_MissingSignature_MissingSignature()
    {
        var request = Post(Body, ("X-Slack-Request-Timestamp", "1531420618"));

        Sut.Verify(request, Secrets(Secret), At(Timestamp, 3), Tolerance).ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Fact]
    public void Verify_MissingTimestamp_MalformedSignature()
    {
        var request = Post(Body, ("X-Slack-Signature", Signature));

        Sut.Verify(request, Secrets(Secret), At(Timestamp, 3), Tolerance).ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Theory]
    [InlineData("")]
    [InlineData("1531420618.5")]
    [InlineData("soon")]
    public void Verify_TimestampNotIntegerSeconds_MalformedSignature(string timestamp)
    {
        var request = Post(Body, ("X-Slack-Request-Timestamp", timestamp), ("X-Slack-Signature", Signature));

        Sut.Verify(request, Secrets(Secret), At(Timestamp, 3), Tolerance).ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Fact]
    public void Verify_NewAndOldSecretActive_OldOneMatchesAtIndex1()
    {
        Sut.Verify(Delivery(Signature), Secrets("new-signing-secret", Secret), At(Timestamp, 3), Tolerance)
            .ShouldBe(VerificationOutcome.Verified, secretIndex: 1);
    }

    [Fact]
    public void Verify_IndependentlySignedUrlVerification_Verified()
    {
        const string body = """{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}""";
        var signature = "v0=" + Hex(Hmac(Secret, $"v0:{Timestamp}:{body}"));
        var request = Post(body, ("X-Slack-Request-Timestamp", "1531420618"), ("X-Slack-Signature", signature));

        Sut.Verify(request, Secrets(Secret), At(Timestamp), Tolerance).ShouldBe(VerificationOutcome.Verified);
    }

    [Fact]
    public void Handshake_UrlVerification_200PlainTextChallenge()
    {
        const string body = """{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}""";

        var answer = Sut.Handshake(Post(body), Secrets(Secret));

        answer.ShouldNotBeNull();
        answer.Status.ShouldBe(200);
        answer.ContentType.ShouldStartWith("text/plain");
        answer.Body.ShouldBe("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    }

    [Theory]
    [InlineData("""{"type":"url_verification"}""")]
    [InlineData("""{"type":"url_verification","challenge":""}""")]
    [InlineData("""{"type":"url_verification","challenge":42}""")]
    [InlineData("""{"type":"url_verification","challenge":"\ud800"}""")]
    public void Handshake_UrlVerificationWithoutUsableChallenge_403(string body)
    {
        Sut.Handshake(Post(body), Secrets(Secret)).ShouldBeRefusal();
    }

    [Theory]
    [InlineData("""{"type":"event_callback","event_id":"Ev1","challenge":"x"}""")]
    [InlineData("""{"type":"URL_VERIFICATION","challenge":"x"}""")]
    [InlineData("""["url_verification"]""")]
    [InlineData("""{"type":1}""")]
    [InlineData("not json")]
    [InlineData("{\"type\":\"url_verification\",")]
    [InlineData("")]
    [InlineData(Body)]
    public void Handshake_OtherPost_Null(string body)
    {
        Sut.Handshake(Post(body), Secrets(Secret)).ShouldBeNull();
    }

    [Fact]
    public void Handshake_Get_Null()
    {
        Sut.Handshake(Get([("challenge", "x")]), Secrets(Secret)).ShouldBeNull();
    }

    [Fact]
    public void NameAndSignsTimestamp_AreTheManifestValues()
    {
        (Sut.Name, Sut.SignsTimestamp).ShouldBe(("slack", true));
        SlackScheme.ValidateSecret("").ShouldNotBeNull();
        SlackScheme.ValidateSecret(Secret).ShouldBeNull();
    }

    private static WebhookRequest Delivery(string signatureHeader) =>
        Post(Body, ("X-Slack-Request-Timestamp", "1531420618"), ("X-Slack-Signature", signatureHeader));
}
