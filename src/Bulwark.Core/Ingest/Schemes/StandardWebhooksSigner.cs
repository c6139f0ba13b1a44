using System.Globalization;
using System.Security.Cryptography;

namespace Bulwark.Ingest;

/// <summary>
/// Signs outgoing deliveries the way <see cref="StandardWebhooksScheme"/> verifies them: <c>v1,</c> and the base64
/// HMAC-SHA256 over <c>{id}.{timestamp}.{raw body}</c>, keyed with the base64-decoded text after <c>whsec_</c>.
/// </summary>
public static class StandardWebhooksSigner
{
    /// <summary>Signs one attempt of a delivery.</summary>
    /// <param name="secret">The <c>whsec_…</c> secret (see <see cref="StandardWebhooksScheme.ValidateSecret"/>).</param>
    /// <param name="id">The <c>webhook-id</c>: the same on every attempt; no full stop.</param>
    /// <param name="timestamp">The <c>webhook-timestamp</c> of this attempt (whole Unix seconds are signed).</param>
    /// <param name="body">The exact bytes sent as the body.</param>
    /// <returns>The <c>webhook-signature</c> header value.</returns>
    /// <exception cref="ArgumentException">The secret is unusable, or the id is empty or contains a full stop. The message never holds the secret.</exception>
    public static string Sign(string secret, string id, DateTimeOffset timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentException.ThrowIfNullOrEmpty(id);
        if (id.Contains('.', StringComparison.Ordinal))
        {
            throw new ArgumentException("A webhook id must not contain a full stop.", nameof(id));
        }

        var key = StandardWebhooksScheme.DeriveKey(secret)
            ?? throw new ArgumentException("The secret is not a standard-webhooks secret (whsec_ followed by base64).", nameof(secret));
        var prefix = id + "." + timestamp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) + ".";
        var content = SchemeCrypto.RentPrefixed(prefix, body, out var length);
        try
        {
            Span<byte> mac = stackalloc byte[SchemeCrypto.MacSize];
            HMACSHA256.HashData(key, content.AsSpan(0, length), mac);
            return "v1," + Convert.ToBase64String(mac);
        }
        finally
        {
            SchemeCrypto.Return(content);
            CryptographicOperations.ZeroMemory(key);
        }
    }
}
