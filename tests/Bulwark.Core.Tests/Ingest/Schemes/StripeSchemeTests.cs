using System.Security.Cryptography;
using System.Text;
using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Schemes.SchemeTesting;

namespace Bulwark.Core.Tests.Ingest.Schemes;

public sealed class StripeSchemeTests
{
    // TV-STRIPE-1 (stripe-dotnet EventUtilityTest).
    private const string Secret1 = "webhook_secret";
    private const long Timestamp1 = 1533204620;
    private const string V1 = "2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7";
    private const string V0 = "63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef";
    private const string Header1 = $"t=1533204620,v1={V1},v0={V0}";

    // TV-STRIPE-2 (local regression value).
    private const string Secret2 = "whsec_test_secret";
    private const long Timestamp2 = 1700000000;
    private const string Body2 = """{"id":"evt_test_webhook","object":"event"}""";
    private const string Header2 = "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990";

    private static readonly StripeScheme Sut = StripeScheme.Instance;

    /// <summary>The TV-STRIPE-1 body: LF line endings, two-space indent, exactly one trailing LF.</summary>
    private static readonly byte[] Body1 = Encoding.UTF8.GetBytes(string.Join('\n',
        "{",
        "  \"id\": \"evt_123\",",
        "  \"object\": \"event\",",
        "  \"account\": \"acct_123\",",
        "  \"api_version\": \"2017-05-25\",",
        "  \"created\": 1533204620,",
        "  \"data\": {",
        "    \"object\": {",
        "      \"id\": \"cus_123\",",
        "      \"object\": \"customer\",",
        "      \"created\": 123456789,",
        "      \"email\": \"test@stripe.com\",",
        "      \"livemode\": false,",
        "      \"metadata\": {}",
        "    }",
        "  },",
        "  \"livemode\": false,",
        "  \"pending_webhooks\": 1,",
        "  \"request\": {",
        "    \"id\": \"req_123\",",
        "    \"idempotency_key\": \"idempotency-key-123\"",
        "  },",
        "  \"type\": \"customer.created\"",
        "}",
        ""));

    [Fact]
    public void Body1_IsTheReferenceBytes()
    {
        Body1.Length.ShouldBe(484);
        Convert.ToHexString(SHA256.HashData(Body1)).ShouldBe("98cc89412549ca7faf118fca984763bdb6f81e13d1ce8c528dbbb5be602ec1be", StringCompareShould.IgnoreCase);
    }

