using System.Buffers;

namespace Bulwark.Ingest;

/// <summary>
/// <c>standard-webhooks</c>: Standard Webhooks v1 symmetric signatures, also sent by Svix under <c>svix-*</c> header
/// names. Headers <c>webhook-id</c>, <c>webhook-timestamp</c> (Unix seconds) and <c>webhook-signature</c>, a
/// space-delimited list of <c>v1,&lt;base64 HMAC-SHA256&gt;</c> over <c>{id}.{timestamp}.{raw body}</c>. The key is the
/// base64-decoded text after <c>whsec_</c> (padding optional). Unknown versions (<c>v1a</c>, <c>v2</c>) and malformed
/// entries are skipped; any <c>v1</c> entry may match any active secret. The timestamp must be within the tolerance
/// either way; it is checked only once a signature matched, so an unauthenticated caller learns nothing about the
/// window or the clock. <see cref="VerificationResult.DeliveryId"/> is the <c>webhook-id</c>, the same on every retry.
/// No handshake.
/// </summary>
/// <remarks>
/// The whole header family is taken from one naming: <c>webhook-*</c> when <c>webhook-signature</c> is present, else
/// <c>svix-*</c>. An id containing a full stop is refused: with one, <c>{id}.{timestamp}.</c> would no longer split
/// uniquely and a signature for one id, timestamp and body could be replayed as another.
/// </remarks>
public sealed class StandardWebhooksScheme : IWebhookScheme
{
    /// <summary>The prefix of every Standard Webhooks secret.</summary>
    public const string SecretPrefix = "whsec_";

    private static readonly SearchValues<char> Base64Characters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");

    private StandardWebhooksScheme()
    {
    }

    /// <summary>The one instance.</summary>
    public static StandardWebhooksScheme Instance { get; } = new();

    /// <inheritdoc />
    /// <value><c>standard-webhooks</c>.</value>
    public string Name => "standard-webhooks";

    /// <inheritdoc />
    /// <value><see langword="true"/>.</value>
    public bool SignsTimestamp => true;

    /// <summary>
    /// Checks a secret: <c>whsec_</c> followed by standard base64 of at least one byte; the trailing <c>=</c> padding may
    /// be left out (some providers and the Python library's tests do). The specification's 24–64 random bytes are not
    /// enforced because the provider, not the operator, chooses the secret.
    /// </summary>
    /// <param name="secret">The secret.</param>
    /// <returns>An error, or <see langword="null"/> when the secret is usable.</returns>
    public static string? ValidateSecret(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (!secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            return "A standard-webhooks secret starts with whsec_.";
        }

        if (secret.Length == SecretPrefix.Length)
        {
            return "A standard-webhooks secret has a base64 key after whsec_.";
        }

        return DeriveKey(secret) is null ? "The text after whsec_ is not valid base64." : null;
    }

    /// <inheritdoc />
    public VerificationResult Verify(WebhookRequest request, SchemeSecrets secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        SchemeChecks.VerifyArguments(request, secrets, tolerance);
        var prefix = request.Header("webhook-signature") is not null ? "webhook-" : "svix-";
        var signatureHeader = prefix + "signature";
        var signature = request.Header(signatureHeader);
        if (signature is null)
        {
            return SchemeChecks.Missing("webhook-signature (or svix-signature)");
        }

        var id = request.Header(prefix + "id");
        var timestamp = request.Header(prefix + "timestamp");
        if (id is null || timestamp is null)
        {
            return SchemeChecks.Malformed($"The {prefix}{(id is null ? "id" : "timestamp")} header is missing.");
        }

        if (id.Length == 0 || id.Contains('.', StringComparison.Ordinal))
        {
            return SchemeChecks.Malformed($"The {prefix}id header is empty or contains a full stop.");
        }

        if (!SchemeChecks.TryParseUnixSeconds(timestamp, out var seconds))
        {
            return SchemeChecks.Malformed($"The {prefix}timestamp header is not integer Unix seconds.");
        }

        var candidates = ParseSignatures(signature);
        if (candidates is null)
        {
            return SchemeChecks.Malformed($"The {signatureHeader} header has no well-formed v1 entry.");
        }

        var content = SchemeCrypto.RentPrefixed($"{id}.{timestamp}.", request.Body.Span, out var length);
        try
        {
            var index = SchemeCrypto.FindSecret(secrets.Secrets, DeriveKey, content.AsSpan(0, length), candidates);
            return index < 0
                ? SchemeChecks.Bad("No v1 signature", secrets)
                : SchemeChecks.Window(seconds, now, tolerance, index, id);
        }
        finally
        {
            SchemeCrypto.Return(content);
        }
    }

    /// <inheritdoc />
    /// <returns>Always <see langword="null"/>: Standard Webhooks has no handshake.</returns>
    public HandshakeAnswer? Handshake(WebhookRequest request, SchemeSecrets secrets)
    {
        SchemeChecks.HandshakeArguments(request, secrets);
        return null;
    }

    /// <summary>
    /// The decoded values of the header's <c>v1</c> entries (a value that is not base64 of 32 bytes decodes to nothing
    /// that can match), or <see langword="null"/> when there is no well-formed <c>v1</c> entry.
    /// </summary>
    private static List<byte[]>? ParseSignatures(string header)
    {
        var candidates = new List<byte[]>();
        var wellFormed = 0;
        foreach (var range in header.AsSpan().Split(' '))
        {
            var entry = header.AsSpan()[range];
            var comma = entry.IndexOf(',');
            if (comma < 0 || !entry[..comma].SequenceEqual("v1") || comma == entry.Length - 1)
            {
                continue;
            }

            wellFormed++;
            if (SchemeCrypto.DecodeBase64Mac(entry[(comma + 1)..]) is { } mac)
            {
                candidates.Add(mac);
            }
        }

        return wellFormed == 0 ? null : candidates;
    }

    /// <summary>The HMAC key of a <c>whsec_</c> secret, padding-tolerant; <see langword="null"/> when unusable.</summary>
    internal static byte[]? DeriveKey(string secret)
    {
        if (!secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var encoded = secret.AsSpan(SecretPrefix.Length).TrimEnd('=');
        if (encoded.Length == 0 || encoded.Length % 4 == 1 || encoded.ContainsAnyExcept(Base64Characters)
            || secret.Length - SecretPrefix.Length - encoded.Length > 2)
        {
            return null;
        }

        var padded = string.Concat(encoded, new string('=', (4 - (encoded.Length % 4)) % 4));
        var key = new byte[padded.Length / 4 * 3];
        return Convert.TryFromBase64String(padded, key, out var written) && written > 0 ? key[..written] : null;
    }
}
