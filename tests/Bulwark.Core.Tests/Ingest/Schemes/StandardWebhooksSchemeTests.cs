using System.Text;
using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Schemes.SchemeTesting;

namespace Bulwark.Core.Tests.Ingest.Schemes;

public sealed class StandardWebhooksSchemeTests
{
    // TV-SW-1 (JS, Python, Go, Ruby and PHP library tests).
    private const string Secret1 = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string Id1 = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long Timestamp1 = 1614265330;
    private const string Payload1 = """{"test": 2432232314}""";
    private const string Signature1 = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    // TV-SW-2 (Rust library test_sign).
    private const string Secret2 = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    private const string Id2 = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    private const long Timestamp2 = 1649367553;
    private const string Payload2 = """{"email":"test@example.com","username":"test_user"}""";
    private const string Signature2 = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    private const string Decoy = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";

    private static readonly StandardWebhooksScheme Sut = StandardWebhooksScheme.Instance;

    [Fact]
    public void Verify_TvSw1_VerifiedWithDeliveryIdAndSignedAt()
    {
        var result = Sut.Verify(Delivery1(Signature1), Secrets(Secret1), At(Timestamp1), Tolerance);

        result.ShouldBe(VerificationOutcome.Verified, secretIndex: 0);
        result.DeliveryId.ShouldBe(Id1);
        result.SignedAt.ShouldBe(At(Timestamp1));
    }

