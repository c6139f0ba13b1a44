using System.Text.Json;
using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Schemes.SchemeTesting;

namespace Bulwark.Core.Tests.Ingest.Schemes;

public sealed class XSchemeTests
{
    // TV-X-1 (inputs from X DevRel's sample gist; the answer is a local regression value).
    private const string ConsumerSecret = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu";
    private const string CrcToken = "9b4507b3-9040-4669-9ca3-6b94edb50553";
    private const string CrcAnswer = """{"response_token":"sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="}""";

    private const string Body = """{"for_user_id":"2244994945","tweet_create_events":[{"id_str":"1"}]}""";

    private static readonly XScheme Sut = XScheme.Instance;

    [Fact]
    public void Handshake_TvX1_200JsonResponseToken()
    {
        var answer = Sut.Handshake(Get([("crc_token", CrcToken)]), Secrets(ConsumerSecret));

        answer.ShouldNotBeNull();
        answer.Status.ShouldBe(200);
        answer.ContentType.ShouldBe("application/json");
        answer.Body.ShouldBe(CrcAnswer);
    }

    [Fact]
    public void Handshake_SeveralSecrets_SignsWithTheFirstNewestOne()
    {
        const string newest = "a-newer-consumer-secret";
        var expected = "sha256=" + Convert.ToBase64String(Hmac(newest, CrcToken));

        var answer = Sut.Handshake(Get([("crc_token", CrcToken)]), Secrets(newest, ConsumerSecret));

        answer.ShouldNotBeNull();
        using var json = JsonDocument.Parse(answer.Body);
        json.RootElement.GetProperty("response_token").GetString().ShouldBe(expected);
    }

    [Fact]
    public void Handshake_NoSecret_403()
    {
        Sut.Handshake(Get([("crc_token", CrcToken)]), Secrets()).ShouldBeRefusal();
        Sut.Handshake(Get([("crc_token", CrcToken)]), Secrets("")).ShouldBeRefusal();
    }

    [Theory]
    [InlineData("")]
    [InlineData("""{"tweet_create_events":[]}""")]
    [InlineData("has space")]
    [InlineData("quote\"")]
    [InlineData("line\nbreak")]
    public void Handshake_TokenThatCouldSignAForgedBody_403(string token)
    {
        Sut.Handshake(Get([("crc_token", token)]), Secrets(ConsumerSecret)).ShouldBeRefusal();
    }

    [Fact]
    public void Handshake_TokenLongerThan256_403ButExactly256Answered()
    {
        Sut.Handshake(Get([("crc_token", new string('a', 257))]), Secrets(ConsumerSecret)).ShouldBeRefusal();
        Sut.Handshake(Get([("crc_token", new string('a', 256))]), Secrets(ConsumerSecret))!.Status.ShouldBe(200);
    }

    [Fact]
    public void Handshake_Base64LikeToken_AnsweredUnescaped()
    {
        const string token = "NDU3ODMxNDkz+/MjA0NzUyNjAx==";
        var expected = "sha256=" + Convert.ToBase64String(Hmac(ConsumerSecret, token));

        var answer = Sut.Handshake(Get([("crc_token", token)]), Secrets(ConsumerSecret));

        answer.ShouldNotBeNull();
        answer.Body.ShouldBe($$"""{"response_token":"{{expected}}"}""");
    }

    [Fact]
    public void Handshake_PostOrGetWithoutCrcToken_Null()
    {
        Sut.Handshake(Get([("other", CrcToken)]), Secrets(ConsumerSecret)).ShouldBeNull();
        Sut.Handshake(Post(Body), Secrets(ConsumerSecret)).ShouldBeNull();
    }

