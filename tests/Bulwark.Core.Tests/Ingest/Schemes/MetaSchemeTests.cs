using System.Text;
using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Schemes.SchemeTesting;

namespace Bulwark.Core.Tests.Ingest.Schemes;

public sealed class MetaSchemeTests
{
    // TV-GH-1: the construction is GitHub's, so GitHub's documented vector tests Meta too.
    private const string Secret = "It's a Secret to Everybody";
    private const string Payload = "Hello, World!";
    private const string Signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    // The documentation's sample handshake values.
    private const string VerifyToken = "meatyhamhock";
    private const string Challenge = "1158201444";

    private static readonly MetaScheme Sut = MetaScheme.Instance;

    [Fact]
    public void Verify_TvGh1_VerifiedWithoutDeliveryId()
    {
        var result = Sut.Verify(Post(Payload, ("X-Hub-Signature-256", Signature)), Secrets(Secret), AnyTime, Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.DeliveryId.ShouldBeNull();
        result.SignedAt.ShouldBeNull();
    }

    [Fact]
    public void Verify_EscapedUnicodeBodyAsMetaSigns_VerifiesOnlyTheRawBytes()
    {
        const string raw = """{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"text":"\u00e4\u00f6\u00e5"}]}]}""";
        const string reencoded = """{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"text":"äöå"}]}]}""";
        var signature = "sha256=" + Hex(Hmac(Secret, raw));

        Sut.Verify(Post(raw, ("X-Hub-Signature-256", signature)), Secrets(Secret), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.Verified);
        Sut.Verify(Post(reencoded, ("X-Hub-Signature-256", signature)), Secrets(Secret), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_WrongSignature_BadSignature()
    {
        var request = Post(Payload, ("X-Hub-Signature-256", "sha256=" + new string('0', 64)));

        Sut.Verify(request, Secrets(Secret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_MissingHeader_MissingSignature()
    {
        Sut.Verify(Post(Payload, ("X-Hub-Signature", "sha1=x")), Secrets(Secret), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Fact]
    public void Verify_NotSha256Prefixed_MalformedSignature()
    {
        Sut.Verify(Post(Payload, ("X-Hub-Signature-256", Signature["sha256=".Length..])), Secrets(Secret), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Fact]
    public void Verify_NewAndOldAppSecretActive_OldOneMatchesAtIndex1()
    {
        Sut.Verify(Post(Payload, ("X-Hub-Signature-256", Signature)), Secrets("new app secret", Secret), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.Verified, secretIndex: 1);
    }

    [Fact]
    public void Handshake_SubscribeWithTheVerifyToken_200PlainTextChallenge()
    {
        var answer = Sut.Handshake(Subscription(VerifyToken), new SchemeSecrets([Secret], VerifyToken));

        answer.ShouldNotBeNull();
        answer.Status.ShouldBe(200);
        answer.ContentType.ShouldStartWith("text/plain");
        answer.Body.ShouldBe(Challenge);
    }

    [Theory]
    [InlineData("meatyhamhocK")]
    [InlineData("meatyhamhock ")]
    [InlineData("meatyhamhoc")]
    [InlineData("")]
    public void Handshake_WrongVerifyToken_403(string presented)
    {
        Sut.Handshake(Subscription(presented), new SchemeSecrets([Secret], VerifyToken)).ShouldBeRefusal();
    }

    [Fact]
    public void Handshake_NoVerifyTokenConfigured_403()
    {
        Sut.Handshake(Subscription(VerifyToken), new SchemeSecrets([Secret])).ShouldBeRefusal();
        Sut.Handshake(Subscription(""), new SchemeSecrets([Secret], "")).ShouldBeRefusal();
    }

    [Theory]
    [InlineData("unsubscribe")]
    [InlineData("Subscribe")]
    [InlineData("")]
    public void Handshake_ModeNotSubscribe_403(string mode)
    {
        var request = Get([("hub.mode", mode), ("hub.challenge", Challenge), ("hub.verify_token", VerifyToken)]);

        Sut.Handshake(request, new SchemeSecrets([Secret], VerifyToken)).ShouldBeRefusal();
    }

    [Fact]
    public void Handshake_ModeMissing_403()
    {
        var request = Get([("hub.challenge", Challenge), ("hub.verify_token", VerifyToken)]);

        Sut.Handshake(request, new SchemeSecrets([Secret], VerifyToken)).ShouldBeRefusal();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Handshake_ChallengeMissingOrEmpty_403(string? challenge)
    {
        (string, string)[] query = challenge is null
            ? [("hub.mode", "subscribe"), ("hub.verify_token", VerifyToken)]
            : [("hub.mode", "subscribe"), ("hub.verify_token", VerifyToken), ("hub.challenge", challenge)];

        Sut.Handshake(Get(query), new SchemeSecrets([Secret], VerifyToken)).ShouldBeRefusal();
    }

    [Fact]
    public void Handshake_RefusalBody_SaysNothingAboutWhichCheckFailed()
    {
        var answer = Sut.Handshake(Subscription("wrong"), new SchemeSecrets([Secret], VerifyToken));

        answer.ShouldBeRefusal();
        answer!.Body.ShouldNotContain("token", Case.Insensitive);
        answer.Body.ShouldNotContain(VerifyToken);
    }

    [Fact]
    public void Handshake_GetWithoutHubParameters_NullBecauseItIsNoHandshake()
    {
        Sut.Handshake(Get([("other", "1")]), new SchemeSecrets([Secret], VerifyToken)).ShouldBeNull();
    }

    [Fact]
    public void Handshake_PostDelivery_Null()
    {
        var request = new WebhookRequest("POST", new Dictionary<string, string> { ["X-Hub-Signature-256"] = Signature },
            new Dictionary<string, string> { ["hub.mode"] = "subscribe", ["hub.challenge"] = Challenge, ["hub.verify_token"] = VerifyToken },
            Encoding.UTF8.GetBytes(Payload));

        Sut.Handshake(request, new SchemeSecrets([Secret], VerifyToken)).ShouldBeNull();
    }

    [Fact]
    public void NameAndSignsTimestamp_AreTheManifestValues()
    {
        (Sut.Name, Sut.SignsTimestamp).ShouldBe(("meta", false));
        MetaScheme.ValidateSecret("").ShouldNotBeNull();
        MetaScheme.ValidateSecret(Secret).ShouldBeNull();
    }

    private static WebhookRequest Subscription(string verifyToken) =>
        Get([("hub.mode", "subscribe"), ("hub.challenge", Challenge), ("hub.verify_token", verifyToken)]);
}
