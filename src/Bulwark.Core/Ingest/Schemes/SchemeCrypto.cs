using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Ingest;

/// <summary>
/// The cryptography every scheme shares: HMAC-SHA256 over raw bytes, decoding of signatures from headers (a bad encoding
/// is a mismatch, never an exception), constant-time comparison of decoded bytes and of static tokens.
/// </summary>
internal static class SchemeCrypto
{
    /// <summary>Bytes in an HMAC-SHA256 value.</summary>
    public const int MacSize = HMACSHA256.HashSizeInBytes;

    /// <summary>Decodes exactly <see cref="MacSize"/> bytes of hex (either case).</summary>
    /// <param name="text">The hex text.</param>
    /// <returns>The bytes, or <see langword="null"/> when the text is not 64 hex digits.</returns>
    public static byte[]? DecodeHexMac(ReadOnlySpan<char> text)
    {
        if (text.Length != MacSize * 2)
        {
            return null;
        }

        var mac = new byte[MacSize];
        return Convert.FromHexString(text, mac, out _, out var written) == OperationStatus.Done && written == MacSize ? mac : null;
    }

    /// <summary>Decodes exactly <see cref="MacSize"/> bytes of padded standard base64.</summary>
    /// <param name="text">The base64 text.</param>
    /// <returns>The bytes, or <see langword="null"/> when the text is not the base64 of 32 bytes.</returns>
    public static byte[]? DecodeBase64Mac(ReadOnlySpan<char> text)
    {
        var mac = new byte[MacSize];
        return Convert.TryFromBase64Chars(text, mac, out var written) && written == MacSize ? mac : null;
    }

    /// <summary>The UTF-8 bytes of a secret used as an HMAC key as-is, or <see langword="null"/> for an empty secret.</summary>
    /// <param name="secret">The secret.</param>
    /// <returns>The key.</returns>
    public static byte[]? Utf8Key(string secret) => string.IsNullOrEmpty(secret) ? null : Encoding.UTF8.GetBytes(secret);

    /// <summary>Whether <paramref name="mac"/> equals any candidate, comparing every candidate in constant time.</summary>
    /// <param name="mac">The computed MAC.</param>
    /// <param name="candidates">The decoded signatures from the request.</param>
    /// <returns>Whether one matched.</returns>
    public static bool MatchesAny(ReadOnlySpan<byte> mac, IReadOnlyList<byte[]> candidates)
    {
        var matched = false;
        foreach (var candidate in candidates)
        {
            // No early exit: which candidate matched (the decoys' positions) stays out of the timing.
            matched |= CryptographicOperations.FixedTimeEquals(mac, candidate);
        }

        return matched;
    }

    /// <summary>
    /// Finds the first secret whose HMAC over <paramref name="content"/> equals one of <paramref name="candidates"/>.
    /// Every active secret is tried, also after a match, so that the time taken does not tell which secret signed.
    /// Secrets that <paramref name="deriveKey"/> cannot use are skipped.
    /// </summary>
    /// <param name="secrets">The active secrets, newest first.</param>
    /// <param name="deriveKey">Turns a secret into its HMAC key, or <see langword="null"/> when it is unusable.</param>
    /// <param name="content">The signed bytes.</param>
    /// <param name="candidates">The decoded signatures from the request.</param>
    /// <returns>The matching secret's index, or -1.</returns>
    public static int FindSecret(
        IReadOnlyList<string> secrets, Func<string, byte[]?> deriveKey, ReadOnlySpan<byte> content, IReadOnlyList<byte[]> candidates)
    {
        if (candidates.Count == 0)
        {
            return -1;
        }

        Span<byte> mac = stackalloc byte[MacSize];
        var found = -1;
        for (var i = 0; i < secrets.Count; i++)
        {
            var key = deriveKey(secrets[i]);
            if (key is null)
            {
                continue;
            }

            HMACSHA256.HashData(key, content, mac);
            found = MatchesAny(mac, candidates) && found < 0 ? i : found;
        }

        return found;
    }

    /// <summary>
    /// Finds the first secret equal to a presented static token. Both sides are hashed to SHA-256 first so that the
    /// comparison is over fixed-length values and its time tells nothing about the secret's length.
    /// </summary>
    /// <param name="secrets">The active secrets, newest first.</param>
    /// <param name="presented">The presented token.</param>
    /// <returns>The matching secret's index, or -1.</returns>
    public static int FindToken(IReadOnlyList<string> secrets, string presented)
    {
        Span<byte> presentedDigest = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> secretDigest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), presentedDigest);
        var found = -1;
        for (var i = 0; i < secrets.Count; i++)
        {
            if (string.IsNullOrEmpty(secrets[i]))
            {
                continue;
            }

            SHA256.HashData(Encoding.UTF8.GetBytes(secrets[i]), secretDigest);
            if (CryptographicOperations.FixedTimeEquals(presentedDigest, secretDigest) && found < 0)
            {
                found = i;
            }
        }

        return found;
    }

    /// <summary>
    /// Writes <paramref name="prefix"/> (ASCII) followed by <paramref name="body"/> into a pooled buffer, so the signed
    /// content is built once per request and hashed once per secret. Return the buffer with <see cref="Return"/>.
    /// </summary>
    /// <param name="prefix">The text signed before the body (<c>{id}.{timestamp}.</c>, <c>v0:{ts}:</c>, …).</param>
    /// <param name="body">The raw body.</param>
    /// <param name="length">The content's length in the buffer.</param>
    /// <returns>The rented buffer.</returns>
    public static byte[] RentPrefixed(string prefix, ReadOnlySpan<byte> body, out int length)
    {
        var prefixLength = Encoding.UTF8.GetByteCount(prefix);
        length = prefixLength + body.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        Encoding.UTF8.GetBytes(prefix, buffer);
        body.CopyTo(buffer.AsSpan(prefixLength));
        return buffer;
    }

    /// <summary>Returns a buffer from <see cref="RentPrefixed"/>, cleared because bodies may hold personal data.</summary>
    /// <param name="buffer">The buffer.</param>
    public static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
}
