namespace Bulwark.Ingest;

/// <summary>
/// <c>github</c>: header <c>X-Hub-Signature-256: sha256=&lt;hex HMAC-SHA256(secret UTF-8, raw body)&gt;</c>. The legacy
/// SHA-1 <c>X-Hub-Signature</c> is never accepted; GitHub omits the header when the hook has no secret, which is
/// refused. No timestamp is signed: replays are stopped by deduplication on <c>X-GitHub-Delivery</c> (a GUID per
/// delivery), reported as <see cref="VerificationResult.DeliveryId"/>. The <c>ping</c> event is an ordinary signed
/// delivery, so there is no handshake.
/// </summary>
public sealed class GitHubScheme : IWebhookScheme
{
    private GitHubScheme()
    {
    }

    /// <summary>The one instance.</summary>
    public static GitHubScheme Instance { get; } = new();

    /// <inheritdoc />
    /// <value><c>github</c>.</value>
    public string Name => "github";

    /// <inheritdoc />
    /// <value><see langword="false"/>.</value>
    public bool SignsTimestamp => false;

    /// <summary>Checks a secret: any non-empty text without surrounding whitespace or control characters.</summary>
    /// <param name="secret">The secret.</param>
    /// <returns>An error, or <see langword="null"/> when the secret is usable.</returns>
    public static string? ValidateSecret(string secret) => SchemeSecretRules.Text(secret);

    /// <inheritdoc />
    public VerificationResult Verify(WebhookRequest request, SchemeSecrets secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        SchemeChecks.VerifyArguments(request, secrets, tolerance);
        return BodySignature.Verify(request, secrets, "X-Hub-Signature-256", "sha256=", text => SchemeCrypto.DecodeHexMac(text),
            request.Header("X-GitHub-Delivery"));
    }

    /// <inheritdoc />
    /// <returns>Always <see langword="null"/>: GitHub's <c>ping</c> is a signed delivery, not a handshake.</returns>
    public HandshakeAnswer? Handshake(WebhookRequest request, SchemeSecrets secrets)
    {
        SchemeChecks.HandshakeArguments(request, secrets);
        return null;
    }
}
