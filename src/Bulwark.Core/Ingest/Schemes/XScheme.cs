using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Ingest;

/// <summary>
/// <c>x</c> (X / Twitter Account Activity API and v2 webhooks): header
/// <c>x-twitter-webhooks-signature: sha256=&lt;base64 HMAC-SHA256(consumer secret, raw body)&gt;</c>. The key is the app's
/// consumer (API key) secret. No timestamp and no delivery header: deliveries dedupe on the event ids in the body.
/// </summary>
/// <remarks>
/// Handshake (CRC): a GET with <c>crc_token</c> is answered 200
/// <c>{"response_token":"sha256=&lt;base64 HMAC-SHA256(secret, crc_token)&gt;"}</c> with the first (newest) active secret,
/// because X checks the answer against the secret it currently holds. Because the answer signs caller-chosen text with
/// the key that signs events, a token outside 1–256 characters of letters, digits and <c>-_.~+/=:</c> is refused with
/// 403: no JSON object or array can be written in those characters, so the CRC cannot be used to sign a forged event.
/// With no active secret the answer is 403 as well. A delivery whose body is such a token (or empty) is refused as a
/// bad signature whatever its signature, so that CRC answers cannot get a body stored either.
/// </remarks>
public sealed class XScheme : IWebhookScheme
{
    private const string SignatureHeader = "x-twitter-webhooks-signature";

    private XScheme()
    {
    }

    /// <summary>The one instance.</summary>
    public static XScheme Instance { get; } = new();

    /// <inheritdoc />
    /// <value><c>x</c>.</value>
    public string Name => "x";

    /// <inheritdoc />
    /// <value><see langword="false"/>.</value>
    public bool SignsTimestamp => false;

    /// <summary>Checks a consumer secret: any non-empty text without surrounding whitespace or control characters.</summary>
    /// <param name="secret">The secret.</param>
    /// <returns>An error, or <see langword="null"/> when the secret is usable.</returns>
    public static string? ValidateSecret(string secret) => SchemeSecretRules.Text(secret);

    /// <inheritdoc />
    public VerificationResult Verify(WebhookRequest request, SchemeSecrets secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        SchemeChecks.VerifyArguments(request, secrets, tolerance);
        if (request.Header(SignatureHeader) is not null && HandshakeAnswers.IsSignableBody(request.Body.Span))
        {
            return HandshakeAnswers.SignableBodyRefused();
        }

        return BodySignature.Verify(request, secrets, SignatureHeader, "sha256=",
            text => SchemeCrypto.DecodeBase64Mac(text), deliveryId: null);
    }

    /// <inheritdoc />
    public HandshakeAnswer? Handshake(WebhookRequest request, SchemeSecrets secrets)
    {
        SchemeChecks.HandshakeArguments(request, secrets);
        if (!SchemeChecks.IsGet(request) || !request.Query.TryGetValue("crc_token", out var token))
        {
            return null;
        }

        var key = secrets.Secrets.Count > 0 ? SchemeCrypto.Utf8Key(secrets.Secrets[0]) : null;
        if (key is null || !HandshakeAnswers.IsSignableChallenge(token))
        {
            return HandshakeAnswers.Refused();
        }

        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(token));
        return HandshakeAnswers.JsonObject(("response_token", "sha256=" + Convert.ToBase64String(mac)));
    }
}
