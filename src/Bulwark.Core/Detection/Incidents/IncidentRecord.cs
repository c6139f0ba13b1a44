using System.Text.Json.Nodes;

namespace Bulwark.Detection.Incidents;

/// <summary>Where an incident is. Wire values are the lower-case names; the numbers are pinned.</summary>
public enum IncidentStatus
{
    /// <summary>Collecting detections; responders act on it.</summary>
    Open = 1,

    /// <summary>A person gave a verdict; new detections on its entities open a new incident.</summary>
    Resolved = 2,

    /// <summary>A later detection linked it to an older open incident, which took its detections (<see cref="IncidentRecord.MergedInto"/>).</summary>
    Merged = 3,
}

/// <summary>What an incident grouped. Wire values are the lower-case names; the numbers are pinned.</summary>
public enum IncidentKind
{
    /// <summary>Detections on one account.</summary>
    Account = 1,

    /// <summary>Detections on one IP (or several IPs), for no account or one.</summary>
    Ip = 2,

    /// <summary>Several accounts linked by shared attacker IPs or by one detection that covered them all.</summary>
    Campaign = 3,

    /// <summary>A rate anomaly of a statistical detector, with the accounts of its anomalous buckets.</summary>
    Anomaly = 4,
}

/// <summary>A responder's verdict on an incident. Wire values are the snake-case names; the numbers are pinned.</summary>
public enum IncidentVerdict
{
    /// <summary>It was abuse.</summary>
    TruePositive = 1,

    /// <summary>It was not abuse: the rules need tuning.</summary>
    FalsePositive = 2,

    /// <summary>It happened, and it was fine (a planned job, a test).</summary>
    Benign = 3,
}

/// <summary>How an incident was resolved.</summary>
/// <param name="Verdict">The verdict.</param>
/// <param name="Note">The note, if any.</param>
/// <param name="By">Who resolved it.</param>
/// <param name="At">When.</param>
public sealed record IncidentResolution(IncidentVerdict Verdict, string? Note, string By, DateTimeOffset At);

/// <summary>
/// Detections grouped by entity and time (<c>GET /v1/incidents</c>): its entities, the rules and detectors that fired,
/// the severity (the highest of its detections), the confidence (combined over its rules, raised when platforms agree)
/// and its place in event time.
/// </summary>
public sealed record IncidentRecord
{
    /// <summary>Its id (<c>inc_…</c>), derived from the detection that opened it.</summary>
    public required string Id { get; init; }

    /// <summary>A one-line summary for people.</summary>
    public required string Title { get; init; }

    /// <summary>What it groups.</summary>
    public required IncidentKind Kind { get; init; }

    /// <summary>Where it is.</summary>
    public required IncidentStatus Status { get; init; }

    /// <summary>The highest severity of its detections.</summary>
    public required Severity Severity { get; init; }

    /// <summary>Its confidence, in [0, 1].</summary>
    public required double Confidence { get; init; }

    /// <summary>Every account it covers (sorted, distinct).</summary>
    public IReadOnlyList<string> Accounts { get; init; } = [];

    /// <summary>Every actor IP of its detections (sorted, distinct).</summary>
    public IReadOnlyList<string> Ips { get; init; } = [];

    /// <summary>The rules and detectors that fired (sorted, distinct).</summary>
    public IReadOnlyList<string> Rules { get; init; } = [];

    /// <summary>The platforms its detections saw (sorted, distinct).</summary>
    public IReadOnlyList<string> Platforms { get; init; } = [];

    /// <summary>Its detections, in the order they joined.</summary>
    public IReadOnlyList<string> DetectionIds { get; init; } = [];

    /// <summary>Event time of its earliest matched event.</summary>
    public required DateTimeOffset FirstEventAt { get; init; }

    /// <summary>Event time at which it was first detected.</summary>
    public required DateTimeOffset DetectedEventAt { get; init; }

    /// <summary>Event time of its latest detection: later detections within the merge window join it.</summary>
    public required DateTimeOffset LastEventAt { get; init; }

    /// <summary>Wall time at which it was opened.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Wall time of its last change.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>How it was resolved, once it is.</summary>
    public IncidentResolution? Resolution { get; init; }

    /// <summary>The incident that took it over, when <see cref="Status"/> is <see cref="IncidentStatus.Merged"/>.</summary>
    public string? MergedInto { get; init; }

    /// <summary>The incident as JSON (the API's and the store's shape).</summary>
    /// <returns>A new document.</returns>
    public JsonObject ToDocument() => new()
    {
        ["id"] = Id,
        ["title"] = Title,
        ["kind"] = DetectionNames.Name(DetectionNames.IncidentKinds, Kind),
        ["status"] = DetectionNames.Name(DetectionNames.IncidentStatuses, Status),
        ["severity"] = DetectionNames.Name(DetectionNames.Severities, Severity),
        ["confidence"] = Math.Round(Confidence, 4),
        ["accounts"] = DetectionRecord.Strings(Accounts),
        ["ips"] = DetectionRecord.Strings(Ips),
        ["rules"] = DetectionRecord.Strings(Rules),
        ["platforms"] = DetectionRecord.Strings(Platforms),
        ["detection_ids"] = DetectionRecord.Strings(DetectionIds),
        ["first_event_at"] = DetectionRecord.Time(FirstEventAt),
        ["detected_event_at"] = DetectionRecord.Time(DetectedEventAt),
        ["last_event_at"] = DetectionRecord.Time(LastEventAt),
        ["created_at"] = DetectionRecord.Time(CreatedAt),
        ["updated_at"] = DetectionRecord.Time(UpdatedAt),
        ["resolution"] = Resolution is not { } r ? null : new JsonObject
        {
            ["verdict"] = DetectionNames.Name(DetectionNames.Verdicts, r.Verdict),
            ["note"] = r.Note,
            ["by"] = r.By,
            ["at"] = DetectionRecord.Time(r.At),
        },
        ["merged_into"] = MergedInto,
    };

