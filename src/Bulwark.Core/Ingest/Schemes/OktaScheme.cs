namespace Bulwark.Ingest;

/// <summary>
/// <c>okta</c> (Event Hooks): no HMAC. Okta sends the static <c>Authorization</c> header value registered with the hook,
/// compared with each active secret in constant time over SHA-256 digests, so the time taken does not reveal the
/// secret's length. Nothing is signed with a timestamp and there is no delivery header: events dedupe on
/// <c>data.events[].uuid</c> in the body.
/// </summary>
/// <remarks>
/// Handshake: a GET carrying <c>X-Okta-Verification-Challenge</c> is answered 200 <c>{"verification":"&lt;value&gt;"}</c>.
/// Okta's verification GET is not authenticated the way deliveries are, so the decision is: when the GET carries an
/// <c>Authorization</c> header it must match an active secret (403 otherwise, which shows a mismatched key at
/// verification time rather than at the first event); when it carries none, the challenge is answered anyway, because
/// the answer only echoes what the caller sent and proves nothing an attacker could use. An empty challenge is refused.
/// </remarks>
public sealed class OktaScheme : IWebhookScheme
{
    private const string ChallengeHeader = "X-Okta-Verification-Challenge";

    private OktaScheme()
    {
    }

    /// <summary>The one instance.</summary>
    public static OktaScheme Instance { get; } = new();

    /// <inheritdoc />
    /// <value><c>okta</c>.</value>
    public string Name => "okta";

    /// <inheritdoc />
    /// <value><see langword="false"/>.</value>
    public bool SignsTimestamp => false;

    /// <summary>
    /// Checks a secret, the whole <c>Authorization</c> value registered in Okta: at least 16 characters, without
    /// surrounding whitespace or control characters, because the static value is the whole authentication.
    /// </summary>
    /// <param name="secret">The secret.</param>
    /// <returns>An error, or <see langword="null"/> when the secret is usable.</returns>
    public static string? ValidateSecret(string secret) => SchemeSecretRules.Token(secret);

    /// <inheritdoc />
    public VerificationResult Verify(WebhookRequest request, SchemeSecrets secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        SchemeChecks.VerifyArguments(request, secrets, tolerance);
        return StaticToken.Verify(request, secrets, deliveryId: null);
    }

    /// <inheritdoc />
    public HandshakeAnswer? Handshake(WebhookRequest request, SchemeSecrets secrets)
    {
        SchemeChecks.HandshakeArguments(request, secrets);
        var challenge = request.Header(ChallengeHeader);
        if (!SchemeChecks.IsGet(request) || challenge is null)
        {
            return null;
        }

        var authorization = request.Header(StaticToken.AuthorizationHeader);
        if (challenge.Length == 0 || (authorization is not null && SchemeCrypto.FindToken(secrets.Secrets, authorization) < 0))
        {
            return HandshakeAnswers.Refused();
        }

        return HandshakeAnswers.JsonObject(("verification", challenge));
    }
}
