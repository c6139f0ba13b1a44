namespace Bulwark.Ingest;

/// <summary>
/// Verification shared by the schemes that sign the raw body alone with the secret's UTF-8 bytes and send
/// <c>{prefix}{encoded MAC}</c> in one header (GitHub, Meta, X). No timestamp is signed, so replays are stopped only by
/// deduplication.
/// </summary>
internal static class BodySignature
{
    /// <summary>Verifies one delivery.</summary>
    /// <param name="request">The delivery.</param>
    /// <param name="secrets">The secrets.</param>
    /// <param name="header">The signature header.</param>
    /// <param name="prefix">The algorithm prefix in its value (<c>sha256=</c>).</param>
    /// <param name="decode">Decodes the MAC text, or gives <see langword="null"/> for a bad encoding.</param>
    /// <param name="deliveryId">The delivery id to report when verified.</param>
    /// <returns>The result.</returns>
    public static VerificationResult Verify(
        WebhookRequest request, SchemeSecrets secrets, string header, string prefix, Func<string, byte[]?> decode, string? deliveryId)
    {
        var value = request.Header(header);
        if (value is null)
        {
            return SchemeChecks.Missing(header);
        }

        if (!value.StartsWith(prefix, StringComparison.Ordinal) || value.Length == prefix.Length)
        {
            return SchemeChecks.Malformed($"The {header} header is not {prefix} followed by a signature.");
        }

        IReadOnlyList<byte[]> candidates = decode(value[prefix.Length..]) is { } mac ? [mac] : [];
        var index = SchemeCrypto.FindSecret(secrets.Secrets, SchemeCrypto.Utf8Key, request.Body.Span, candidates);
        return index < 0 ? SchemeChecks.Bad($"The {header} signature", secrets) : SchemeChecks.Verified(index, deliveryId);
    }
}