    /// <summary>Reads a document written by <see cref="ToDocument"/>.</summary>
    /// <param name="document">The document.</param>
    /// <returns>The incident.</returns>
    /// <exception cref="InvalidDataException">A field is missing or has the wrong shape.</exception>
    public static IncidentRecord Read(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        try
        {
            return new IncidentRecord
            {
                Id = document["id"]!.GetValue<string>(),
                Title = document["title"]!.GetValue<string>(),
                Kind = DetectionNames.IncidentKinds[document["kind"]!.GetValue<string>()],
                Status = DetectionNames.IncidentStatuses[document["status"]!.GetValue<string>()],
                Severity = DetectionNames.Severities[document["severity"]!.GetValue<string>()],
                Confidence = document["confidence"]!.GetValue<double>(),
                Accounts = DetectionRecord.ReadStrings(document["accounts"]),
                Ips = DetectionRecord.ReadStrings(document["ips"]),
                Rules = DetectionRecord.ReadStrings(document["rules"]),
                Platforms = DetectionRecord.ReadStrings(document["platforms"]),
                DetectionIds = DetectionRecord.ReadStrings(document["detection_ids"]),
                FirstEventAt = DetectionRecord.ReadTime(document["first_event_at"]),
                DetectedEventAt = DetectionRecord.ReadTime(document["detected_event_at"]),
                LastEventAt = DetectionRecord.ReadTime(document["last_event_at"]),
                CreatedAt = DetectionRecord.ReadTime(document["created_at"]),
                UpdatedAt = DetectionRecord.ReadTime(document["updated_at"]),
                Resolution = document["resolution"] is JsonObject r
                    ? new IncidentResolution(
                        DetectionNames.Verdicts[r["verdict"]!.GetValue<string>()],
                        r["note"]?.GetValue<string>(),
                        r["by"]!.GetValue<string>(),
                        DetectionRecord.ReadTime(r["at"]))
                    : null,
                MergedInto = document["merged_into"]?.GetValue<string>(),
            };
        }
        catch (Exception error) when (error is NullReferenceException or InvalidOperationException or FormatException or ArgumentException or KeyNotFoundException)
        {
            throw new InvalidDataException($"Not a stored incident: {error.Message}", error);
        }
    }
}

/// <summary>Wire names of the detection and incident enums, shared by the API, the CLI and the store.</summary>
public static class DetectionNames
{
    /// <summary>Severities by wire name.</summary>
    public static IReadOnlyDictionary<string, Severity> Severities { get; } = new Dictionary<string, Severity>(StringComparer.Ordinal)
    {
        ["low"] = Severity.Low,
        ["medium"] = Severity.Medium,
        ["high"] = Severity.High,
        ["critical"] = Severity.Critical,
    };

    /// <summary>Detection origins by wire name.</summary>
    public static IReadOnlyDictionary<string, DetectionOrigin> Origins { get; } = new Dictionary<string, DetectionOrigin>(StringComparer.Ordinal)
    {
        ["rule"] = DetectionOrigin.Rule,
        ["detector"] = DetectionOrigin.Detector,
    };

    /// <summary>Incident statuses by wire name.</summary>
    public static IReadOnlyDictionary<string, IncidentStatus> IncidentStatuses { get; } = new Dictionary<string, IncidentStatus>(StringComparer.Ordinal)
    {
        ["open"] = IncidentStatus.Open,
        ["resolved"] = IncidentStatus.Resolved,
        ["merged"] = IncidentStatus.Merged,
    };

    /// <summary>Incident kinds by wire name.</summary>
    public static IReadOnlyDictionary<string, IncidentKind> IncidentKinds { get; } = new Dictionary<string, IncidentKind>(StringComparer.Ordinal)
    {
        ["account"] = IncidentKind.Account,
        ["ip"] = IncidentKind.Ip,
        ["campaign"] = IncidentKind.Campaign,
        ["anomaly"] = IncidentKind.Anomaly,
    };

    /// <summary>Verdicts by wire name.</summary>
    public static IReadOnlyDictionary<string, IncidentVerdict> Verdicts { get; } = new Dictionary<string, IncidentVerdict>(StringComparer.Ordinal)
    {
        ["true_positive"] = IncidentVerdict.TruePositive,
        ["false_positive"] = IncidentVerdict.FalsePositive,
        ["benign"] = IncidentVerdict.Benign,
    };

    /// <summary>The wire name of a value.</summary>
    /// <typeparam name="T">The enum.</typeparam>
    /// <param name="names">One of the tables above.</param>
    /// <param name="value">The value.</param>
    /// <returns>Its wire name.</returns>
    public static string Name<T>(IReadOnlyDictionary<string, T> names, T value)
        where T : struct, Enum => Flags.FlagNames.Name(names, value);
}
