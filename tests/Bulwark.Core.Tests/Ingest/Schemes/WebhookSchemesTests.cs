using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Schemes.SchemeTesting;

namespace Bulwark.Core.Tests.Ingest.Schemes;

public sealed class WebhookSchemesTests
{
    private static readonly string[] Names =
        ["standard-webhooks", "stripe", "github", "meta", "x", "linkedin", "okta", "auth0", "slack", "bearer"];

    /// <summary>Every header any scheme reads, so random requests reach every branch.</summary>
    private static readonly string[] HeaderNames =
    [
        "webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp", "svix-signature", "Stripe-Signature",
        "X-Hub-Signature-256", "X-GitHub-Delivery", "x-twitter-webhooks-signature", "X-LI-Signature", "Authorization",
        "X-Okta-Verification-Challenge", "X-Slack-Request-Timestamp", "X-Slack-Signature", "Idempotency-Key", "X-Delivery-Id",
    ];

    private static readonly string[] ValuePieces =
    [
        "v1,", "v0=", "v1=", "t=", "sha256=", "hmacsha256=", "Bearer ", "whsec_", ",", " ", "=", ".", "==", "1614265330",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "99999999999999999999", "-1", "\u00e9", "\uFFFD", "{", "\"",
    ];

    [Fact]
    public void All_IsEveryManifestNameOnceInTheDocumentedOrder()
    {
        WebhookSchemes.All.Select(s => s.Name).ShouldBe(Names);
    }

    [Fact]
    public void Find_EachName_ReturnsTheSchemeOfThatName()
    {
        foreach (var name in Names)
        {
            WebhookSchemes.Find(name).ShouldNotBeNull().Name.ShouldBe(name);
        }

        WebhookSchemes.Find("stripe").ShouldBeSameAs(StripeScheme.Instance);
    }

    [Theory]
    [InlineData("Stripe")]
    [InlineData("svix")]
    [InlineData("")]
    [InlineData("hmac")]
    public void Find_UnknownName_Null(string name)
    {
        WebhookSchemes.Find(name).ShouldBeNull();
    }

    [Fact]
    public void SignsTimestamp_OnlyStandardWebhooksStripeAndSlack()
    {
        WebhookSchemes.All.Where(s => s.SignsTimestamp).Select(s => s.Name).ShouldBe(["standard-webhooks", "stripe", "slack"]);
    }

    [Theory]
    [InlineData("standard-webhooks", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true)]
    [InlineData("standard-webhooks", "whsec_", false)]
    [InlineData("standard-webhooks", "", false)]
    [InlineData("stripe", "webhook_secret", true)]
    [InlineData("stripe", "", false)]
    [InlineData("github", "It's a Secret to Everybody", true)]
    [InlineData("meta", "app-secret", true)]
    [InlineData("x", "consumer-secret", true)]
    [InlineData("linkedin", "client-secret", true)]
    [InlineData("slack", "8f742231b10e8888abcd99yyyzzz85a5", true)]
    [InlineData("okta", "okta-hook-key-5f2a9c1e7b", true)]
    [InlineData("okta", "short", false)]
    [InlineData("auth0", "Bearer auth0-stream-token", true)]
    [InlineData("bearer", "svc_8d1f0c3a9e7b4a62", true)]
    [InlineData("bearer", "with space inside 12345", false)]
    public void ValidateSecret_KnownScheme_DispatchesToTheSchemesRule(string scheme, string secret, bool usable)
    {
        (WebhookSchemes.ValidateSecret(scheme, secret) is null).ShouldBe(usable);
    }

    [Fact]
    public void ValidateSecret_UnknownScheme_ErrorWithoutTheSecret()
    {
        var error = WebhookSchemes.ValidateSecret("nope", "super-secret-value");

        error.ShouldNotBeNull();
        error.ShouldNotContain("super-secret-value");
    }

    [Fact]
    public void ValidateSecret_EveryScheme_RefusesAnEmptySecret()
    {
        foreach (var name in Names)
        {
            WebhookSchemes.ValidateSecret(name, "").ShouldNotBeNull(name);
        }
    }

