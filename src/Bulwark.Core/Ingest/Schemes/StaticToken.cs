namespace Bulwark.Ingest;

/// <summary>Verification of a static <c>Authorization</c> value (Okta, Auth0): the whole value is the token.</summary>
internal static class StaticToken
{
    /// <summary>The header carrying the token.</summary>
    public const string AuthorizationHeader = "Authorization";

    /// <summary>Verifies one delivery.</summary>
    /// <param name="request">The delivery.</param>
    /// <param name="secrets">The secrets.</param>
    /// <param name="deliveryId">The delivery id to report when verified.</param>
    /// <returns>The result.</returns>
    public static VerificationResult Verify(WebhookRequest request, SchemeSecrets secrets, string? deliveryId)
    {
        var presented = request.Header(AuthorizationHeader);
        if (presented is null)
        {
            return SchemeChecks.Missing(AuthorizationHeader);
        }

        if (presented.Length == 0)
        {
            return SchemeChecks.Malformed($"The {AuthorizationHeader} header is empty.");
        }

        var index = SchemeCrypto.FindToken(secrets.Secrets, presented);
        return index < 0 ? SchemeChecks.Bad($"The {AuthorizationHeader} header", secrets) : SchemeChecks.Verified(index, deliveryId);
    }
}
