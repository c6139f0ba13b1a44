using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Schemes.SchemeTesting;

namespace Bulwark.Core.Tests.Ingest.Schemes;

public sealed class BearerSchemeTests
{
    private const string Token = "svc_8d1f0c3a9e7b4a62";
    private const string OldToken = "svc_previous_token_0001";
    private const string Body = """{"event":"password_reset","account":"a1"}""";

    private static readonly BearerScheme Sut = BearerScheme.Instance;

    [Theory]
    [InlineData("Bearer " + Token)]
    [InlineData("bearer " + Token)]
    [InlineData("BEARER " + Token)]
    [InlineData("Bearer  " + Token + " ")]
    public void Verify_RightToken_Verified(string authorization)
    {
        Sut.Verify(Post(Body, ("Authorization", authorization)), Secrets(Token), AnyTime, Tolerance).ShouldBe(VerificationOutcome.Verified);
    }

    [Theory]
    [InlineData("Bearer svc_8d1f0c3a9e7b4a63")] // same length
    [InlineData("Bearer SVC_8d1f0c3a9e7b4a62")]
    [InlineData("Bearer svc_8d1f0c3a9e7b4a6")] // shorter
    [InlineData("Bearer svc_8d1f0c3a9e7b4a620")] // longer
    [InlineData("Bearer x")]
    public void Verify_WrongToken_BadSignature(string authorization)
    {
        Sut.Verify(Post(Body, ("Authorization", authorization)), Secrets(Token), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Theory]
    [InlineData(Token)]
    [InlineData("Basic c3ZjOnNlY3JldA==")]
    [InlineData("Bearer")]
    [InlineData("Bearer ")]
    [InlineData("Bearer   ")]
    [InlineData("Bearer" + Token)]
    [InlineData("")]
    public void Verify_NotABearerCredential_MalformedSignature(string authorization)
    {
        Sut.Verify(Post(Body, ("Authorization", authorization)), Secrets(Token), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Fact]
    public void Verify_MissingAuthorization_MissingSignature()
    {
        Sut.Verify(Post(Body), Secrets(Token), AnyTime, Tolerance).ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Fact]
    public void Verify_NewAndOldTokenActive_OldOneMatchesAtIndex1()
    {
        Sut.Verify(Post(Body, ("Authorization", "Bearer " + OldToken)), Secrets(Token, OldToken), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.Verified, secretIndex: 1);
    }

    [Fact]
    public void Verify_IdempotencyKey_IsTheDeliveryId()
    {
        var request = Post(Body, ("Authorization", "Bearer " + Token), ("Idempotency-Key", "idem-1"), ("X-Delivery-Id", "dlv-1"));

        Sut.Verify(request, Secrets(Token), AnyTime, Tolerance).DeliveryId.ShouldBe("idem-1");
    }

    [Fact]
    public void Verify_XDeliveryIdWithoutIdempotencyKey_IsTheDeliveryId()
    {
        var request = Post(Body, ("Authorization", "Bearer " + Token), ("x-delivery-id", "dlv-1"));

        Sut.Verify(request, Secrets(Token), AnyTime, Tolerance).DeliveryId.ShouldBe("dlv-1");
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("  ", null)]
    [InlineData("", "dlv-1")]
    public void Verify_BlankIdempotencyKey_IsNoDeliveryId(string key, string? deliveryHeader)
    {
        // Else every delivery sent with an empty key would be a duplicate of the first, and dropped.
        var headers = new List<(string, string)> { ("Authorization", "Bearer " + Token), ("Idempotency-Key", key) };
        if (deliveryHeader is not null)
        {
            headers.Add(("X-Delivery-Id", deliveryHeader));
        }

        Sut.Verify(Post(Body, [.. headers]), Secrets(Token), AnyTime, Tolerance).DeliveryId.ShouldBe(deliveryHeader);
    }

    [Fact]
    public void Verify_NoDeliveryHeader_NoDeliveryId()
    {
        var result = Sut.Verify(Post(Body, ("Authorization", "Bearer " + Token)), Secrets(Token), AnyTime, Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.DeliveryId.ShouldBeNull();
        result.SignedAt.ShouldBeNull();
    }

    [Fact]
    public void Verify_WrongTokenWithIdempotencyKey_NoDeliveryIdReported()
    {
        var request = Post(Body, ("Authorization", "Bearer wrong-token-000000"), ("Idempotency-Key", "idem-1"));

        Sut.Verify(request, Secrets(Token), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Handshake_AnyRequest_Null()
    {
        Sut.Handshake(Get([("challenge", "1")], ("Authorization", "Bearer " + Token)), Secrets(Token)).ShouldBeNull();
    }

    [Theory]
    [InlineData("")]
    [InlineData("short")]
    [InlineData("has a space inside it")]
    [InlineData("non-ascii-token-é-0123456")]
    [InlineData(" svc_8d1f0c3a9e7b4a62")]
    public void ValidateSecret_Unusable_Error(string secret)
    {
        BearerScheme.ValidateSecret(secret).ShouldNotBeNull();
    }

    [Theory]
    [InlineData(Token)]
    [InlineData("bwk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void ValidateSecret_Token_Null(string secret)
    {
        BearerScheme.ValidateSecret(secret).ShouldBeNull();
    }

    [Fact]
    public void NameAndSignsTimestamp_AreTheManifestValues()
    {
        (Sut.Name, Sut.SignsTimestamp).ShouldBe(("bearer", false));
    }
}
