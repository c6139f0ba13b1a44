using System.Text.Json;
using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Schemes.SchemeTesting;

namespace Bulwark.Core.Tests.Ingest.Schemes;

public sealed class LinkedInSchemeTests
{
    // Local regression values from the reference (LinkedIn publishes none with a secret).
    private const string ClientSecret = "test-client-secret";
    private const string ChallengeCode = "890e4665-4dfe-4ab1-b689-ed553bceeed0";
    private const string ChallengeResponse = "05f7c3a9fc0fd9476f5fa3a0f318d460b83aba7b241196a57cc44868a392fc57";
    private const string Body = """{"type":"ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS","notificationId":1}""";
    private const string VariantA = "7f981df6109d1bfece7a480203ceccf492e17d08e2cc558f83cdc29d0a783972";
    private const string VariantB = "fb8ba939c30db044966763d49c39d69514362fb001d86ad9437d0e45022ef3cb";

    private static readonly LinkedInScheme Sut = LinkedInScheme.Instance;

    [Theory]
    [InlineData("hmacsha256=" + VariantA)]
    [InlineData(VariantA)]
    [InlineData("hmacsha256=" + VariantB)]
    [InlineData(VariantB)]
    [InlineData("HMACSHA256=" + VariantA)]
    public void Verify_VariantAOrBWithOrWithoutPrefix_Verified(string header)
    {
        var result = Sut.Verify(Delivery(header), Secrets(ClientSecret), AnyTime, Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.DeliveryId.ShouldBeNull();
        result.SignedAt.ShouldBeNull();
    }

    [Fact]
    public void Verify_ReferenceVariants_MatchAnIndependentComputation()
    {
        Hex(Hmac(ClientSecret, Body)).ShouldBe(VariantA);
        Hex(Hmac(ClientSecret, "hmacsha256=" + Body)).ShouldBe(VariantB);
    }

    [Theory]
    [InlineData("hmacsha256=" + ChallengeResponse)]
    [InlineData("hmacsha256=7f981df6109d1bfece7a480203ceccf492e17d08e2cc558f83cdc29d0a783973")]
    [InlineData("hmacsha256=hmacsha256=" + VariantA)]
    [InlineData("hmacsha256=7f981df6")]
    [InlineData("sha256=" + VariantA)]
    public void Verify_WrongSignature_BadSignature(string header)
    {
        Sut.Verify(Delivery(header), Secrets(ClientSecret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Theory]
    [InlineData("abc-123", false)]
    [InlineData("abc-123", true)]
    [InlineData("", true)] // the challenge "hmacsha256=" signs the empty body by variant B
    [InlineData("a", true, 245)] // the longest body variant B can sign: 11 + 245 = 256 characters of challenge
    public void Verify_ChallengeResponseUsedAsSignatureOfTheChallenge_BadSignature(string unit, bool prefixedChallenge, int times = 1)
    {
        // A challenge answer signs the challenge code with the key that signs notifications: as variant A it signs a
        // body equal to the code, and a code starting with the prefix makes it variant B of the rest. Anyone may ask
        // for answers, so such bodies are refused whatever their signature.
        var body = string.Concat(Enumerable.Repeat(unit, times));
        var code = prefixedChallenge ? "hmacsha256=" + body : body;
        var answer = Sut.Handshake(Get([("challengeCode", code)]), Secrets(ClientSecret)).ShouldNotBeNull();
        answer.Status.ShouldBe(200);
        var response = JsonDocument.Parse(answer.Body).RootElement.GetProperty("challengeResponse").GetString()!;

        var result = Sut.Verify(Post(body, ("X-LI-Signature", "hmacsha256=" + response)), Secrets(ClientSecret), AnyTime, Tolerance);

        result.ShouldBe(VerificationOutcome.BadSignature);
        result.Detail.ShouldContain("handshake");
        Sut.Verify(Post(body), Secrets(ClientSecret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Fact]
    public void Verify_TextTooLongForAChallenge_VerifiedWhenSigned()
    {
        var body = new string('a', 257);

        Sut.Verify(Post(body, ("X-LI-Signature", Hex(Hmac(ClientSecret, body)))), Secrets(ClientSecret), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.Verified);
        Sut.Handshake(Get([("challengeCode", "hmacsha256=" + new string('a', 246))]), Secrets(ClientSecret)).ShouldBeRefusal();
    }

    [Theory]
    [InlineData("hmacsha256=")]
    [InlineData("")]
    public void Verify_NoSignatureAfterThePrefix_MalformedSignature(string header)
    {
        Sut.Verify(Delivery(header), Secrets(ClientSecret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Fact]
    public void Verify_MissingHeader_MissingSignature()
    {
        Sut.Verify(Post(Body), Secrets(ClientSecret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Fact]
    public void Verify_BodyChanged_BadSignature()
    {
        var request = Post(Body.Replace("1}", "2}", StringComparison.Ordinal), ("X-LI-Signature", VariantA));

        Sut.Verify(request, Secrets(ClientSecret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Theory]
    [InlineData(VariantA)]
    [InlineData(VariantB)]
    public void Verify_NewAndOldSecretActive_OldOneMatchesAtIndex1(string header)
    {
        Sut.Verify(Delivery(header), Secrets("new-client-secret", ClientSecret), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.Verified, secretIndex: 1);
    }

    [Fact]
    public void Verify_OnlyWrongSecrets_BadSignature()
    {
        Sut.Verify(Delivery(VariantA), Secrets("new-client-secret", "Test-client-secret"), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Handshake_ReferenceChallenge_200JsonWithTheLocalVector()
    {
        var answer = Sut.Handshake(Get([("challengeCode", ChallengeCode)]), Secrets(ClientSecret));

        answer.ShouldNotBeNull();
        answer.Status.ShouldBe(200);
        answer.ContentType.ShouldBe("application/json");
        answer.Body.ShouldBe($$"""{"challengeCode":"{{ChallengeCode}}","challengeResponse":"{{ChallengeResponse}}"}""");
    }

    [Fact]
    public void Handshake_ChildApplicationId_IgnoredAndTheSourceSecretUsed()
    {
        var answer = Sut.Handshake(Get([("challengeCode", ChallengeCode), ("applicationId", "12345")]), Secrets(ClientSecret));

        answer.ShouldNotBeNull();
        using var json = JsonDocument.Parse(answer.Body);
        json.RootElement.GetProperty("challengeResponse").GetString().ShouldBe(ChallengeResponse);
    }

    [Fact]
    public void Handshake_SeveralSecrets_SignsWithTheFirstNewestOne()
    {
        var answer = Sut.Handshake(Get([("challengeCode", ChallengeCode)]), Secrets("new-client-secret", ClientSecret));

        answer.ShouldNotBeNull();
        using var json = JsonDocument.Parse(answer.Body);
        json.RootElement.GetProperty("challengeCode").GetString().ShouldBe(ChallengeCode);
        json.RootElement.GetProperty("challengeResponse").GetString().ShouldBe(Hex(Hmac("new-client-secret", ChallengeCode)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("hmacsha256=" + Body)]
    [InlineData(Body)]
    [InlineData("<script>")]
    public void Handshake_ChallengeThatCouldSignAForgedBody_403(string challenge)
    {
        Sut.Handshake(Get([("challengeCode", challenge)]), Secrets(ClientSecret)).ShouldBeRefusal();
    }

    [Fact]
    public void Handshake_NoSecret_403()
    {
        Sut.Handshake(Get([("challengeCode", ChallengeCode)]), Secrets()).ShouldBeRefusal();
    }

    [Fact]
    public void Handshake_PostOrGetWithoutChallengeCode_Null()
    {
        Sut.Handshake(Get([("challenge", ChallengeCode)]), Secrets(ClientSecret)).ShouldBeNull();
        Sut.Handshake(Delivery(VariantA), Secrets(ClientSecret)).ShouldBeNull();
    }

    [Fact]
    public void NameAndSignsTimestamp_AreTheManifestValues()
    {
        (Sut.Name, Sut.SignsTimestamp).ShouldBe(("linkedin", false));
        LinkedInScheme.ValidateSecret("").ShouldNotBeNull();
        LinkedInScheme.ValidateSecret(ClientSecret).ShouldBeNull();
    }

    private static WebhookRequest Delivery(string signatureHeader) => Post(Body, ("X-LI-Signature", signatureHeader));
}
