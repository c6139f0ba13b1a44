using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Schemes.SchemeTesting;

namespace Bulwark.Core.Tests.Ingest.Schemes;

public sealed class Auth0SchemeTests
{
    private const string Token = "Bearer auth0-stream-token-93b1c7";
    private const string OldToken = "Bearer auth0-stream-token-old-0001";
    private const string Body = """{"log_id":"90020230101","data":{"type":"limit_wc","log_id":"90020230101"}}""";

    private static readonly Auth0Scheme Sut = Auth0Scheme.Instance;

    [Fact]
    public void Verify_RightAuthorization_VerifiedWithoutDeliveryId()
    {
        var result = Sut.Verify(Post(Body, ("Authorization", Token)), Secrets(Token), AnyTime, Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.DeliveryId.ShouldBeNull();
    }

    [Theory]
    [InlineData("Bearer auth0-stream-token-93b1c8")] // same length
    [InlineData("bearer auth0-stream-token-93b1c7")] // the whole value is compared, scheme name included
    [InlineData("auth0-stream-token-93b1c7")] // shorter
    [InlineData("Bearer auth0-stream-token-93b1c7-and-more")] // longer
    public void Verify_WrongAuthorization_BadSignature(string presented)
    {
        Sut.Verify(Post(Body, ("Authorization", presented)), Secrets(Token), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_MissingAuthorization_MissingSignature()
    {
        Sut.Verify(Post(Body), Secrets(Token), AnyTime, Tolerance).ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Fact]
    public void Verify_EmptyAuthorization_MalformedSignature()
    {
        Sut.Verify(Post(Body, ("Authorization", "")), Secrets(Token), AnyTime, Tolerance).ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Fact]
    public void Verify_NewAndOldTokenActive_OldOneMatchesAtIndex1()
    {
        Sut.Verify(Post(Body, ("authorization", OldToken)), Secrets(Token, OldToken), AnyTime, Tolerance)
            .ShouldBe(VerificationOutcome.Verified, secretIndex: 1);
    }

    [Fact]
    public void Verify_NoSecret_BadSignature()
    {
        Sut.Verify(Post(Body, ("Authorization", Token)), Secrets(), AnyTime, Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Handshake_AnyRequest_NullBecauseLogStreamsHaveNone()
    {
        Sut.Handshake(Get([], ("X-Okta-Verification-Challenge", "x"), ("Authorization", Token)), Secrets(Token)).ShouldBeNull();
        Sut.Handshake(Post(Body, ("Authorization", Token)), Secrets(Token)).ShouldBeNull();
    }

    [Theory]
    [InlineData("", false)]
    [InlineData("Bearer short", false)]
    [InlineData(Token, true)]
    public void ValidateSecret_SixteenCharactersOrMore(string secret, bool usable)
    {
        (Auth0Scheme.ValidateSecret(secret) is null).ShouldBe(usable);
    }

    [Fact]
    public void NameAndSignsTimestamp_AreTheManifestValues()
    {
        (Sut.Name, Sut.SignsTimestamp).ShouldBe(("auth0", false));
    }
}
