using Bulwark.Detection.Incidents;

namespace Bulwark.Detection.Rules;

/// <summary>
/// What a rule found: which rule, for which group, the events (ids) that matched, and why. <see cref="Id"/> is
/// derived from the rule, the group and <see cref="DetectedEventAt"/>, so replaying the same events gives the same ids
/// (a store dedupes on it after a restart).
/// </summary>
public sealed record RuleDetection
{
    /// <summary>A stable id: <c>det_</c> and 32 hex digits.</summary>
    public required string Id { get; init; }

    /// <summary>The rule's name.</summary>
    public required string Rule { get; init; }

    /// <summary>The rule's severity.</summary>
    public required Severity Severity { get; init; }

    /// <summary>The rule's confidence.</summary>
    public required double Confidence { get; init; }

    /// <summary>The group's values joined by <c>|</c> (empty for a rule without group-by).</summary>
    public required string GroupKey { get; init; }

    /// <summary>The accounts of the matched events (distinct, in order of appearance, at most <see cref="RuleEngineOptions.MaxEntitiesPerDetection"/>).</summary>
    public required IReadOnlyList<string> Accounts { get; init; }

    /// <summary>The actor IPs of the matched events (distinct, bounded like <see cref="Accounts"/>).</summary>
    public required IReadOnlyList<string> Ips { get; init; }

    /// <summary>The platforms of the matched events (sorted, distinct).</summary>
    public IReadOnlyList<string> Platforms { get; init; } = [];

    /// <summary>The ids of the first matched events (at most <see cref="RuleEngineOptions.MaxEventIdsPerDetection"/>).</summary>
    public required IReadOnlyList<string> EventIds { get; init; }

    /// <summary>How many events matched (may exceed <see cref="EventIds"/>' length).</summary>
    public required int EventCount { get; init; }

    /// <summary>The event time of the earliest matched event.</summary>
    public required DateTimeOffset FirstEventAt { get; init; }

    /// <summary>The event time at which the rule fired (the deciding event's time, or an absence step's deadline).</summary>
    public required DateTimeOffset DetectedEventAt { get; init; }

    /// <summary>What was observed (count, distinct values, run length, rules fired; 1 for a sequence or first-seen value).</summary>
    public required double Observed { get; init; }

    /// <summary>The threshold it was compared with.</summary>
    public required double Threshold { get; init; }

    /// <summary>The explanation for people: observed against threshold, or the steps of a sequence.</summary>
    public required string Explanation { get; init; }

    /// <summary>The actions the rule names.</summary>
    public required IReadOnlyList<string> Actions { get; init; }

    /// <summary>The detection as the incident layer stores it.</summary>
    /// <returns>The record.</returns>
    public DetectionRecord ToRecord() => new()
    {
        Id = Id,
        Origin = DetectionOrigin.Rule,
        Rule = Rule,
        Severity = Severity,
        Confidence = Confidence,
        Group = GroupKey,
        Accounts = Accounts,
        Ips = Ips,
        Platforms = Platforms,
        EventIds = EventIds,
        EventCount = EventCount,
        FirstEventAt = FirstEventAt,
        DetectedEventAt = DetectedEventAt,
        Explanation = Explanation,
        Evidence = new System.Text.Json.Nodes.JsonObject { ["observed"] = Observed, ["threshold"] = Threshold },
        Actions = Actions,
    };
}
