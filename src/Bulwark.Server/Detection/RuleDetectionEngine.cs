using Bulwark.Detection.Incidents;
using Bulwark.Detection.Rules;
using Bulwark.Ingest;

namespace Bulwark.Server.Detection;

/// <summary>
/// The rules in force as a detection engine: a <see cref="RuleEngine"/> over the current <see cref="RuleSet"/>, rebuilt
/// when the rules change (windows then start empty). Detections keep the rule engine's ids, so one found again after a
/// restart or a replay is stored once.
/// </summary>
internal sealed class RuleDetectionEngine(RuleService rules, TimeProvider time, RuleEngineOptions? options = null) : IDetectionEngine
{
    private RuleEngine? _engine;
    private long _version = -1;

    public async ValueTask<IReadOnlyList<DetectionRecord>> ObserveAsync(IReadOnlyList<LoggedEvent> batch, CancellationToken cancellationToken)
    {
        var engine = await EngineAsync(cancellationToken).ConfigureAwait(false);
        var fired = new List<DetectionRecord>();
        foreach (var logged in batch)
        {
            fired.AddRange(engine.Add(logged.Event).Select(Record));
        }

        return fired;
    }

    public async ValueTask<IReadOnlyList<DetectionRecord>> IdleAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var engine = await EngineAsync(cancellationToken).ConfigureAwait(false);
        return [.. engine.Tick().Select(Record)];
    }

    /// <summary>A rule engine detection as the incident layer stores it.</summary>
    public static DetectionRecord Record(RuleDetection detection) => new()
    {
        Id = detection.Id,
        Origin = DetectionOrigin.Rule,
        Rule = detection.Rule,
        Severity = detection.Severity,
        Confidence = detection.Confidence,
        Group = detection.GroupKey,
        Accounts = detection.Accounts,
        Ips = detection.Ips,
        EventIds = detection.EventIds,
        EventCount = detection.EventCount,
        FirstEventAt = detection.FirstEventAt,
        DetectedEventAt = detection.DetectedEventAt,
        Explanation = detection.Explanation,
        Evidence = new System.Text.Json.Nodes.JsonObject { ["observed"] = detection.Observed, ["threshold"] = detection.Threshold },
        Actions = detection.Actions,
    };

    private async ValueTask<RuleEngine> EngineAsync(CancellationToken cancellationToken)
    {
        var set = await rules.GetAsync(cancellationToken).ConfigureAwait(false);
        if (_engine is null || set.Version != _version)
        {
            _engine = new RuleEngine(set.Rules, options, time);
            _version = set.Version;
        }

        return _engine;
    }
}
