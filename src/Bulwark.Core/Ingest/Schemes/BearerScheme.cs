namespace Bulwark.Ingest;

/// <summary>
/// <c>bearer</c>, for the operator's own services: <c>Authorization: Bearer &lt;secret&gt;</c> (the scheme name in any
/// case), the token compared with each active secret in constant time over SHA-256 digests, so the time taken does not
/// reveal the secret's length. No timestamp and no handshake. <see cref="VerificationResult.DeliveryId"/> is the
/// <c>Idempotency-Key</c> header, else <c>X-Delivery-Id</c>, when the sender sets one.
/// </summary>
public sealed class BearerScheme : IWebhookScheme
{
    private const string BearerPrefix = "Bearer ";

    private BearerScheme()
    {
    }

    /// <summary>The one instance.</summary>
    public static BearerScheme Instance { get; } = new();

    /// <inheritdoc />
    /// <value><c>bearer</c>.</value>
    public string Name => "bearer";

    /// <inheritdoc />
    /// <value><see langword="false"/>.</value>
    public bool SignsTimestamp => false;

    /// <summary>
    /// Checks a secret: at least 16 characters of visible ASCII without spaces (an RFC 6750 token fits in one header
    /// word), because the static token is the whole authentication.
    /// </summary>
    /// <param name="secret">The secret.</param>
    /// <returns>An error, or <see langword="null"/> when the secret is usable.</returns>
    public static string? ValidateSecret(string secret)
    {
        if (SchemeSecretRules.Token(secret) is { } error)
        {
            return error;
        }

        foreach (var c in secret)
        {
            if (c is <= ' ' or > '~')
            {
                return "A bearer token is visible ASCII without spaces.";
            }
        }

        return null;
    }

    /// <inheritdoc />
    public VerificationResult Verify(WebhookRequest request, SchemeSecrets secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        SchemeChecks.VerifyArguments(request, secrets, tolerance);
        var authorization = request.Header(StaticToken.AuthorizationHeader);
        if (authorization is null)
        {
            return SchemeChecks.Missing(StaticToken.AuthorizationHeader);
        }

        if (!authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return SchemeChecks.Malformed($"The {StaticToken.AuthorizationHeader} header does not use the Bearer scheme.");
        }

        var token = authorization.AsSpan(BearerPrefix.Length).Trim(' ').ToString();
        if (token.Length == 0)
        {
            return SchemeChecks.Malformed($"The {StaticToken.AuthorizationHeader} header has no bearer token.");
        }

        var index = SchemeCrypto.FindToken(secrets.Secrets, token);
        return index < 0
            ? SchemeChecks.Bad("The bearer token", secrets)
            : SchemeChecks.Verified(index, SchemeChecks.NonBlank(request.Header("Idempotency-Key")) ?? request.Header("X-Delivery-Id"));
    }

    /// <inheritdoc />
    /// <returns>Always <see langword="null"/>: the bearer scheme has no handshake.</returns>
    public HandshakeAnswer? Handshake(WebhookRequest request, SchemeSecrets secrets)
    {
        SchemeChecks.HandshakeArguments(request, secrets);
        return null;
    }
}
