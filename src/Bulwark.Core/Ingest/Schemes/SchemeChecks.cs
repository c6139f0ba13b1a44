using System.Globalization;

namespace Bulwark.Ingest;

/// <summary>
/// What every scheme checks the same way: arguments, the shapes of failed results (whose details never carry a secret,
/// a signature or a value taken from the request), signed timestamps and the window around them.
/// </summary>
internal static class SchemeChecks
{
    /// <summary>The largest Unix time a <see cref="DateTimeOffset"/> holds (9999-12-31T23:59:59Z).</summary>
    private const long MaxUnixSeconds = 253_402_300_799;

    /// <summary>Validates the arguments of <see cref="IWebhookScheme.Verify"/>.</summary>
    /// <param name="request">The delivery.</param>
    /// <param name="secrets">The secrets.</param>
    /// <param name="tolerance">The tolerance.</param>
    public static void VerifyArguments(WebhookRequest request, SchemeSecrets secrets, TimeSpan tolerance)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(secrets);
        ArgumentNullException.ThrowIfNull(secrets.Secrets, nameof(secrets));
        ArgumentOutOfRangeException.ThrowIfLessThan(tolerance, TimeSpan.Zero);
    }

    /// <summary>Validates the arguments of <see cref="IWebhookScheme.Handshake"/>.</summary>
    /// <param name="request">The request.</param>
    /// <param name="secrets">The secrets.</param>
    public static void HandshakeArguments(WebhookRequest request, SchemeSecrets secrets)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(secrets);
        ArgumentNullException.ThrowIfNull(secrets.Secrets, nameof(secrets));
    }

    /// <summary>Whether the request is a GET.</summary>
    /// <param name="request">The request.</param>
    /// <returns>Whether its method is GET (any case).</returns>
    public static bool IsGet(WebhookRequest request) => string.Equals(request.Method, "GET", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether the request is a POST.</summary>
    /// <param name="request">The request.</param>
    /// <returns>Whether its method is POST (any case).</returns>
    public static bool IsPost(WebhookRequest request) => string.Equals(request.Method, "POST", StringComparison.OrdinalIgnoreCase);

    /// <summary>A <see cref="VerificationOutcome.MissingSignature"/> result.</summary>
    /// <param name="header">The absent header's name.</param>
    /// <returns>The result.</returns>
    public static VerificationResult Missing(string header) =>
        new(VerificationOutcome.MissingSignature, $"The {header} header is missing.");

    /// <summary>A <see cref="VerificationOutcome.MalformedSignature"/> result.</summary>
    /// <param name="detail">What is wrong, naming headers but never quoting values.</param>
    /// <returns>The result.</returns>
    public static VerificationResult Malformed(string detail) => new(VerificationOutcome.MalformedSignature, detail);

    /// <summary>A <see cref="VerificationOutcome.BadSignature"/> result.</summary>
    /// <param name="what">What did not match (<c>No v1 signature</c>, <c>The Authorization header</c>, …).</param>
    /// <param name="secrets">The secrets tried.</param>
    /// <returns>The result.</returns>
    public static VerificationResult Bad(string what, SchemeSecrets secrets) =>
        new(VerificationOutcome.BadSignature, secrets.Secrets.Count == 0
            ? "No active secret is configured for this source."
            : $"{what} matches none of the {secrets.Secrets.Count} active secret(s).");

    /// <summary>A <see cref="VerificationOutcome.Verified"/> result.</summary>
    /// <param name="secretIndex">The index of the secret that matched.</param>
    /// <param name="deliveryId">The delivery id from headers, if any.</param>
    /// <param name="signedAt">The signed timestamp, if any.</param>
    /// <returns>The result.</returns>
    public static VerificationResult Verified(int secretIndex, string? deliveryId = null, DateTimeOffset? signedAt = null) =>
        new(VerificationOutcome.Verified, $"Verified with active secret #{secretIndex}.", NonBlank(deliveryId), signedAt, secretIndex);

    /// <summary>
    /// A header value trimmed, or null when it is missing or blank: an empty delivery-id header is no id (else every
    /// delivery sent with one would be a duplicate of the first).
    /// </summary>
    /// <param name="value">The header value.</param>
    /// <returns>The value, or null.</returns>
    public static string? NonBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>Reads a signed Unix timestamp: decimal digits only (no sign, space or fraction).</summary>
    /// <param name="text">The header value.</param>
    /// <param name="seconds">The seconds.</param>
    /// <returns>Whether it is one.</returns>
    public static bool TryParseUnixSeconds(string text, out long seconds) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out seconds);

    /// <summary>
    /// Checks a timestamp whose signature already matched against the window (inclusive: exactly <paramref name="tolerance"/>
    /// away is accepted). Called only after the signature matched, so an unauthenticated caller learns nothing about
    /// the window or the server's clock.
    /// </summary>
    /// <param name="seconds">The signed Unix seconds.</param>
    /// <param name="now">The current time.</param>
    /// <param name="tolerance">The tolerance, either way.</param>
    /// <param name="secretIndex">The matching secret.</param>
    /// <param name="deliveryId">The delivery id, if any.</param>
    /// <returns>The verified or <see cref="VerificationOutcome.TimestampOutsideWindow"/> result.</returns>
    public static VerificationResult Window(long seconds, DateTimeOffset now, TimeSpan tolerance, int secretIndex, string? deliveryId)
    {
        if (seconds > MaxUnixSeconds)
        {
            return new(VerificationOutcome.TimestampOutsideWindow,
                "The signed timestamp is too new: it is beyond the year 9999.", deliveryId, null, secretIndex);
        }

        var signedAt = DateTimeOffset.FromUnixTimeSeconds(seconds);
        var offset = signedAt - now;
        if (offset < -tolerance)
        {
            return new(VerificationOutcome.TimestampOutsideWindow,
                $"The signed timestamp is too old: {Seconds(-offset)} s before now, tolerance {Seconds(tolerance)} s.",
                deliveryId, signedAt, secretIndex);
        }

        if (offset > tolerance)
        {
            return new(VerificationOutcome.TimestampOutsideWindow,
                $"The signed timestamp is too new: {Seconds(offset)} s after now, tolerance {Seconds(tolerance)} s.",
                deliveryId, signedAt, secretIndex);
        }

        return Verified(secretIndex, deliveryId, signedAt);
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
}
