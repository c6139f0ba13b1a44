using Bulwark.Detection.Incidents;
using Bulwark.Detection.Rules;
using Bulwark.Ingest;

namespace Bulwark.Server.Detection;

/// <summary>
/// The rules in force as a detection engine: a <see cref="RuleEngine"/> over the current rule set, rebuilt
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
            fired.AddRange(engine.Add(logged.Event).Select(d => d.ToRecord()));
        }

        return fired;
    }

    public async ValueTask<IReadOnlyList<DetectionRecord>> IdleAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var engine = await EngineAsync(cancellationToken).ConfigureAwait(false);
        return [.. engine.Tick().Select(d => d.ToRecord())];
    }

    private async ValueTask<RuleEngine> EngineAsync(CancellationToken cancellationToken)
    {
        var set = await rules.GetAsync(cancellationToken).ConfigureAwait(false);
        if (_engine is null || set.Version != _version)
        {
            _engine = new RuleEngine(set.Items, options, time);
            _version = set.Version;
        }

        return _engine;
    }
}

/// <summary>
/// The statistical detectors in force as a detection engine: a <see cref="Bulwark.Detection.Anomaly.RateDetectorEngine"/>
/// over the current detectors, rebuilt (empty) when they change.
/// </summary>
internal sealed class RateDetectionEngine(DetectorService detectors) : IDetectionEngine
{
    private Bulwark.Detection.Anomaly.RateDetectorEngine? _engine;
    private long _version = -1;

    public async ValueTask<IReadOnlyList<DetectionRecord>> ObserveAsync(IReadOnlyList<LoggedEvent> batch, CancellationToken cancellationToken)
    {
        var set = await detectors.GetAsync(cancellationToken).ConfigureAwait(false);
        if (_engine is null || set.Version != _version)
        {
            _engine = new Bulwark.Detection.Anomaly.RateDetectorEngine(set.Items);
            _version = set.Version;
        }

        var fired = new List<DetectionRecord>();
        foreach (var logged in batch)
        {
            fired.AddRange(_engine.Add(logged.Event));
        }

        return fired;
    }

    public ValueTask<IReadOnlyList<DetectionRecord>> IdleAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<DetectionRecord>>([]);
}
