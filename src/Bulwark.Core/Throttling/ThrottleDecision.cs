namespace Bulwark.Throttling;

/// <summary>
/// The answer to one check. For <see cref="ThrottleDecisionKind.Allow"/> and challenge, the figures are those of the
/// layer closest to its limit; for a block, those of the layer that denied (the one that frees up last).
/// </summary>
/// <param name="Kind">The decision (in shadow mode, the decision that would have been).</param>
/// <param name="Reason">Why.</param>
/// <param name="Layer">The layer the figures are from; null when no layer applied.</param>
/// <param name="Limit">That layer's limit per period.</param>
/// <param name="Window">That layer's period.</param>
/// <param name="Remaining">Units left in that layer's bucket.</param>
/// <param name="ResetAfter">Time until that bucket is full again.</param>
/// <param name="RetryAfter">When blocked, time until the same check could pass; null when allowed or never.</param>
/// <param name="Shadow">The throttle is in shadow mode: nothing is enforced.</param>
public readonly record struct ThrottleDecision(
    ThrottleDecisionKind Kind,
    ThrottleReason Reason,
    string? Layer,
    long Limit,
    TimeSpan Window,
    long Remaining,
    TimeSpan ResetAfter,
    TimeSpan? RetryAfter,
    bool Shadow)
{
    /// <summary>What to enforce: <see cref="Kind"/>, or allow in shadow mode.</summary>
    public ThrottleDecisionKind Enforced => Shadow ? ThrottleDecisionKind.Allow : Kind;

    /// <summary>For a blocked key (<see cref="ThrottleReason.Blocked"/>): when its block lapses; otherwise <see langword="null"/>.</summary>
    public DateTimeOffset? BlockedUntil { get; init; }

    /// <summary>Whether the block is a manual one (<see cref="ThrottleManualBlock"/>), rather than one earned by escalation.</summary>
    public bool ManualBlock { get; init; }
}

/// <summary>A temporary tightening: the rates of some layers (all when <see cref="Layers"/> is null) divided by <see cref="Factor"/> until <see cref="Until"/>.</summary>
/// <param name="Factor">The divisor, above 1.</param>
/// <param name="Layers">The layer names it applies to; null for all.</param>
/// <param name="Until">When it lapses.</param>
public sealed record ThrottleTightening(double Factor, IReadOnlyList<string>? Layers, DateTimeOffset Until)
{
    /// <summary>The largest factor accepted.</summary>
    public const double MaxFactor = 1000;
}

/// <summary>A key blocked by escalation.</summary>
/// <param name="Layer">The layer.</param>
/// <param name="Key">The key's value (a subnet as <c>203.0.113.0/24</c>).</param>
/// <param name="Until">When the block lapses.</param>
/// <param name="Denials">Denials counted in the window that led to it.</param>
public sealed record ThrottleBlock(string Layer, string Key, DateTimeOffset Until, int Denials);
