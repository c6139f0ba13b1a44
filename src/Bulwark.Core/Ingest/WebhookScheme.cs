namespace Bulwark.Ingest;

/// <summary>
/// One delivery or handshake as received: the method, headers (names compared case-insensitively), query parameters and
/// the raw body bytes exactly as they arrived. Schemes verify these bytes, never re-serialized JSON.
/// </summary>
/// <param name="Method">GET or POST.</param>
/// <param name="Headers">Header name → value (several values of one header joined with ", ").</param>
/// <param name="Query">Query parameter name → value (first value).</param>
/// <param name="Body">The raw body.</param>
public sealed record WebhookRequest(
    string Method,
    IReadOnlyDictionary<string, string> Headers,
    IReadOnlyDictionary<string, string> Query,
    ReadOnlyMemory<byte> Body)
{
    /// <summary>A header's value, when present.</summary>
    /// <param name="name">The header name (any case).</param>
    /// <returns>The value, or <see langword="null"/>.</returns>
    public string? Header(string name)
    {
        if (Headers.TryGetValue(name, out var value))
        {
            return value;
        }

        foreach (var (key, found) in Headers)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                return found;
            }
        }

        return null;
    }
}

/// <summary>What a scheme needs from its source: the active secrets (resolved values, newest first) and settings.</summary>
/// <param name="Secrets">The active secrets' values; a delivery verifies when any of them matches.</param>
/// <param name="VerifyToken">Meta's <c>hub.verify_token</c>, when configured.</param>
public sealed record SchemeSecrets(IReadOnlyList<string> Secrets, string? VerifyToken = null);

/// <summary>How verification ended. Persisted in raw snapshots and sent on the wire by name; the numbers are pinned.</summary>
public enum VerificationOutcome
{
    /// <summary>A signature (or token) matched one of the active secrets, and the signed timestamp is inside the window.</summary>
    Verified = 1,

    /// <summary>The signature header (or the authorization header, for token schemes) is absent.</summary>
    MissingSignature = 2,

    /// <summary>A header the scheme needs is malformed (no usable signature entry, a bad timestamp).</summary>
    MalformedSignature = 3,

    /// <summary>No signature matched any active secret.</summary>
    BadSignature = 4,

    /// <summary>The signature matched, but the signed timestamp is outside the tolerance.</summary>
    TimestampOutsideWindow = 5,
}

/// <summary>The result of verifying one delivery.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="Detail">Why, for people (never contains a secret or a signature).</param>
/// <param name="DeliveryId">The delivery id the scheme carries in headers (<c>webhook-id</c>, <c>X-GitHub-Delivery</c>, …), when any.</param>
/// <param name="SignedAt">The timestamp the scheme signs, when it signs one.</param>
/// <param name="SecretIndex">Which of <see cref="SchemeSecrets.Secrets"/> matched (for rotation metrics), when verified.</param>
public sealed record VerificationResult(
    VerificationOutcome Outcome,
    string Detail,
    string? DeliveryId = null,
    DateTimeOffset? SignedAt = null,
    int? SecretIndex = null)
{
    /// <summary>Whether the delivery is authentic and fresh.</summary>
    public bool IsVerified => Outcome == VerificationOutcome.Verified;
}

/// <summary>An answer to a handshake (a GET challenge, or Slack's <c>url_verification</c> POST).</summary>
/// <param name="Status">HTTP status: 200, or 403 when the challenge is refused.</param>
/// <param name="ContentType">The body's media type.</param>
/// <param name="Body">The body.</param>
public sealed record HandshakeAnswer(int Status, string ContentType, string Body);

/// <summary>
/// A webhook signature scheme: how a platform signs deliveries and how it checks that an endpoint is ours. One instance
/// per scheme, stateless and thread-safe; secrets come with each call (several are active during a rotation).
/// </summary>
public interface IWebhookScheme
{
    /// <summary>The scheme's manifest name: <c>standard-webhooks</c>, <c>stripe</c>, <c>github</c>, <c>meta</c>, <c>x</c>,
    /// <c>linkedin</c>, <c>okta</c>, <c>auth0</c>, <c>slack</c> or <c>bearer</c>.</summary>
    string Name { get; }

    /// <summary>Whether deliveries carry a signed timestamp (checked against the source's tolerance).</summary>
    bool SignsTimestamp { get; }

    /// <summary>Verifies a POST delivery's raw bytes with every active secret, in constant time per comparison.</summary>
    /// <param name="request">The delivery.</param>
    /// <param name="secrets">The source's secrets.</param>
    /// <param name="now">The current time.</param>
    /// <param name="tolerance">How far the signed timestamp may be from <paramref name="now"/>, either way.</param>
    /// <returns>The result.</returns>
    VerificationResult Verify(WebhookRequest request, SchemeSecrets secrets, DateTimeOffset now, TimeSpan tolerance);

    /// <summary>
    /// Answers a handshake when <paramref name="request"/> is one: Meta <c>hub.challenge</c>, X <c>crc_token</c>,
    /// LinkedIn <c>challengeCode</c>, Okta <c>X-Okta-Verification-Challenge</c> (GET), Slack <c>url_verification</c>
    /// (a POST, answered only after <see cref="Verify"/> succeeded).
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="secrets">The source's secrets.</param>
    /// <returns>The answer, or <see langword="null"/> when the request is not a handshake of this scheme.</returns>
    HandshakeAnswer? Handshake(WebhookRequest request, SchemeSecrets secrets);
}
