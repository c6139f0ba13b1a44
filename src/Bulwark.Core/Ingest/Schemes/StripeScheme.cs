namespace Bulwark.Ingest;

/// <summary>
/// <c>stripe</c>: header <c>Stripe-Signature: t=&lt;unix&gt;,v1=&lt;hex&gt;[,v1=…]</c>, HMAC-SHA256 in hex over
/// <c>{t}.{raw body}</c>, keyed with the secret's UTF-8 bytes as they are (the <c>whsec_</c> prefix included, nothing
/// decoded: unlike Standard Webhooks). Only <c>v1</c> entries count (several during a rotation); <c>v0</c> (test-mode
/// legacy) and unknown keys are ignored, so a header with only <c>v0</c> is refused. <c>t</c> must be within the
/// tolerance either way, checked once a signature matched. Stripe sends no delivery id in headers: deliveries dedupe on
/// the event <c>id</c> in the body, so <see cref="VerificationResult.DeliveryId"/> is <see langword="null"/>. No
/// handshake.
/// </summary>
/// <remarks>
/// Items are split on <c>,</c> and then on the first <c>=</c>, and trimmed. The header is malformed unless it has exactly
/// one <c>t</c> with integer seconds and at least one non-empty <c>v1</c>.
/// </remarks>
public sealed class StripeScheme : IWebhookScheme
{
    private const string SignatureHeader = "Stripe-Signature";

    private StripeScheme()
    {
    }

    /// <summary>The one instance.</summary>
    public static StripeScheme Instance { get; } = new();

    /// <inheritdoc />
    /// <value><c>stripe</c>.</value>
    public string Name => "stripe";

    /// <inheritdoc />
    /// <value><see langword="true"/>.</value>
    public bool SignsTimestamp => true;

    /// <summary>
    /// Checks a secret: any non-empty text without surrounding whitespace or control characters. Stripe's secrets
    /// start with <c>whsec_</c>, but the prefix is part of the key and not required.
    /// </summary>
    /// <param name="secret">The secret.</param>
    /// <returns>An error, or <see langword="null"/> when the secret is usable.</returns>
    public static string? ValidateSecret(string secret) => SchemeSecretRules.Text(secret);

    /// <inheritdoc />
    public VerificationResult Verify(WebhookRequest request, SchemeSecrets secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        SchemeChecks.VerifyArguments(request, secrets, tolerance);
        var header = request.Header(SignatureHeader);
        if (header is null)
        {
            return SchemeChecks.Missing(SignatureHeader);
        }

        string? timestamp = null;
        var timestamps = 0;
        var wellFormed = 0;
        var candidates = new List<byte[]>();
        foreach (var range in header.AsSpan().Split(','))
        {
            var item = header.AsSpan()[range].Trim();
            var equals = item.IndexOf('=');
            if (equals < 0)
            {
                continue;
            }

            var key = item[..equals];
            var value = item[(equals + 1)..];
            if (key.SequenceEqual("t"))
            {
                timestamps++;
                timestamp = value.ToString();
            }
            else if (key.SequenceEqual("v1") && !value.IsEmpty)
            {
                wellFormed++;
                if (SchemeCrypto.DecodeHexMac(value) is { } mac)
                {
                    candidates.Add(mac);
                }
            }
        }

        if (timestamps != 1 || !SchemeChecks.TryParseUnixSeconds(timestamp!, out var seconds))
        {
            return SchemeChecks.Malformed($"The {SignatureHeader} header needs exactly one t= with integer Unix seconds.");
        }

        if (wellFormed == 0)
        {
            return SchemeChecks.Malformed($"The {SignatureHeader} header has no v1 signature.");
        }

        var content = SchemeCrypto.RentPrefixed(timestamp + ".", request.Body.Span, out var length);
        try
        {
            var index = SchemeCrypto.FindSecret(secrets.Secrets, SchemeCrypto.Utf8Key, content.AsSpan(0, length), candidates);
            return index < 0
                ? SchemeChecks.Bad("No v1 signature", secrets)
                : SchemeChecks.Window(seconds, now, tolerance, index, deliveryId: null);
        }
        finally
        {
            SchemeCrypto.Return(content);
        }
    }

    /// <inheritdoc />
    /// <returns>Always <see langword="null"/>: Stripe has no handshake.</returns>
    public HandshakeAnswer? Handshake(WebhookRequest request, SchemeSecrets secrets)
    {
        SchemeChecks.HandshakeArguments(request, secrets);
        return null;
    }
}
