namespace Bulwark.Ingest;

/// <summary>
/// <c>auth0</c> (Log Streams, custom webhook): no HMAC. Auth0 sends the stream's Authorization Token verbatim as the
/// <c>Authorization</c> header (for example <c>Bearer …</c>); it is compared with each active secret in constant time
/// over SHA-256 digests, so the time taken does not reveal the secret's length. No timestamp, no delivery header
/// (records dedupe on <c>log_id</c> in the body) and no handshake.
/// </summary>
public sealed class Auth0Scheme : IWebhookScheme
{
    private Auth0Scheme()
    {
    }

    /// <summary>The one instance.</summary>
    public static Auth0Scheme Instance { get; } = new();

    /// <inheritdoc />
    /// <value><c>auth0</c>.</value>
    public string Name => "auth0";

    /// <inheritdoc />
    /// <value><see langword="false"/>.</value>
    public bool SignsTimestamp => false;

    /// <summary>
    /// Checks a secret, the whole <c>Authorization</c> value set on the stream: at least 16 characters, without
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
    /// <returns>Always <see langword="null"/>: Auth0 log streams have no handshake.</returns>
    public HandshakeAnswer? Handshake(WebhookRequest request, SchemeSecrets secrets)
    {
        SchemeChecks.HandshakeArguments(request, secrets);
        return null;
    }
}