    [Fact]
    public void Verify_IndependentlySignedBody_VerifiedWithoutDeliveryId()
    {
        var result = Sut.Verify(Delivery(Signed(ConsumerSecret)), Secrets(ConsumerSecret), AnyTime, Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.DeliveryId.ShouldBeNull();
        result.SignedAt.ShouldBeNull();
    }

    [Fact]
    public void Verify_CrcAnswerUsedAsSignatureOfItsToken_BadSignature()
    {
        // The CRC and the event signature are one construction: the TV-X-1 answer is the signature of a body equal to
        // the CRC token. Anyone may ask for CRC answers, so such a body is refused whatever its signature.
        var signature = "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8=";
        signature.ShouldBe("sha256=" + Convert.ToBase64String(Hmac(ConsumerSecret, CrcToken)));
        var request = Post(CrcToken, ("x-twitter-webhooks-signature", signature));

        var result = Sut.Verify(request, Secrets(ConsumerSecret), AnyTime, Tolerance);

        result.ShouldBe(VerificationOutcome.BadSignature);
        result.Detail.ShouldContain("handshake");
    }

    [Theory]
    [InlineData("a", 0, VerificationOutcome.BadSignature)]
    [InlineData("a", 1, VerificationOutcome.BadSignature)]
    [InlineData("a", 256, VerificationOutcome.BadSignature)] // the longest token a CRC answer signs
    [InlineData("a", 257, VerificationOutcome.Verified)] // longer than any CRC token
    [InlineData("a b", 1, VerificationOutcome.Verified)] // no CRC token holds a space
    [InlineData("{}", 1, VerificationOutcome.Verified)]
    public void Verify_BodiesACrcAnswerCouldSign_RefusedUpToTheTokensLimits(string unit, int times, VerificationOutcome expected)
    {
        var body = string.Concat(Enumerable.Repeat(unit, times));
        var request = Post(body, ("x-twitter-webhooks-signature", "sha256=" + Convert.ToBase64String(Hmac(ConsumerSecret, body))));

        Sut.Verify(request, Secrets(ConsumerSecret), AnyTime, Tolerance).ShouldBe(expected);
        Sut.Verify(Post(body), Secrets(ConsumerSecret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Theory]
    [InlineData("sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8=")]
    [InlineData("sha256=Cytd4Sq+NvEc")]
    [InlineData("sha256=!!!!")]
    [InlineData("sha256=2b2b5de12abe36f11c57730cad7cd6246271e40fb2fe55f3cd4d8c69aaed931f")]
    public void Verify_WrongOrBadlyEncodedSignature_BadSignature(string header)
    {
        Sut.Verify(Delivery(header), Secrets(ConsumerSecret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Theory]
    [InlineData("sha256=")]
    [InlineData("Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8=")]
    public void Verify_NotSha256Prefixed_MalformedSignature(string header)
    {
        Sut.Verify(Delivery(header), Secrets(ConsumerSecret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Fact]
    public void Verify_MissingHeader_MissingSignature()
    {
        Sut.Verify(Post(Body), Secrets(ConsumerSecret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Fact]
    public void Verify_NewAndOldSecretActive_OldOneMatchesAtIndex1()
    {
        Sut.Verify(Delivery(Signed(ConsumerSecret)), Secrets("newer-secret", ConsumerSecret), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.Verified, secretIndex: 1);
    }

    [Fact]
    public void Verify_HexInsteadOfBase64_BadSignature()
    {
        var hex = "sha256=" + Hex(Hmac(ConsumerSecret, Body));

        Sut.Verify(Delivery(hex), Secrets(ConsumerSecret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void NameAndSignsTimestamp_AreTheManifestValues()
    {
        (Sut.Name, Sut.SignsTimestamp).ShouldBe(("x", false));
        XScheme.ValidateSecret("").ShouldNotBeNull();
        XScheme.ValidateSecret(ConsumerSecret).ShouldBeNull();
    }

    private static string Signed(string secret) => "sha256=" + Convert.ToBase64String(Hmac(secret, Body));

    private static WebhookRequest Delivery(string signatureHeader) => Post(Body, ("x-twitter-webhooks-signature", signatureHeader));
}
