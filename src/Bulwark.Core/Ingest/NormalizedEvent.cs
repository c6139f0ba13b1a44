using System.Text.Json.Nodes;

namespace Bulwark.Ingest;

/// <summary>Who acted, as far as the source tells (every field optional).</summary>
/// <param name="Id">The actor's id (often the account itself).</param>
/// <param name="Ip">An IPv4 or IPv6 literal.</param>
/// <param name="UserAgent">The user agent.</param>
/// <param name="Country">ISO 3166-1 alpha-2, upper case.</param>
/// <param name="DeviceId">A device identifier.</param>
public sealed record EventActor(string? Id = null, string? Ip = null, string? UserAgent = null, string? Country = null, string? DeviceId = null);

/// <summary>
/// One account-security event in schema v1 (<c>schemas/event-v1.schema.json</c>): what every source becomes before
/// detection. <see cref="Id"/> is unique per <see cref="Source"/> and is what the event log dedupes on.
/// </summary>
/// <param name="Id">Unique per source; the source's own event id when it has one.</param>
/// <param name="Source">The configured source it arrived through.</param>
/// <param name="Platform"><c>instagram</c>, <c>x</c>, <c>linkedin</c>, <c>okta</c>, <c>auth0</c>, <c>internal</c>, …</param>
/// <param name="EventType">A core type (<c>password_reset</c>, <c>session_new</c>, …) or a custom <c>x-…</c> one.</param>
/// <param name="AccountId">The account the event is about.</param>
/// <param name="Timestamp">When it happened (event time).</param>
/// <param name="Actor">Who acted, when known.</param>
/// <param name="ReceivedAt">When the server accepted it.</param>
/// <param name="CorrelationId">A correlation id, when known.</param>
/// <param name="Details">Type-specific fields (at most 64), or <see langword="null"/>.</param>
public sealed record NormalizedEvent(
    string Id,
    string Source,
    string Platform,
    string EventType,
    string AccountId,
    DateTimeOffset Timestamp,
    EventActor? Actor = null,
    DateTimeOffset? ReceivedAt = null,
    string? CorrelationId = null,
    JsonObject? Details = null)
{
    /// <summary>The schema version every event carries.</summary>
    public const string SchemaVersion = "v1";

    /// <summary>The core event types of schema v1 (custom types start with <c>x-</c>).</summary>
    public static IReadOnlyList<string> CoreTypes { get; } =
    [
        "password_reset", "account_changed", "session_new", "token_rotated", "login_failed", "login_succeeded",
        "policy_flag", "content_edit", "mfa_changed", "session_revoked",
    ];
}

/// <summary>What a normalizer is given: one verified delivery's raw body and where it came from.</summary>
/// <param name="Source">The source's name (every event's <see cref="NormalizedEvent.Source"/>).</param>
/// <param name="Platform">The source's platform, when its manifest sets one (else the normalizer's default).</param>
/// <param name="Body">The raw body.</param>
/// <param name="ContentType">The delivery's media type, when given.</param>
/// <param name="ReceivedAt">When the server accepted the delivery (every event's <see cref="NormalizedEvent.ReceivedAt"/>).</param>
/// <param name="DeliveryId">The delivery id, when the scheme carries one (a fallback event id for bodies without ids).</param>
/// <param name="Mapping">The source's mapping, for the <c>mapping</c> normalizer.</param>
public sealed record NormalizeInput(
    string Source,
    string? Platform,
    ReadOnlyMemory<byte> Body,
    string? ContentType,
    DateTimeOffset ReceivedAt,
    string? DeliveryId = null,
    JsonObject? Mapping = null);

/// <summary>One item of a delivery that could not become an event.</summary>
/// <param name="Index">The item's position in the delivery's batch (0 for a single-item body).</param>
/// <param name="Reason">Why, for people.</param>
public sealed record NormalizeIssue(int Index, string Reason);

/// <summary>
/// What a normalizer made of a delivery: the events (each valid against schema v1), the items it could not map, and a
/// failure when the body as a whole cannot be read. A delivery with a failure or with issues goes to the quarantine,
/// with its events (if any) still appended: a retry after a fix normalizes the snapshot again and the event log dedupes
/// what it already has.
/// </summary>
/// <param name="Events">The events.</param>
/// <param name="Issues">Items that could not be mapped: the first <see cref="MaxIssues"/> of them.</param>
/// <param name="Failure">Why the body as a whole could not be read, or <see langword="null"/>.</param>
public sealed record NormalizeResult(IReadOnlyList<NormalizedEvent> Events, IReadOnlyList<NormalizeIssue> Issues, string? Failure = null)
{
    /// <summary>
    /// How many issues a result keeps. A body of millions of bad items (a 16 MiB array of numbers) would otherwise make
    /// as many issues, in memory and in its quarantine entry; the rest are counted in <see cref="MoreIssues"/>.
    /// </summary>
    public const int MaxIssues = 100;

    /// <summary>How many more items could not be mapped than <see cref="Issues"/> lists.</summary>
    public int MoreIssues { get; init; }

    /// <summary>Whether the delivery belongs in the quarantine.</summary>
    public bool NeedsQuarantine => Failure is not null || Issues.Count > 0;

    /// <summary>A body that could not be read at all.</summary>
    /// <param name="reason">Why.</param>
    /// <returns>The result.</returns>
    public static NormalizeResult Failed(string reason) => new([], [], reason);
}

/// <summary>
/// Turns one verified delivery of a platform into schema v1 events: <c>event-v1</c>, <c>okta</c>, <c>auth0</c>,
/// <c>meta</c>, <c>x</c>, <c>linkedin</c>, <c>mapping</c>. Stateless and thread-safe; never throws for any body.
/// </summary>
public interface INormalizer
{
    /// <summary>The normalizer's manifest name.</summary>
    string Name { get; }

    /// <summary>The platform its events carry when the source does not set one (<c>okta</c>, <c>auth0</c>, …).</summary>
    string DefaultPlatform { get; }

    /// <summary>Normalizes a delivery.</summary>
    /// <param name="input">The delivery.</param>
    /// <returns>The events, issues and failure.</returns>
    NormalizeResult Normalize(NormalizeInput input);
}
