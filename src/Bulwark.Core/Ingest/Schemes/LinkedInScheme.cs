using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Ingest;

/// <summary>
/// <c>linkedin</c>: header <c>X-LI-Signature</c>, hex HMAC-SHA256 keyed with the app's client secret. LinkedIn's
/// documentation is ambiguous and public implementations split between (A) <c>hmacsha256=</c> + hex(HMAC(raw body))
/// and (B) hex(HMAC(<c>hmacsha256=</c> + raw body)); an optional <c>hmacsha256=</c> prefix is stripped from the value
/// and a constant-time match of either construction is accepted. Both need the secret, so accepting both is as safe as
/// accepting one. No timestamp and no delivery header: notifications dedupe on the notification id in the body.
/// </summary>
/// <remarks>
/// Handshake: a GET with <c>challengeCode</c> is answered 200
/// <c>{"challengeCode":"…","challengeResponse":"&lt;hex HMAC-SHA256(secret, challengeCode)&gt;"}</c> with the first
/// (newest) active secret. An <c>applicationId</c> parameter (parent and child apps) is not looked at: a source holds the
/// secret of one app. As for X, a challenge outside 1–256 characters of letters, digits and <c>-_.~+/=:</c> is refused
/// with 403 so that the handshake cannot sign a forged event body; with no active secret the answer is 403 as well. A
/// delivery whose body is such text (or empty: the challenge <c>hmacsha256=</c> signs it by construction B) is refused
/// as a bad signature whatever its signature.
/// </remarks>
public sealed class LinkedInScheme : IWebhookScheme
{
    private const string SignatureHeader = "X-LI-Signature";
    private const string Prefix = "hmacsha256=";

    private LinkedInScheme()
    {
    }

    /// <summary>The one instance.</summary>
    public static LinkedInScheme Instance { get; } = new();

    /// <inheritdoc />
    /// <value><c>linkedin</c>.</value>
    public string Name => "linkedin";

    /// <inheritdoc />
    /// <value><see langword="false"/>.</value>
    public bool SignsTimestamp => false;

    /// <summary>Checks a client secret: any non-empty text without surrounding whitespace or control characters.</summary>
    /// <param name="secret">The secret.</param>
    /// <returns>An error, or <see langword="null"/> when the secret is usable.</returns>
    public static string? ValidateSecret(string secret) => SchemeSecretRules.Text(secret);

    /// <inheritdoc />
    public VerificationResult Verify(WebhookRequest request, SchemeSecrets secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        SchemeChecks.VerifyArguments(request, secrets, tolerance);
        var value = request.Header(SignatureHeader);
        if (value is null)
        {
            return SchemeChecks.Missing(SignatureHeader);
        }

        var hex = value.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) ? value[Prefix.Length..] : value;
        if (hex.Length == 0)
        {
            return SchemeChecks.Malformed($"The {SignatureHeader} header has no signature.");
        }

        if (HandshakeAnswers.IsSignableBody(request.Body.Span))
        {
            return HandshakeAnswers.SignableBodyRefused();
        }

        IReadOnlyList<byte[]> candidates = SchemeCrypto.DecodeHexMac(hex) is { } mac ? [mac] : [];
        var prefixed = SchemeCrypto.RentPrefixed(Prefix, request.Body.Span, out var length);
        try
        {
            var index = FindSecret(secrets.Secrets, request.Body.Span, prefixed.AsSpan(0, length), candidates);
            return index < 0 ? SchemeChecks.Bad($"The {SignatureHeader} signature", secrets) : SchemeChecks.Verified(index);
        }
        finally
        {
            SchemeCrypto.Return(prefixed);
        }
    }

    /// <inheritdoc />
    public HandshakeAnswer? Handshake(WebhookRequest request, SchemeSecrets secrets)
    {
        SchemeChecks.HandshakeArguments(request, secrets);
        if (!SchemeChecks.IsGet(request) || !request.Query.TryGetValue("challengeCode", out var challenge))
        {
            return null;
        }

        var key = secrets.Secrets.Count > 0 ? SchemeCrypto.Utf8Key(secrets.Secrets[0]) : null;
        if (key is null || !HandshakeAnswers.IsSignableChallenge(challenge))
        {
            return HandshakeAnswers.Refused();
        }

        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(challenge));
        return HandshakeAnswers.JsonObject(("challengeCode", challenge), ("challengeResponse", Convert.ToHexStringLower(mac)));
    }

    /// <summary>The first secret whose variant A (body) or variant B (<c>hmacsha256=</c> + body) MAC matches.</summary>
    private static int FindSecret(
        IReadOnlyList<string> secrets, ReadOnlySpan<byte> body, ReadOnlySpan<byte> prefixedBody, IReadOnlyList<byte[]> candidates)
    {
        if (candidates.Count == 0)
        {
            return -1;
        }

        // Every secret is tried, also after a match (as SchemeCrypto.FindSecret does).
        Span<byte> variantA = stackalloc byte[SchemeCrypto.MacSize];
        Span<byte> variantB = stackalloc byte[SchemeCrypto.MacSize];
        var found = -1;
        for (var i = 0; i < secrets.Count; i++)
        {
            if (SchemeCrypto.Utf8Key(secrets[i]) is not { } key)
            {
                continue;
            }

            HMACSHA256.HashData(key, body, variantA);
            HMACSHA256.HashData(key, prefixedBody, variantB);
            var matched = SchemeCrypto.MatchesAny(variantA, candidates) | SchemeCrypto.MatchesAny(variantB, candidates);
            found = matched && found < 0 ? i : found;
        }

        return found;
    }
}
