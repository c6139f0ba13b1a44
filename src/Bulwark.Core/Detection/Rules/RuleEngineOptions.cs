namespace Bulwark.Detection.Rules;

/// <summary>Options of a <see cref="RuleEngine"/>.</summary>
public sealed record RuleEngineOptions
{
    /// <summary>
    /// How far behind the newest event time an event may arrive and still be used; older ones are counted as late. Absence
    /// steps fire, and state is dropped, only once the newest event time has moved this far past them.
    /// </summary>
    /// <value>Defaults to 2 minutes.</value>
    public TimeSpan Lateness { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// After this much wall time without events, <see cref="RuleEngine.Tick"/> moves event time and the watermark on
    /// with the wall clock, so due windows close and absence steps fire on a quiet input.
    /// </summary>
    /// <value>Defaults to 5 seconds.</value>
    public TimeSpan IdleAdvance { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Detections at or before this event time are computed (state, suppression) but not returned: for rebuilding state by replay.</summary>
    /// <value>Defaults to <see langword="null"/> (return every detection).</value>
    public DateTimeOffset? EmitAfter { get; init; }

    /// <summary>The most event ids a detection lists.</summary>
    /// <value>Defaults to 100.</value>
    public int MaxEventIdsPerDetection { get; init; } = 100;

    /// <summary>The most accounts and IPs a detection lists.</summary>
    /// <value>Defaults to 1,000.</value>
    public int MaxEntitiesPerDetection { get; init; } = 1000;

    /// <summary>The most partial matches a sequence rule keeps per group (the oldest is dropped first).</summary>
    /// <value>Defaults to 16.</value>
    public int MaxPartialsPerGroup { get; init; } = 16;

    /// <summary>The most values a first-seen rule remembers per entity (the least recently seen is dropped first).</summary>
    /// <value>Defaults to 32.</value>
    public int MaxValuesPerEntity { get; init; } = 32;
}

/// <summary>Counters of a <see cref="RuleEngine"/>.</summary>
/// <param name="Accepted">Events evaluated by the rules.</param>
/// <param name="Late">Events older than the newest event time minus the lateness, not used.</param>
/// <param name="ActiveGroups">Groups with state, over all rules.</param>
/// <param name="Detections">Detections returned.</param>
/// <param name="IdleAdvances">Times the watermark moved on for lack of events.</param>
public sealed record RuleEngineStatistics(long Accepted, long Late, long ActiveGroups, long Detections, long IdleAdvances);
