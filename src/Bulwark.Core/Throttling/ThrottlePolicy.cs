namespace Bulwark.Throttling;

/// <summary>What a throttle check answers; on the wire as its lower-case name (numbers pinned by a test).</summary>
public enum ThrottleDecisionKind
{
    /// <summary>Go ahead.</summary>
    Allow = 1,

    /// <summary>Within the limits, but the key has been denied often lately: prove it is a person (CAPTCHA, step-up).</summary>
    Challenge = 2,

    /// <summary>Denied: over a limit, or the key is blocked for a while.</summary>
    Block = 3,
}

/// <summary>Why a check was not a plain allow; on the wire as its snake-case name (numbers pinned by a test).</summary>
public enum ThrottleReason
{
    /// <summary>Allowed within every limit.</summary>
    None = 0,

    /// <summary>A layer's bucket has too few tokens for the cost.</summary>
    RateExceeded = 1,

    /// <summary>The cost is larger than the layer's burst: it can never be admitted.</summary>
    CostExceedsBurst = 2,

    /// <summary>The key was denied often enough within the escalation window to be challenged.</summary>
    Escalated = 3,

    /// <summary>The key is blocked until a time (after enough denials, or by an operator).</summary>
    Blocked = 4,

    /// <summary>The server could not be reached (or the throttle is unknown to the client): the fail mode decided.</summary>
    Unavailable = 5,
}

/// <summary>What a client does when it cannot reach the server for a decision (numbers pinned by a test).</summary>
public enum ThrottleFailMode
{
    /// <summary>Allow (the default: a control-plane outage must not take a login page down).</summary>
    Open = 1,

    /// <summary>Block.</summary>
    Closed = 2,
}

/// <summary>
/// One layer of a throttle: a token bucket of capacity <see cref="Burst"/> refilled at <see cref="Limit"/> per
/// <see cref="Per"/>, one bucket per distinct value of <see cref="Key"/>, computed as GCRA (one timestamp per key).
/// </summary>
public sealed record ThrottleLayer
{
    /// <summary>The layer's name in decisions and headers; defaults to <see cref="Key"/>.</summary>
    public required string Name { get; init; }

    /// <summary>
    /// What the bucket is per: <c>global</c> (one bucket), <c>ip</c>, <c>subnet</c> (the <c>ip</c> key's /24 for IPv4,
    /// /64 for IPv6), <c>tenant</c>, <c>account_type</c>, <c>user</c>, or any other key the caller passes.
    /// </summary>
    public required string Key { get; init; }

    /// <summary>Requests (cost units) per <see cref="Per"/>.</summary>
    public required long Limit { get; init; }

    /// <summary>The period of <see cref="Limit"/>.</summary>
    public required TimeSpan Per { get; init; }

    /// <summary>The bucket's capacity: how many may come at once. Defaults to <see cref="Limit"/>.</summary>
    public required long Burst { get; init; }
}

/// <summary>
/// Progressive escalation, per layer and key: a key denied <see cref="ChallengeAfter"/> times within
/// <see cref="Window"/> (counted from its first denial) is challenged even when within its limits until the window
/// ends; one denied <see cref="BlockAfter"/> times is blocked for <see cref="BlockFor"/>.
/// </summary>
public sealed record ThrottleEscalation
{
    /// <summary>How long denials count, from a key's first denial.</summary>
    public required TimeSpan Window { get; init; }

    /// <summary>Denials within the window that make every further check of the key a challenge; null for never.</summary>
    public int? ChallengeAfter { get; init; }

    /// <summary>Denials within the window that block the key; null for never.</summary>
    public int? BlockAfter { get; init; }

    /// <summary>How long a block lasts.</summary>
    public required TimeSpan BlockFor { get; init; }
}

/// <summary>A throttle: layered limits checked together, with escalation, shadow mode and a fail mode.</summary>
public sealed record ThrottlePolicy
{
    /// <summary>The most layers a throttle may have.</summary>
    public const int MaxLayers = 8;

    /// <summary>The default bound on keys tracked per layer.</summary>
    public const int DefaultMaxKeys = 1_000_000;

    /// <summary>The throttle's name (<c>password-reset</c>).</summary>
    public required string Name { get; init; }

    /// <summary>What it protects, for people.</summary>
    public string? Description { get; init; }

    /// <summary>The layers; a request is admitted only when every layer that applies admits it.</summary>
    public required IReadOnlyList<ThrottleLayer> Layers { get; init; }

    /// <summary>Escalation to challenge and block; null for none.</summary>
    public ThrottleEscalation? Escalation { get; init; }

    /// <summary>Decide and count, but never enforce: every answer is allow, with the decision that would have been.</summary>
    public bool Shadow { get; init; }

    /// <summary>What a client does when it cannot reach the server.</summary>
    public ThrottleFailMode FailMode { get; init; } = ThrottleFailMode.Open;

    /// <summary>
    /// The most keys tracked per layer. Keys whose bucket is full again take no room; when live keys fill the bound,
    /// further new keys share one bucket per table stripe at the layer's rate (never more than their own bucket would
    /// allow, possibly less).
    /// </summary>
    public int MaxKeys { get; init; } = DefaultMaxKeys;
}
