using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Schemes.SchemeTesting;

namespace Bulwark.Core.Tests.Ingest.Schemes;

public sealed class GitHubSchemeTests
{
    // TV-GH-1: GitHub's documented test values.
    private const string Secret = "It's a Secret to Everybody";
    private const string Payload = "Hello, World!";
    private const string Signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    private const string DeliveryId = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

    private static readonly GitHubScheme Sut = GitHubScheme.Instance;

    [Fact]
    public void Verify_TvGh1_VerifiedWithTheDeliveryGuid()
    {
        var result = Sut.Verify(Delivery(Signature), Secrets(Secret), AnyTime, Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.DeliveryId.ShouldBe(DeliveryId);
        result.SignedAt.ShouldBeNull();
    }

    [Fact]
    public void Verify_BlankDeliveryHeader_VerifiedWithoutDeliveryId()
    {
        var result = Sut.Verify(Post(Payload, ("x-hub-signature-256", Signature), ("x-github-delivery", " ")), Secrets(Secret), AnyTime, Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.DeliveryId.ShouldBeNull();
    }

    [Fact]
    public void Verify_TvGh1WithoutDeliveryHeader_VerifiedWithoutDeliveryId()
    {
        var result = Sut.Verify(Post(Payload, ("X-Hub-Signature-256", Signature)), Secrets(Secret), AnyTime, Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.DeliveryId.ShouldBeNull();
    }

    [Fact]
    public void Verify_LowerCaseHeaderNamesAsHttp2SendsThem_Verified()
    {
        var request = Post(Payload, ("x-hub-signature-256", Signature), ("x-github-delivery", DeliveryId));

        Sut.Verify(request, Secrets(Secret), AnyTime, Tolerance).DeliveryId.ShouldBe(DeliveryId);
    }

    [Fact]
    public void Verify_NoTimestampIsChecked_VerifiedAtAnyTime()
    {
        Sut.Verify(Delivery(Signature), Secrets(Secret), DateTimeOffset.UnixEpoch, TimeSpan.Zero).ShouldBe(VerificationOutcome.Verified);
    }

    [Fact]
    public void Verify_UpperCaseHex_Verified()
    {
        Sut.Verify(Delivery("sha256=" + Signature["sha256=".Length..].ToUpperInvariant()), Secrets(Secret), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.Verified);
    }

    [Fact]
    public void Verify_IndependentlySignedBody_Verified()
    {
        const string body = """{"zen":"Keep it logically awesome.","hook_id":1}""";
        var request = Post(body, ("X-Hub-Signature-256", "sha256=" + Hex(Hmac(Secret, body))));

        Sut.Verify(request, Secrets(Secret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.Verified);
    }

    [Theory]
    [InlineData("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18")]
    [InlineData("sha256=757107ea0eb2509fc211221cce984b8a")]
    [InlineData("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1700")]
    [InlineData("sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")]
    [InlineData("sha256=dXVxB+oOslCfwhEiHOmEi0o3VwttdYbCLEb0N5yLBD4=")]
    public void Verify_WrongOrBadlyEncodedSignature_BadSignature(string header)
    {
        Sut.Verify(Delivery(header), Secrets(Secret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Theory]
    [InlineData("sha256=")]
    [InlineData("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")]
    [InlineData("sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")]
    [InlineData("SHA256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")]
    [InlineData("")]
    public void Verify_ValueNotSha256Prefixed_MalformedSignature(string header)
    {
        Sut.Verify(Delivery(header), Secrets(Secret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Fact]
    public void Verify_BodyChanged_BadSignature()
    {
        var request = Post("Hello, World?", ("X-Hub-Signature-256", Signature));

        Sut.Verify(request, Secrets(Secret), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_NoSignatureHeaderAsWhenTheHookHasNoSecret_MissingSignature()
    {
        Sut.Verify(Post(Payload, ("X-GitHub-Delivery", DeliveryId)), Secrets(Secret), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Fact]
    public void Verify_OnlyTheLegacySha1Header_MissingSignature()
    {
        var request = Post(Payload, ("X-Hub-Signature", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"));

        var result = Sut.Verify(request, Secrets(Secret), AnyTime, Tolerance);

        result.ShouldBe(VerificationOutcome.MissingSignature);
        result.Detail.ShouldContain("X-Hub-Signature-256");
    }

    [Fact]
    public void Verify_NewAndOldSecretActive_OldOneMatchesAtIndex1()
    {
        Sut.Verify(Delivery(Signature), Secrets("the new secret", Secret), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.Verified, secretIndex: 1);
    }

    [Fact]
    public void Verify_OnlyWrongSecrets_BadSignature()
    {
        Sut.Verify(Delivery(Signature), Secrets("the new secret", "It's a secret to everybody"), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_EmptySecretIsNeverAKey_BadSignature()
    {
        var request = Post(Payload, ("X-Hub-Signature-256", "sha256=" + Hex(Hmac([], "Hello, World!"u8.ToArray()))));

        Sut.Verify(request, Secrets(""), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Handshake_PingOrGet_NullBecausePingIsASignedDelivery()
    {
        Sut.Handshake(Post("""{"zen":"x"}""", ("X-GitHub-Event", "ping")), Secrets(Secret)).ShouldBeNull();
        Sut.Handshake(Get([("hub.challenge", "1")]), Secrets(Secret)).ShouldBeNull();
    }

    [Theory]
    [InlineData("", false)]
    [InlineData(" x", false)]
    [InlineData(Secret, true)]
    public void ValidateSecret_Text_ErrorOnlyWhenUnusable(string secret, bool usable)
    {
        (GitHubScheme.ValidateSecret(secret) is null).ShouldBe(usable);
    }

    [Fact]
    public void NameAndSignsTimestamp_AreTheManifestValues()
    {
        (Sut.Name, Sut.SignsTimestamp).ShouldBe(("github", false));
    }

    private static WebhookRequest Delivery(string signatureHeader) =>
        Post(Payload, ("X-Hub-Signature-256", signatureHeader), ("X-GitHub-Delivery", DeliveryId), ("X-GitHub-Event", "push"));
}
