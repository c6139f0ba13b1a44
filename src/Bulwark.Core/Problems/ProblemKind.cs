namespace Bulwark.Problems;

/// <summary>
/// A kind of error with a stable RFC 9457 <c>type</c> URI, its HTTP status and title. Clients match on
/// <see cref="Type"/>, never on titles or details. Every kind is listed in <c>docs/api.md</c>.
/// </summary>
/// <param name="Slug">The last part of the type URI.</param>
/// <param name="Status">The HTTP status.</param>
/// <param name="Title">A short, fixed summary.</param>
public sealed record ProblemKind(string Slug, int Status, string Title)
{
    /// <summary>The type URI, for example <c>urn:bulwark:problem:validation</c>.</summary>
    public string Type => "urn:bulwark:problem:" + Slug;

    /// <summary>The body is not valid JSON or lacks what the endpoint needs to start reading it.</summary>
    public static ProblemKind MalformedRequest { get; } = new("malformed-request", 400, "The request is malformed");

    /// <summary>No bearer token, or one that is unknown or revoked.</summary>
    public static ProblemKind Unauthenticated { get; } = new("unauthenticated", 401, "Authentication is required");

    /// <summary>The token is valid but its roles do not allow this call.</summary>
    public static ProblemKind Forbidden { get; } = new("forbidden", 403, "The caller's roles do not allow this");

    /// <summary>No such route or object.</summary>
    public static ProblemKind NotFound { get; } = new("not-found", 404, "Not found");

    /// <summary>The route exists but not for this method.</summary>
    public static ProblemKind MethodNotAllowed { get; } = new("method-not-allowed", 405, "Method not allowed");

    /// <summary>The call conflicts with the current state.</summary>
    public static ProblemKind Conflict { get; } = new("conflict", 409, "The request conflicts with the current state");

    /// <summary>A request with this <c>Idempotency-Key</c> is still being processed.</summary>
    public static ProblemKind IdempotencyInProgress { get; } = new("idempotency-in-progress", 409, "A request with this Idempotency-Key is in progress");

    /// <summary>The body is larger than the limit.</summary>
    public static ProblemKind PayloadTooLarge { get; } = new("payload-too-large", 413, "The request body is too large");

    /// <summary>The body is not <c>application/json</c>.</summary>
    public static ProblemKind UnsupportedMediaType { get; } = new("unsupported-media-type", 415, "Unsupported content type");

    /// <summary>The body is well-formed but invalid; <c>errors</c> lists every problem with its path.</summary>
    public static ProblemKind Validation { get; } = new("validation", 422, "The request is invalid");

    /// <summary>The <c>Idempotency-Key</c> was used before with a different request.</summary>
    public static ProblemKind IdempotencyKeyReused { get; } = new("idempotency-key-reused", 422, "The Idempotency-Key was used with a different request");

    /// <summary>An unexpected server error; the correlation id finds it in the logs.</summary>
    public static ProblemKind Internal { get; } = new("internal", 500, "Internal server error");

    /// <summary>The store is not open or not migrated.</summary>
    public static ProblemKind Unavailable { get; } = new("unavailable", 503, "The service is not ready");

    /// <summary>A throttle denied the check (over a limit, or the key is blocked).</summary>
    public static ProblemKind RateLimited { get; } = new("rate-limited", 429, "Too many requests");

    /// <summary>A throttle asks the caller to prove it is a person first (CAPTCHA, step-up).</summary>
    public static ProblemKind ChallengeRequired { get; } = new("challenge-required", 429, "A challenge is required");

    /// <summary>A webhook delivery's signature (or token) is missing, malformed or matches no active secret.</summary>
    public static ProblemKind WebhookSignatureInvalid { get; } = new("webhook-signature-invalid", 401, "The webhook signature does not verify");

    /// <summary>A webhook delivery's signature matches, but its signed timestamp is outside the source's tolerance (a replay or a bad clock).</summary>
    public static ProblemKind WebhookTimestampOutsideWindow { get; } = new("webhook-timestamp-outside-window", 401, "The webhook timestamp is outside the tolerance");

    /// <summary>Every kind, for documentation and tests.</summary>
    public static IReadOnlyList<ProblemKind> All { get; } =
    [
        MalformedRequest, Unauthenticated, Forbidden, NotFound, MethodNotAllowed, Conflict, IdempotencyInProgress,
        PayloadTooLarge, UnsupportedMediaType, Validation, IdempotencyKeyReused, RateLimited, ChallengeRequired, Internal, Unavailable,
        WebhookSignatureInvalid, WebhookTimestampOutsideWindow,
    ];
}
