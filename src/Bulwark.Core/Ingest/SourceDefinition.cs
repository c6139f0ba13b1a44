using System.Text.Json.Nodes;

namespace Bulwark.Ingest;

/// <summary>
/// How a source without webhooks is polled: an audit-log API fetched every <see cref="Interval"/>, page after page, into
/// the same pipeline as webhook deliveries. The Okta System Log API is the model: <c>GET …/api/v1/logs?since=…</c>,
/// further pages through the <c>Link: &lt;…&gt;; rel="next"</c> header, whose last URL is the cursor.
/// </summary>
public sealed record SourcePoll
{
    /// <summary>The first URL to fetch (absolute http or https).</summary>
    public required Uri Url { get; init; }

    /// <summary>Time between polls when the last one reached the end.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The header that carries <see cref="Auth"/> (default <c>Authorization</c>).</summary>
    public string AuthHeader { get; init; } = "Authorization";

    /// <summary>The header's value, as a reference (for Okta, a secret holding <c>SSWS &lt;api token&gt;</c>).</summary>
    public SecretReference? Auth { get; init; }

    /// <summary>The query parameter that carries the start time on the first poll (default <c>since</c>), or null for none.</summary>
    public string? SinceParameter { get; init; } = "since";

    /// <summary>How far back the first poll reaches.</summary>
    public TimeSpan Lookback { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Once a chain of pages has reached the end (a page without a next link), how far before the moment its first page
    /// was asked for the next poll asks from: room for events the API indexes late, at the price of fetching them again
    /// (dedupe drops them).
    /// </summary>
    public TimeSpan Overlap { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// A configured webhook endpoint (manifest kind <c>Source</c>): how its deliveries are signed, the references of its
/// active secrets, its windows and bounds, how its bodies become events, and optionally how it is polled.
/// </summary>
public sealed record SourceDefinition
{
    /// <summary>The default <see cref="TimestampTolerance"/>.</summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromSeconds(300);

    /// <summary>The default <see cref="DedupeRetention"/>.</summary>
    public static readonly TimeSpan DefaultRetention = TimeSpan.FromHours(72);

    /// <summary>The default <see cref="MaxBody"/>: 1 MiB.</summary>
    public const int DefaultMaxBody = 1 << 20;

    /// <summary>The largest <see cref="MaxBody"/> accepted: 16 MiB.</summary>
    public const int MaxMaxBody = 16 << 20;

    /// <summary>The source's name: the last segment of <c>/v1/webhooks/{name}</c>.</summary>
    public required string Name { get; init; }

    /// <summary>What it is, for people.</summary>
    public string? Description { get; init; }

    /// <summary>The signature scheme: <c>standard-webhooks</c>, <c>stripe</c>, <c>github</c>, <c>meta</c>, <c>x</c>,
    /// <c>linkedin</c>, <c>okta</c>, <c>auth0</c>, <c>slack</c> or <c>bearer</c>.</summary>
    public required string Scheme { get; init; }

    /// <summary>The platform its events carry; null for the normalizer's default.</summary>
    public string? Platform { get; init; }

    /// <summary>The active secrets, newest first (several during a rotation).</summary>
    public required IReadOnlyList<SecretReference> Secrets { get; init; }

    /// <summary>How far a signed timestamp may be from now, either way.</summary>
    public TimeSpan TimestampTolerance { get; init; } = DefaultTolerance;

    /// <summary>How long delivery ids are remembered for dedupe.</summary>
    public TimeSpan DedupeRetention { get; init; } = DefaultRetention;

    /// <summary>The largest body accepted, in bytes (413 above it).</summary>
    public int MaxBody { get; init; } = DefaultMaxBody;

    /// <summary>The normalizer: <c>event-v1</c>, <c>okta</c>, <c>auth0</c>, <c>meta</c>, <c>x</c>, <c>linkedin</c> or <c>mapping</c>.</summary>
    public required string Normalizer { get; init; }

    /// <summary>The JSON-pointer mapping, for the <c>mapping</c> normalizer.</summary>
    public JsonObject? Mapping { get; init; }

    /// <summary>A throttle deliveries pass first (keyed by <c>source</c> and <c>ip</c>); null for none.</summary>
    public string? Throttle { get; init; }

    /// <summary>Meta's <c>hub.verify_token</c>, as a reference.</summary>
    public SecretReference? VerifyToken { get; init; }

    /// <summary>How the source is polled, when it is.</summary>
    public SourcePoll? Poll { get; init; }
}

/// <summary>A stored source.</summary>
public sealed record SourceRecord
{
    /// <summary>The definition (secrets as references only).</summary>
    public required SourceDefinition Definition { get; init; }

    /// <summary>The sources version at which it last changed.</summary>
    public required long Version { get; init; }

    /// <summary>When it was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The source's name.</summary>
    public string Name => Definition.Name;
}