    [Fact]
    public void Verify_TvSw2_Verified()
    {
        var request = Post(Payload2, ("webhook-id", Id2), ("webhook-timestamp", "1649367553"), ("webhook-signature", Signature2));

        var result = Sut.Verify(request, Secrets(Secret2), At(Timestamp2), Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.DeliveryId.ShouldBe(Id2);
        result.SignedAt.ShouldBe(At(Timestamp2));
    }

    [Fact]
    public void Verify_SvixHeaderNames_Verified()
    {
        var request = Post(Payload1, ("svix-id", Id1), ("svix-timestamp", "1614265330"), ("svix-signature", Signature1));

        var result = Sut.Verify(request, Secrets(Secret1), At(Timestamp1), Tolerance);

        result.ShouldBe(VerificationOutcome.Verified);
        result.DeliveryId.ShouldBe(Id1);
    }

    [Fact]
    public void Verify_HeaderNamesInAnyCase_Verified()
    {
        var request = Post(Payload1, ("Webhook-Id", Id1), ("WEBHOOK-TIMESTAMP", "1614265330"), ("Webhook-Signature", Signature1));

        Sut.Verify(request, Secrets(Secret1), At(Timestamp1), Tolerance).ShouldBe(VerificationOutcome.Verified);
    }

    [Fact]
    public void Verify_TvSw1SignatureWithTvSw2Inputs_BadSignature()
    {
        var request = Post(Payload2, ("webhook-id", Id2), ("webhook-timestamp", "1649367553"), ("webhook-signature", Signature1));

        Sut.Verify(request, Secrets(Secret2), At(Timestamp2), Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Theory]
    [InlineData("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=")] // last character changed (Python test)
    [InlineData("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLawdd")] // C# and Ruby tests
    [InlineData("v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=")] // Rust test_no_verify
    [InlineData("v1,g0hM9SsE")] // "v1," and the first 8 characters of the valid signature
    [InlineData("v1,g0hM9")] // the first 8 characters of the valid header
    [InlineData("v1,!!!not-base64!!!")]
    [InlineData("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=AAAA")] // decodes to more than 32 bytes
    public void Verify_NegativeSignatureVectors_BadSignature(string header)
    {
        Sut.Verify(Delivery1(header), Secrets(Secret1), At(Timestamp1), Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Theory]
    [InlineData("v1,")] // an empty value
    [InlineData("v1")] // no comma
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==")]
    [InlineData("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")]
    [InlineData("V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")]
    [InlineData("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")]
    public void Verify_NoWellFormedV1Entry_MalformedSignature(string header)
    {
        Sut.Verify(Delivery1(header), Secrets(Secret1), At(Timestamp1), Tolerance).ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Fact]
    public void Verify_ValidSignatureAmongDecoys_Verified()
    {
        var header = $"{Decoy} v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {Signature1} {Decoy}";

        Sut.Verify(Delivery1(header), Secrets(Secret1), At(Timestamp1), Tolerance).ShouldBe(VerificationOutcome.Verified);
    }

    [Fact]
    public void Verify_ValidSignatureAfterMalformedAndUnknownEntries_Verified()
    {
        var header = $"v1, v1 v1a,abc  v2,xyz {Signature1}";

        Sut.Verify(Delivery1(header), Secrets(Secret1), At(Timestamp1), Tolerance).ShouldBe(VerificationOutcome.Verified);
    }

    [Fact]
    public void Verify_DecoysOnly_BadSignature()
    {
        var header = $"{Decoy} v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {Decoy}";

        Sut.Verify(Delivery1(header), Secrets(Secret1), At(Timestamp1), Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Theory]
    [InlineData("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "=", "v1,LVOXivKoo4FWasi/IaHvzhE/u+7/cu2AME+zS/nXqzk=")]
    [InlineData("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr", "==", "v1,yK2tMbA6BHPrMEJ1lLv7UlJJbgFoqGenJkiajZ29evg=")]
    public void Verify_UnpaddedSecret_DecodesAsIfPadded(string unpadded, string padding, string pythonSignature)
    {
        // The Python library appends "==" to the secret so that these unpadded test secrets work. The expected
        // signatures were computed with Python's hmac module; the test recomputes them with .NET's instance API.
        var key = Convert.FromBase64String(unpadded + padding);
        var signed = Encoding.UTF8.GetBytes($"{Id1}.{Timestamp1}.{Payload1}");
        ("v1," + Convert.ToBase64String(Hmac(key, signed))).ShouldBe(pythonSignature);

        Sut.Verify(Delivery1(pythonSignature), Secrets("whsec_" + unpadded), At(Timestamp1), Tolerance)
            .ShouldBe(VerificationOutcome.Verified);
        Sut.Verify(Delivery1(pythonSignature), Secrets("whsec_" + unpadded + padding), At(Timestamp1), Tolerance)
            .ShouldBe(VerificationOutcome.Verified);
    }

    [Theory]
    [InlineData(-300)]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(300)]
    public void Verify_TimestampWithinTolerance_Verified(int nowMinusTimestamp)
    {
        Sut.Verify(Delivery1(Signature1), Secrets(Secret1), At(Timestamp1, nowMinusTimestamp), Tolerance)
            .ShouldBe(VerificationOutcome.Verified);
    }

    [Fact]
    public void Verify_TimestampOlderThanNowMinus300_TimestampOutsideWindowTooOld()
    {
        var result = Sut.Verify(Delivery1(Signature1), Secrets(Secret1), At(Timestamp1, 301), Tolerance);

        result.ShouldBe(VerificationOutcome.TimestampOutsideWindow);
        result.Detail.ShouldContain("too old");
        result.DeliveryId.ShouldBe(Id1);
        result.SignedAt.ShouldBe(At(Timestamp1));
    }

    [Fact]
    public void Verify_TimestampNewerThanNowPlus300_TimestampOutsideWindowTooNew()
    {
        var result = Sut.Verify(Delivery1(Signature1), Secrets(Secret1), At(Timestamp1, -301), Tolerance);

        result.ShouldBe(VerificationOutcome.TimestampOutsideWindow);
        result.Detail.ShouldContain("too new");
    }

    [Fact]
    public void Verify_HalfASecondPastTheTolerance_TimestampOutsideWindow()
    {
        var now = At(Timestamp1, 300).AddMilliseconds(500);

        Sut.Verify(Delivery1(Signature1), Secrets(Secret1), now, Tolerance).ShouldBe(VerificationOutcome.TimestampOutsideWindow);
    }

    [Fact]
    public void Verify_StaleTimestampAndWrongSignature_BadSignatureSoTheWindowStaysHidden()
    {
        var result = Sut.Verify(Delivery1(Decoy), Secrets(Secret1), At(Timestamp1, 3600), Tolerance);

        result.ShouldBe(VerificationOutcome.BadSignature);
        result.Detail.ShouldNotContain("too old");
    }

    [Fact]
    public void Verify_ZeroTolerance_OnlyTheExactSecondVerifies()
    {
        Sut.Verify(Delivery1(Signature1), Secrets(Secret1), At(Timestamp1), TimeSpan.Zero).ShouldBe(VerificationOutcome.Verified);
        Sut.Verify(Delivery1(Signature1), Secrets(Secret1), At(Timestamp1, 1), TimeSpan.Zero)
            .ShouldBe(VerificationOutcome.TimestampOutsideWindow);
    }

    [Fact]
    public void Verify_TimestampBeyondYear9999_TimestampOutsideWindowTooNew()
    {
        var key = Convert.FromBase64String(Secret1["whsec_".Length..]);
        var signature = "v1," + Convert.ToBase64String(Hmac(key, Encoding.UTF8.GetBytes($"{Id1}.999999999999.{Payload1}")));
        var request = Post(Payload1, ("webhook-id", Id1), ("webhook-timestamp", "999999999999"), ("webhook-signature", signature));

        var result = Sut.Verify(request, Secrets(Secret1), At(Timestamp1), Tolerance);

        result.ShouldBe(VerificationOutcome.TimestampOutsideWindow);
        result.Detail.ShouldContain("too new");
    }

    [Fact]
    public void Verify_MissingSignatureHeader_MissingSignature()
    {
        var request = Post(Payload1, ("webhook-id", Id1), ("webhook-timestamp", "1614265330"));

        Sut.Verify(request, Secrets(Secret1), At(Timestamp1), Tolerance).ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Fact]
    public void Verify_MissingId_MalformedSignature()
    {
        var request = Post(Payload1, ("webhook-timestamp", "1614265330"), ("webhook-signature", Signature1));

        var result = Sut.Verify(request, Secrets(Secret1), At(Timestamp1), Tolerance);

        result.ShouldBe(VerificationOutcome.MalformedSignature);
        result.Detail.ShouldContain("webhook-id");
    }

    [Fact]
    public void Verify_MissingTimestamp_MalformedSignature()
    {
        var request = Post(Payload1, ("webhook-id", Id1), ("webhook-signature", Signature1));

        var result = Sut.Verify(request, Secrets(Secret1), At(Timestamp1), Tolerance);

        result.ShouldBe(VerificationOutcome.MalformedSignature);
        result.Detail.ShouldContain("webhook-timestamp");
    }

    [Fact]
    public void Verify_SvixSignatureWithWebhookIdAndTimestamp_MalformedBecauseNamesAreNotMixed()
    {
        var request = Post(Payload1, ("webhook-id", Id1), ("webhook-timestamp", "1614265330"), ("svix-signature", Signature1));

        Sut.Verify(request, Secrets(Secret1), At(Timestamp1), Tolerance).ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("-1614265330")]
    [InlineData("+1614265330")]
    [InlineData("1614265330.0")]
    [InlineData(" 1614265330")]
    [InlineData("99999999999999999999999")]
    public void Verify_TimestampNotIntegerSeconds_MalformedSignature(string timestamp)
    {
        var request = Post(Payload1, ("webhook-id", Id1), ("webhook-timestamp", timestamp), ("webhook-signature", Signature1));

        Sut.Verify(request, Secrets(Secret1), At(Timestamp1), Tolerance).ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Theory]
    [InlineData("")]
    [InlineData("msg.1")]
    public void Verify_IdEmptyOrWithFullStop_MalformedSignature(string id)
    {
        var request = Post(Payload1, ("webhook-id", id), ("webhook-timestamp", "1614265330"), ("webhook-signature", Signature1));

        Sut.Verify(request, Secrets(Secret1), At(Timestamp1), Tolerance).ShouldBe(VerificationOutcome.MalformedSignature);
    }

    [Fact]
    public void Verify_BodyChangedByOneByte_BadSignature()
    {
        var request = Post("""{"test": 2432232315}""", ("webhook-id", Id1), ("webhook-timestamp", "1614265330"),
            ("webhook-signature", Signature1));

        Sut.Verify(request, Secrets(Secret1), At(Timestamp1), Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_ReserializedBody_BadSignature()
    {
        var request = Post("""{"test":2432232314}""", ("webhook-id", Id1), ("webhook-timestamp", "1614265330"),
            ("webhook-signature", Signature1));

        Sut.Verify(request, Secrets(Secret1), At(Timestamp1), Tolerance).ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_NewAndOldSecretActive_OldOneMatchesAtIndex1()
    {
        var result = Sut.Verify(Delivery1(Signature1), Secrets(Secret2, Secret1), At(Timestamp1), Tolerance);

        result.ShouldBe(VerificationOutcome.Verified, secretIndex: 1);
    }

    [Fact]
    public void Verify_HeaderSignedWithBothSecretsDuringRotation_NewestSecretReported()
    {
        var key2 = Convert.FromBase64String(Secret2["whsec_".Length..]);
        var signature2 = "v1," + Convert.ToBase64String(Hmac(key2, Encoding.UTF8.GetBytes($"{Id1}.{Timestamp1}.{Payload1}")));

        var result = Sut.Verify(Delivery1($"{Signature1} {signature2}"), Secrets(Secret2, Secret1), At(Timestamp1), Tolerance);

        result.ShouldBe(VerificationOutcome.Verified, secretIndex: 0);
    }

    [Fact]
    public void Verify_UnusableSecretBeforeTheRightOne_SkippedAndTheRightOneMatches()
    {
        var result = Sut.Verify(Delivery1(Signature1), Secrets("whsec_", "not-whsec", Secret1), At(Timestamp1), Tolerance);

        result.ShouldBe(VerificationOutcome.Verified, secretIndex: 2);
    }

    [Fact]
    public void Verify_SecretWithoutPrefix_NotUsed()
    {
        Sut.Verify(Delivery1(Signature1), Secrets(Secret1["whsec_".Length..]), At(Timestamp1), Tolerance)
            .ShouldBe(VerificationOutcome.BadSignature);
    }

    [Fact]
    public void Verify_NoActiveSecret_BadSignature()
    {
        var result = Sut.Verify(Delivery1(Signature1), Secrets(), At(Timestamp1), Tolerance);

        result.ShouldBe(VerificationOutcome.BadSignature);
        result.Detail.ShouldContain("No active secret");
    }

    [Theory]
    [InlineData("", "starts with whsec_")]
    [InlineData("whsec_", "base64 key")]
    [InlineData("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starts with whsec_")]
    [InlineData("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starts with whsec_")]
    [InlineData("whsec_====", "not valid base64")]
    [InlineData("whsec_M", "not valid base64")]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw===", "not valid base64")]
    [InlineData("whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw", "not valid base64")]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", "not valid base64")]
    [InlineData("whsec_MfKQ9r8GKYqrTwjU-D8ILPZIo2LaLaSw", "not valid base64")]
    [InlineData("whsec_Mf=KQ9r8", "not valid base64")]
    public void ValidateSecret_Unusable_ErrorWithoutTheSecret(string secret, string expected)
    {
        var error = StandardWebhooksScheme.ValidateSecret(secret);

        error.ShouldNotBeNull();
        error.ShouldContain(expected);
        if (secret.Length > "whsec_".Length)
        {
            error.ShouldNotContain(secret["whsec_".Length..]);
        }
    }

    [Theory]
    [InlineData(Secret1)]
    [InlineData(Secret2)]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS")]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS=")]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr")]
    [InlineData("whsec_AA")]
    public void ValidateSecret_WhsecBase64_Null(string secret)
    {
        StandardWebhooksScheme.ValidateSecret(secret).ShouldBeNull();
    }

    [Fact]
    public void Handshake_AnyRequest_NullBecauseTheSchemeHasNone()
    {
        Sut.Handshake(Get([("challenge", "1")]), Secrets(Secret1)).ShouldBeNull();
        Sut.Handshake(Delivery1(Signature1), Secrets(Secret1)).ShouldBeNull();
    }

    [Fact]
    public void NameAndSignsTimestamp_AreTheManifestValues()
    {
        (Sut.Name, Sut.SignsTimestamp).ShouldBe(("standard-webhooks", true));
    }

    private static WebhookRequest Delivery1(string signatureHeader) =>
        Post(Payload1, ("webhook-id", Id1), ("webhook-timestamp", "1614265330"), ("webhook-signature", signatureHeader));
}