    [Fact]
    public void VerificationOutcome_WireValues_ArePinned()
    {
        ((int)VerificationOutcome.Verified).ShouldBe(1);
        ((int)VerificationOutcome.MissingSignature).ShouldBe(2);
        ((int)VerificationOutcome.MalformedSignature).ShouldBe(3);
        ((int)VerificationOutcome.BadSignature).ShouldBe(4);
        ((int)VerificationOutcome.TimestampOutsideWindow).ShouldBe(5);
        Enum.GetValues<VerificationOutcome>().Length.ShouldBe(5);
    }

    [Fact]
    public void Verify_NullOrNegativeArguments_Throw()
    {
        var request = Post("{}");
        foreach (var scheme in WebhookSchemes.All)
        {
            Should.Throw<ArgumentNullException>(() => scheme.Verify(null!, Secrets("s"), AnyTime, Tolerance));
            Should.Throw<ArgumentNullException>(() => scheme.Verify(request, null!, AnyTime, Tolerance));
            Should.Throw<ArgumentOutOfRangeException>(() => scheme.Verify(request, Secrets("s"), AnyTime, TimeSpan.FromSeconds(-1)));
            Should.Throw<ArgumentNullException>(() => scheme.Handshake(null!, Secrets("s")));
            Should.Throw<ArgumentNullException>(() => scheme.Handshake(request, null!));
        }
    }

    [Fact]
    public void Verify_NoHeaders_MissingSignatureForEveryScheme()
    {
        foreach (var scheme in WebhookSchemes.All)
        {
            scheme.Verify(Post("{}"), Secrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), AnyTime, Tolerance).Outcome
                .ShouldBe(VerificationOutcome.MissingSignature, scheme.Name);
        }
    }

    [Fact]
    public void VerifyAndHandshake_RandomHeaders_NeverThrowNeverVerifyAndNeverEchoAValue()
    {
        var random = new Random(20261121);
        var secrets = Secrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "It's a Secret to Everybody", "okta-hook-key-5f2a9c1e7b");
        for (var round = 0; round < 3000; round++)
        {
            var headers = new List<(string, string)>();
            foreach (var name in HeaderNames)
            {
                if (random.Next(3) > 0)
                {
                    headers.Add((name, RandomValue(random)));
                }
            }

            var body = new byte[random.Next(0, 64)];
            random.NextBytes(body);
            var method = random.Next(2) == 0 ? "POST" : "GET";
            var request = new WebhookRequest(method, headers.ToDictionary(h => h.Item1, h => h.Item2),
                new Dictionary<string, string> { ["crc_token"] = RandomValue(random), ["challengeCode"] = RandomValue(random) }, body);
            var now = DateTimeOffset.FromUnixTimeSeconds(random.NextInt64(0, 4_000_000_000));

            foreach (var scheme in WebhookSchemes.All)
            {
                var result = scheme.Verify(request, secrets, now, Tolerance);

                result.IsVerified.ShouldBeFalse($"{scheme.Name}, round {round}");
                foreach (var (_, value) in headers)
                {
                    if (value.Length >= 12)
                    {
                        result.Detail.ShouldNotContain(value, Case.Sensitive, $"{scheme.Name}, round {round}");
                    }
                }

                foreach (var secret in secrets.Secrets)
                {
                    result.Detail.ShouldNotContain(secret);
                }

                _ = scheme.Handshake(request, secrets);
            }
        }
    }

    [Fact]
    public void Verify_VerifiedResults_NeverCarryTheSecretOrSignatureInDetail()
    {
        const string secret = "It's a Secret to Everybody";
        const string signature = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

        var result = GitHubScheme.Instance.Verify(Post("Hello, World!", ("X-Hub-Signature-256", "sha256=" + signature)),
            Secrets(secret), AnyTime, Tolerance);

        result.IsVerified.ShouldBeTrue();
        result.Detail.ShouldNotContain(secret);
        result.Detail.ShouldNotContain(signature);
    }

    private static string RandomValue(Random random)
    {
        var parts = random.Next(0, 6);
        var text = string.Empty;
        for (var i = 0; i < parts; i++)
        {
            text += random.Next(4) == 0
                ? Convert.ToBase64String(BitConverter.GetBytes(random.NextInt64()))
                : ValuePieces[random.Next(ValuePieces.Length)];
        }

        return text;
    }
}