    [Fact]
    public void Verify_TvStripe1AtTPlus100_VerifiedWithSignedAtAndNoDeliveryId()
    {
        var result = Sut.Verify(Post(Body1, ("Stripe-Signature", Header1)), Secrets(Secret1), At(Timestamp1, 100), Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.SignedAt.ShouldBe(At(Timestamp1));
        result.DeliveryId.ShouldBeNull();
    }

    [Fact]
    public void Verify_TvStripe1AtTPlus400_TimestampOutsideWindowTooOld()
    {
        var result = Sut.Verify(Post(Body1, ("Stripe-Signature", Header1)), Secrets(Secret1), At(Timestamp1, 400), Tolerance);

        result.ShouldBe(VerificationOutcome.TimestampOutsideWindow);
        result.Detail.ShouldContain("too old");
        result.SignedAt.ShouldBe(At(Timestamp1));
    }

    [Theory]
    [InlineData(-300, VerificationOutcome.Verified)]
    [InlineData(300, VerificationOutcome.Verified)]
    [InlineData(-301, VerificationOutcome.TimestampOutsideWindow)]
    [InlineData(301, VerificationOutcome.TimestampOutsideWindow)]
    public void Verify_TvStripe1AtTheEdges_InclusiveTolerance(int nowMinusT, VerificationOutcome expected)
    {
        var result = Sut.Verify(Post(Body1, ("Stripe-Signature", Header1)), Secrets(Secret1), At(Timestamp1, nowMinusT), Tolerance);

        result.ShouldBe(expected);
        if (expected == VerificationOutcome.TimestampOutsideWindow)
        {
            result.Detail.ShouldContain(nowMinusT > 0 ? "too old" : "too new");
        }
    }

    [Fact]
    public void Verify_TvStripe1WithoutTheTrailingLf_BadSignature()
    {
        var request = Post(Body1[..^1], ("Stripe-Signature", Header1));

        Sut.Verify(request, Secrets(Secret1), At(Timestamp1, 100), Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_TvStripe1WithoutTheTrailingLf_IsTheDocumentedOtherHmac()
    {
        Hex(Hmac(Encoding.UTF8.GetBytes(Secret1), [.. "1533204620."u8, .. Body1[..^1]])).ShouldStartWith("8c506d7d");
    }

    [Fact]
    public void Verify_TvStripe1StaleAndWrongSecret_BadSignatureSoTheWindowStaysHidden()
    {
        var result = Sut.Verify(Post(Body1, ("Stripe-Signature", Header1)), Secrets("other_secret"), At(Timestamp1, 4000), Tolerance);

        result.ShouldBe(VerificationOutcome.BadSignature);
    }

    [Theory]
    [InlineData($"t=,v1={V1}")]
    [InlineData("t,v1=,v0=")]
    [InlineData("t,v1=,v0")]
    [InlineData("t,v1=,")]
    [InlineData("t,,")]
    [InlineData(",,")]
    [InlineData("t")]
    [InlineData("")]
    [InlineData($"t=1533204620,v0={V0}")] // v0 only
    [InlineData("t=1533204620")]
    [InlineData("t=1533204620,v1=")]
    [InlineData($"v1={V1}")]
    [InlineData($"t=abc,v1={V1}")]
    [InlineData($"t=-1533204620,v1={V1}")]
    [InlineData($"t=1533204620,t=1533204620,v1={V1}")]
    [InlineData($"T=1533204620,V1={V1}")]
    public void Verify_MalformedHeader_MalformedSignature(string header)
    {
        Sut.Verify(Post(Body1, ("Stripe-Signature", header)), Secrets(Secret1), At(Timestamp1, 100), Tolerance)
            .ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Theory]
    [InlineData($"t=1533204620,v1={V0}")]
    [InlineData("t=1533204620,v1=zz20f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7")]
    [InlineData("t=1533204620,v1=2220f87e")]
    [InlineData($"t=1533204620,v1={V1}00")]
    public void Verify_V1NotTheSignature_BadSignature(string header)
    {
        Sut.Verify(Post(Body1, ("Stripe-Signature", header)), Secrets(Secret1), At(Timestamp1, 100), Tolerance)
            .ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_TimestampChanged_BadSignature()
    {
        var header = $"t=1533204621,v1={V1}";

        Sut.Verify(Post(Body1, ("Stripe-Signature", header)), Secrets(Secret1), At(Timestamp1, 100), Tolerance)
            .ShouldBe(VerificationOutcome.BadSignature);
    }

    [Theory]
    [InlineData($"v0={V0},v1={V1},t=1533204620")]
    [InlineData($"t=1533204620, v1={V1} , v0={V0}")]
    [InlineData($"t=1533204620,v1={V0},v1={V1}")] // several v1 during a rotation
    [InlineData($"t=1533204620,v1=,v1={V1}")]
    [InlineData($"t=1533204620,junk,x=y,v1={V1}")]
    public void Verify_ValidV1InAnyPositionAmongOthers_Verified(string header)
    {
        Sut.Verify(Post(Body1, ("Stripe-Signature", header)), Secrets(Secret1), At(Timestamp1, 100), Tolerance)
            .ShouldBe(VerificationOutcome.Verified);
    }

    [Fact]
    public void Verify_UpperCaseHex_Verified()
    {
        var header = $"t=1533204620,v1={V1.ToUpperInvariant()}";

        Sut.Verify(Post(Body1, ("Stripe-Signature", header)), Secrets(Secret1), At(Timestamp1, 100), Tolerance)
            .ShouldBe(VerificationOutcome.Verified);
    }

    [Fact]
    public void Verify_TvStripe2_VerifiedWithTheWhsecPrefixInTheKey()
    {
        var result = Sut.Verify(Post(Body2, ("Stripe-Signature", Header2)), Secrets(Secret2), At(Timestamp2), Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.SignedAt.ShouldBe(At(Timestamp2));
    }

    [Fact]
    public void Verify_TvStripe2WithTheSecretWithoutPrefix_BadSignature()
    {
        Sut.Verify(Post(Body2, ("Stripe-Signature", Header2)), Secrets("test_secret"), At(Timestamp2), Tolerance)
            .ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_IndependentlySignedDelivery_Verified()
    {
        var v1 = Hex(Hmac(Secret2, $"{Timestamp2}.{Body2}"));

        Sut.Verify(Post(Body2, ("stripe-signature", $"t={Timestamp2},v1={v1}")), Secrets(Secret2), At(Timestamp2), Tolerance)
            .ShouldBe(VerificationOutcome.Verified);
    }

    [Fact]
    public void Verify_NewAndOldSecretActive_OldOneMatchesAtIndex1()
    {
        Sut.Verify(Post(Body1, ("Stripe-Signature", Header1)), Secrets(Secret2, Secret1), At(Timestamp1, 100), Tolerance)
            .ShouldBe(VerificationOutcome.Verified, secretIndex: 1);
    }

    [Fact]
    public void Verify_OnlyWrongSecrets_BadSignature()
    {
        Sut.Verify(Post(Body1, ("Stripe-Signature", Header1)), Secrets(Secret2, "whsec_other"), At(Timestamp1, 100), Tolerance)
            .ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_MissingHeader_MissingSignature()
    {
        Sut.Verify(Post(Body1), Secrets(Secret1), At(Timestamp1, 100), Tolerance).ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" whsec_abc")]
    [InlineData("whsec_abc\n")]
    [InlineData("whsec_a\u0000bc")]
    public void ValidateSecret_EmptyOrPasteAccident_Error(string secret)
    {
        StripeScheme.ValidateSecret(secret).ShouldNotBeNull();
    }

    [Theory]
    [InlineData(Secret1)]
    [InlineData(Secret2)]
    public void ValidateSecret_AnyText_Null(string secret)
    {
        StripeScheme.ValidateSecret(secret).ShouldBeNull();
    }

    [Fact]
    public void Handshake_AnyRequest_Null()
    {
        Sut.Handshake(Get([("challenge", "1")]), Secrets(Secret1)).ShouldBeNull();
        Sut.Handshake(Post(Body1, ("Stripe-Signature", Header1)), Secrets(Secret1)).ShouldBeNull();
    }

    [Fact]
    public void NameAndSignsTimestamp_AreTheManifestValues()
    {
        (Sut.Name, Sut.SignsTimestamp).ShouldBe(("stripe", true));
    }
}
