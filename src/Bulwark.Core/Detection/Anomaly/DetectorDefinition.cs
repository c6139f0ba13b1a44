using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Detection.Rules;
using Bulwark.Identity;
using Bulwark.Manifests;

namespace Bulwark.Detection.Anomaly;

/// <summary>The model a detector scores its rate series with. Wire values are the lower-case names; the numbers are pinned.</summary>
public enum DetectorModel
{
    /// <summary>EWMA mean and variance, z-score (<see cref="SeriesDetectors.Ewma"/>).</summary>
    Ewma = 1,

    /// <summary>A daily profile, Holt-Winters without trend (<see cref="SeriesDetectors.Seasonal"/>).</summary>
    Seasonal = 2,
}

/// <summary>
/// A statistical detector (manifest kind <c>Detector</c>): counts the matching events per key in fixed buckets of event
/// time, scores each bucket's count against what the key's model expected, and fires when the score passes the
/// threshold with at least <see cref="MinCount"/> events.
/// </summary>
public sealed record DetectorDefinition
{
    /// <summary>Its name.</summary>
    public required string Name { get; init; }

    /// <summary>What it watches, for people.</summary>
    public string? Description { get; init; }

    /// <summary>The severity of its detections.</summary>
    public required Severity Severity { get; init; }

    /// <summary>The confidence of its detections, in [0, 1].</summary>
    public double Confidence { get; init; } = 0.6;

    /// <summary>Which events count; <see langword="null"/>: all.</summary>
    public MatchExpression? Match { get; init; }

    /// <summary>The series key (for example <c>[platform]</c>); empty: one series.</summary>
    public IReadOnlyList<ValueExpression> GroupBy { get; init; } = [];

    /// <summary>The bucket width.</summary>
    public TimeSpan Bucket { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The model.</summary>
    public DetectorModel Model { get; init; } = DetectorModel.Ewma;

    /// <summary>The score (in (0, 1)) at which it fires; 0.5 is a z-score of 6.</summary>
    public double Threshold { get; init; } = 0.5;

    /// <summary>The fewest events in a bucket that can fire (quiet keys never alert on noise).</summary>
    public int MinCount { get; init; } = 20;

    /// <summary>Buckets a key's model learns from before it may fire.</summary>
    public int WarmUp { get; init; } = 30;

    /// <summary>After firing for a key, how long it stays quiet for that key.</summary>
    public TimeSpan Suppress { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Action names for playbooks.</summary>
    public IReadOnlyList<string> Actions { get; init; } = [];

    /// <summary>The validated document (without <c>kind</c>).</summary>
    public JsonObject Document { get; init; } = [];

    /// <summary>A fresh model for one key.</summary>
    /// <returns>The series detector (scores upward excursions only).</returns>
    public ISeriesDetector CreateModel() => Model switch
    {
        DetectorModel.Seasonal => SeriesDetectors.Seasonal(new SeasonalDetectorOptions { WarmUp = WarmUp, Direction = AnomalyDirection.Up }),
        _ => SeriesDetectors.Ewma(new EwmaDetectorOptions { WarmUp = WarmUp, Direction = AnomalyDirection.Up }),
    };
}

/// <summary>The manifest kind <c>Detector</c> (<c>bulwark apply</c>, <c>PUT /v1/detectors/{name}</c>).</summary>
public sealed class DetectorKind : ManifestKind<DetectorDefinition>
{
    /// <summary>The instance.</summary>
    public static DetectorKind Instance { get; } = new();

    /// <summary>Models by wire name.</summary>
    public static IReadOnlyDictionary<string, DetectorModel> Models { get; } = new Dictionary<string, DetectorModel>(StringComparer.Ordinal)
    {
        ["ewma"] = DetectorModel.Ewma,
        ["seasonal"] = DetectorModel.Seasonal,
    };

    /// <inheritdoc />
    public override string Kind => "Detector";

    /// <inheritdoc />
    public override string Plural => "detectors";

    /// <inheritdoc />
    public override Capability ChangeCapability => Capability.Configure;

    /// <inheritdoc />
    protected override DetectorDefinition? ReadCore(ManifestReader reader)
    {
        var name = reader.ReadName();
        var description = reader.ReadString("description", maxLength: 2000);
        var severity = reader.ReadEnum("severity", DetectionNames.Severities, required: true);
        var confidence = reader.ReadNumber("confidence", 0, 1) ?? 0.6;
        var match = RuleKind.ReadOptionalMatch(reader, "match");
        var groupBy = RuleKind.ReadValueList(reader, "group_by", reader.Errors);
        var bucket = reader.ReadDuration("bucket", TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)) ?? TimeSpan.FromMinutes(1);
        var model = reader.ReadEnum("model", Models) ?? DetectorModel.Ewma;
        var threshold = reader.ReadNumber("threshold", 0.01, 0.99) ?? 0.5;
        var minCount = reader.ReadNumber("min_count", 1, 1_000_000) ?? 20;
        var warmUp = reader.ReadNumber("warm_up", 1, 100_000) ?? 30;
        var suppress = reader.ReadDuration("suppress", TimeSpan.Zero, TimeSpan.FromDays(30)) ?? TimeSpan.FromMinutes(30);
        var actions = reader.ReadStringArray("actions") ?? [];
        if (minCount != Math.Floor(minCount))
        {
            reader.Error("min_count", "must be a whole number");
        }

        if (warmUp != Math.Floor(warmUp))
        {
            reader.Error("warm_up", "must be a whole number");
        }

        var document = (JsonObject)reader.Object.DeepClone();
        document.Remove("kind");
        return name is null || severity is null ? null : new DetectorDefinition
        {
            Name = name,
            Description = description,
            Severity = severity.Value,
            Confidence = confidence,
            Match = match,
            GroupBy = groupBy,
            Bucket = bucket,
            Model = model,
            Threshold = threshold,
            MinCount = (int)minCount,
            WarmUp = (int)warmUp,
            Suppress = suppress,
            Actions = actions,
            Document = document,
        };
    }

    /// <inheritdoc />
    protected override string NameOfCore(DetectorDefinition definition) => definition.Name;

    /// <inheritdoc />
    protected override JsonObject WriteCore(DetectorDefinition definition) => (JsonObject)definition.Document.DeepClone();
}
