using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Ingest;

/// <summary>
/// <c>meta</c> (Facebook Pages, Instagram, WhatsApp, Messenger): header
/// <c>X-Hub-Signature-256: sha256=&lt;hex HMAC-SHA256(app secret, raw body)&gt;</c>, the same construction as GitHub.
/// Meta signs the body with non-ASCII characters escaped (<c>\u00e4</c>), so only the raw bytes verify. No timestamp
/// and no delivery header: deliveries dedupe on the entry and change ids in the body.
/// </summary>
/// <remarks>
/// Handshake: a GET carrying <c>hub.mode</c>, <c>hub.verify_token</c> or <c>hub.challenge</c>. It is answered 200 with
/// the <c>hub.challenge</c> as plain text only when <c>hub.mode</c> is <c>subscribe</c>, the challenge is not empty and
/// <c>hub.verify_token</c> equals <see cref="SchemeSecrets.VerifyToken"/> (compared in constant time over SHA-256
/// digests); otherwise 403, including when no verify token is configured.
/// </remarks>
public sealed class MetaScheme : IWebhookScheme
{
    private MetaScheme()
    {
    }

    /// <summary>The one instance.</summary>
    public static MetaScheme Instance { get; } = new();

    /// <inheritdoc />
    /// <value><c>meta</c>.</value>
    public string Name => "meta";

    /// <inheritdoc />
    /// <value><see langword="false"/>.</value>
    public bool SignsTimestamp => false;

    /// <summary>Checks an app secret: any non-empty text without surrounding whitespace or control characters.</summary>
    /// <param name="secret">The secret.</param>
    /// <returns>An error, or <see langword="null"/> when the secret is usable.</returns>
    public static string? ValidateSecret(string secret) => SchemeSecretRules.Text(secret);

    /// <inheritdoc />
    public VerificationResult Verify(WebhookRequest request, SchemeSecrets secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        SchemeChecks.VerifyArguments(request, secrets, tolerance);
        return BodySignature.Verify(request, secrets, "X-Hub-Signature-256", "sha256=", text => SchemeCrypto.DecodeHexMac(text),
            deliveryId: null);
    }

    /// <inheritdoc />
    public HandshakeAnswer? Handshake(WebhookRequest request, SchemeSecrets secrets)
    {
        SchemeChecks.HandshakeArguments(request, secrets);
        request.Query.TryGetValue("hub.mode", out var mode);
        request.Query.TryGetValue("hub.verify_token", out var token);
        request.Query.TryGetValue("hub.challenge", out var challenge);
        if (!SchemeChecks.IsGet(request) || (mode is null && token is null && challenge is null))
        {
            return null;
        }

        return mode == "subscribe" && !string.IsNullOrEmpty(challenge) && TokenMatches(token, secrets.VerifyToken)
            ? HandshakeAnswers.Text(challenge)
            : HandshakeAnswers.Refused();
    }

    private static bool TokenMatches(string? presented, string? configured)
    {
        if (presented is null || string.IsNullOrEmpty(configured))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(configured)));
    }
}
