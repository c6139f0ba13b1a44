using System.Text.Json;
using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Schemes.SchemeTesting;

namespace Bulwark.Core.Tests.Ingest.Schemes;

public sealed class OktaSchemeTests
{
    private const string Key = "okta-hook-key-5f2a9c1e7b";
    private const string OldKey = "okta-hook-key-previous-0001";
    private const string Body = """{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"f790999f-fe87-467a-9880-6982a583986c"}]}}""";
    private const string Challenge = "iEyE4bBcGDOFOZ3cwtLYNm2hN8HXfiCWDnJjj2xW";

    private static readonly OktaScheme Sut = OktaScheme.Instance;

    [Fact]
    public void Verify_RightAuthorization_VerifiedWithoutDeliveryId()
    {
        var result = Sut.Verify(Post(Body, ("Authorization", Key)), Secrets(Key), AnyTime, Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.DeliveryId.ShouldBeNull();
        result.SignedAt.ShouldBeNull();
    }

    [Theory]
    [InlineData("okta-hook-key-5f2a9c1e7c")] // same length, last character differs
    [InlineData("Okta-hook-key-5f2a9c1e7b")]
    [InlineData("okta-hook-key-5f2a9c1e7")] // shorter
    [InlineData("okta-hook-key-5f2a9c1e7bb")] // longer
    [InlineData("Bearer okta-hook-key-5f2a9c1e7b")]
    [InlineData("x")]
    public void Verify_WrongAuthorization_BadSignature(string presented)
    {
        Sut.Verify(Post(Body, ("Authorization", presented)), Secrets(Key), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_MissingAuthorization_MissingSignature()
    {
        Sut.Verify(Post(Body), Secrets(Key), AnyTime, Tolerance).ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Fact]
    public void Verify_EmptyAuthorization_MalformedSignature()
    {
        Sut.Verify(Post(Body, ("Authorization", "")), Secrets(Key), AnyTime, Tolerance).ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Fact]
    public void Verify_NewAndOldKeyActive_OldOneMatchesAtIndex1()
    {
        Sut.Verify(Post(Body, ("Authorization", OldKey)), Secrets(Key, OldKey), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.Verified, secretIndex: 1);
    }

    [Fact]
    public void Verify_SameKeyListedTwice_TheFirstIndexIsReported()
    {
        Sut.Verify(Post(Body, ("Authorization", Key)), Secrets(OldKey, Key, Key), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.Verified, secretIndex: 1);
    }

    [Fact]
    public void Verify_EmptySecretConfigured_NeverMatches()
    {
        Sut.Verify(Post(Body, ("Authorization", "")), Secrets(""), AnyTime, Tolerance).IsVerified.ShouldBeFalse();
    }

    [Fact]
    public void Handshake_ChallengeWithoutAuthorization_200JsonVerification()
    {
        var answer = Sut.Handshake(Get([], ("X-Okta-Verification-Challenge", Challenge)), Secrets(Key));

        answer.ShouldNotBeNull();
        answer.Status.ShouldBe(200);
        answer.ContentType.ShouldBe("application/json");
        answer.Body.ShouldBe($$"""{"verification":"{{Challenge}}"}""");
    }

    [Fact]
    public void Handshake_ChallengeWithMatchingAuthorization_200()
    {
        var answer = Sut.Handshake(Get([], ("X-Okta-Verification-Challenge", Challenge), ("Authorization", OldKey)), Secrets(Key, OldKey));

        answer.ShouldNotBeNull();
        answer.Status.ShouldBe(200);
    }

    [Theory]
    [InlineData("okta-hook-key-5f2a9c1e7c")]
    [InlineData("")]
    public void Handshake_ChallengeWithWrongAuthorization_403(string presented)
    {
        Sut.Handshake(Get([], ("X-Okta-Verification-Challenge", Challenge), ("Authorization", presented)), Secrets(Key))
            .ShouldBeRefusal();
    }

    [Fact]
    public void Handshake_EmptyChallenge_403()
    {
        Sut.Handshake(Get([], ("X-Okta-Verification-Challenge", "")), Secrets(Key)).ShouldBeRefusal();
    }

    [Fact]
    public void Handshake_ChallengeWithQuotes_EscapedAsJson()
    {
        const string challenge = "a\"b\\c</script>";

        var answer = Sut.Handshake(Get([], ("X-Okta-Verification-Challenge", challenge)), Secrets(Key));

        answer.ShouldNotBeNull();
        using var json = JsonDocument.Parse(answer.Body);
        json.RootElement.GetProperty("verification").GetString().ShouldBe(challenge);
    }

    [Fact]
    public void Handshake_PostOrGetWithoutChallengeHeader_Null()
    {
        Sut.Handshake(Get([], ("Authorization", Key)), Secrets(Key)).ShouldBeNull();
        Sut.Handshake(Post(Body, ("X-Okta-Verification-Challenge", Challenge)), Secrets(Key)).ShouldBeNull();
    }

    [Theory]
    [InlineData("")]
    [InlineData("short-key")]
    [InlineData("okta-hook-key-5f2a9c1e7b ")]
    [InlineData("okta-hook-key\r\n-5f2a9c1e7b")]
    public void ValidateSecret_EmptyShortOrPasteAccident_ErrorWithoutTheSecret(string secret)
    {
        var error = OktaScheme.ValidateSecret(secret);

        error.ShouldNotBeNull();
        if (secret.Length > 0)
        {
            error.ShouldNotContain(secret.Trim());
        }
    }

    [Theory]
    [InlineData(Key)]
    [InlineData("Bearer 0123456789abcdef")]
    [InlineData("0123456789abcdef")]
    public void ValidateSecret_SixteenCharactersOrMore_Null(string secret)
    {
        OktaScheme.ValidateSecret(secret).ShouldBeNull();
    }

    [Fact]
    public void NameAndSignsTimestamp_AreTheManifestValues()
    {
        (Sut.Name, Sut.SignsTimestamp).ShouldBe(("okta", false));
    }
}
