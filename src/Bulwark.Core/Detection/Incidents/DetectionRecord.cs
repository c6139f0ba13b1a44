using System.Text.Json.Nodes;
using Bulwark.Audit;

namespace Bulwark.Detection.Incidents;

/// <summary>How bad a detection or an incident is. Wire values are the lower-case names; the numbers are pinned.</summary>
public enum Severity
{
    /// <summary>Worth a look.</summary>
    Low = 1,

    /// <summary>Likely abuse of one account or a small group.</summary>
    Medium = 2,

    /// <summary>Likely account takeover or a campaign.</summary>
    High = 3,

    /// <summary>Platform-wide harm in progress.</summary>
    Critical = 4,
}

/// <summary>What emitted a detection. Wire values are the lower-case names; the numbers are pinned.</summary>
public enum DetectionOrigin
{
    /// <summary>A declarative rule (manifest kind <c>Rule</c>).</summary>
    Rule = 1,

    /// <summary>A statistical detector (manifest kind <c>Detector</c>).</summary>
    Detector = 2,
}

/// <summary>
/// One detection as it is stored and shown (<c>GET /v1/detections</c>): which rule or detector fired, on which group,
/// the entities and events that made it up, when (in event time and wall time), and why. Its <see cref="Id"/> is
/// derived from what fired and on what, so the same detection found again (after a restart or a replay) is the same
/// record and is stored once.
/// </summary>
public sealed record DetectionRecord
{
    /// <summary>The most event ids kept on a detection; <see cref="EventCount"/> says how many matched in all.</summary>
    public const int MaxEventIds = 100;

    /// <summary>Its id (<c>det_…</c>), stable for the same rule, group and first matched event.</summary>
    public required string Id { get; init; }

    /// <summary>Whether a rule or a detector fired.</summary>
    public required DetectionOrigin Origin { get; init; }

    /// <summary>The rule's or detector's name.</summary>
    public required string Rule { get; init; }

    /// <summary>Its severity.</summary>
    public required Severity Severity { get; init; }

    /// <summary>Its confidence, in [0, 1].</summary>
    public required double Confidence { get; init; }

    /// <summary>What it grouped by, for people (<c>account_id=acct_1</c>, <c>ip=203.0.113.7</c>, <c>platform=x</c>).</summary>
    public required string Group { get; init; }

    /// <summary>The accounts whose events matched (sorted, distinct).</summary>
    public IReadOnlyList<string> Accounts { get; init; } = [];

    /// <summary>The actor IPs of the events that matched (sorted, distinct).</summary>
    public IReadOnlyList<string> Ips { get; init; } = [];

    /// <summary>The platforms of the events that matched (sorted, distinct).</summary>
    public IReadOnlyList<string> Platforms { get; init; } = [];

    /// <summary>The ids of the events that matched, in event time order (at most <see cref="MaxEventIds"/>).</summary>
    public IReadOnlyList<string> EventIds { get; init; } = [];

    /// <summary>How many events matched in all.</summary>
    public required long EventCount { get; init; }

    /// <summary>Event time of its earliest matched event.</summary>
    public required DateTimeOffset FirstEventAt { get; init; }

    /// <summary>Event time at which it fired (the watermark, or the event that completed it).</summary>
    public required DateTimeOffset DetectedEventAt { get; init; }

    /// <summary>Wall time at which it was stored.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Why, for people: observed against threshold, the sequence's steps, or expected against observed.</summary>
    public required string Explanation { get; init; }

    /// <summary>The figures behind <see cref="Explanation"/> (observed, threshold, expected, score, ...).</summary>
    public JsonObject Evidence { get; init; } = [];

    /// <summary>The actions the rule names, for playbooks.</summary>
    public IReadOnlyList<string> Actions { get; init; } = [];

    /// <summary>The incident it belongs to, once correlated.</summary>
    public string? IncidentId { get; init; }

    /// <summary>The detection as JSON (the API's and the store's shape).</summary>
    /// <returns>A new document.</returns>
    public JsonObject ToDocument() => new()
    {
        ["id"] = Id,
        ["origin"] = DetectionNames.Name(DetectionNames.Origins, Origin),
        ["rule"] = Rule,
        ["severity"] = DetectionNames.Name(DetectionNames.Severities, Severity),
        ["confidence"] = Confidence,
        ["group"] = Group,
        ["accounts"] = Strings(Accounts),
        ["ips"] = Strings(Ips),
        ["platforms"] = Strings(Platforms),
        ["event_ids"] = Strings(EventIds),
        ["event_count"] = EventCount,
        ["first_event_at"] = Time(FirstEventAt),
        ["detected_event_at"] = Time(DetectedEventAt),
        ["created_at"] = Time(CreatedAt),
        ["explanation"] = Explanation,
        ["evidence"] = Evidence.DeepClone(),
        ["actions"] = Strings(Actions),
        ["incident_id"] = IncidentId,
    };

    /// <summary>Reads a document written by <see cref="ToDocument"/>.</summary>
    /// <param name="document">The document.</param>
    /// <returns>The detection.</returns>
    /// <exception cref="InvalidDataException">A field is missing or has the wrong shape.</exception>
    public static DetectionRecord Read(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        try
        {
            return new DetectionRecord
            {
                Id = document["id"]!.GetValue<string>(),
                Origin = DetectionNames.Origins[document["origin"]!.GetValue<string>()],
                Rule = document["rule"]!.GetValue<string>(),
                Severity = DetectionNames.Severities[document["severity"]!.GetValue<string>()],
                Confidence = document["confidence"]!.GetValue<double>(),
                Group = document["group"]!.GetValue<string>(),
                Accounts = ReadStrings(document["accounts"]),
                Ips = ReadStrings(document["ips"]),
                Platforms = ReadStrings(document["platforms"]),
                EventIds = ReadStrings(document["event_ids"]),
                EventCount = document["event_count"]!.GetValue<long>(),
                FirstEventAt = ReadTime(document["first_event_at"]),
                DetectedEventAt = ReadTime(document["detected_event_at"]),
                CreatedAt = ReadTime(document["created_at"]),
                Explanation = document["explanation"]!.GetValue<string>(),
                Evidence = document["evidence"]?.DeepClone().AsObject() ?? [],
                Actions = ReadStrings(document["actions"]),
                IncidentId = document["incident_id"]?.GetValue<string>(),
            };
        }
        catch (Exception error) when (error is NullReferenceException or InvalidOperationException or FormatException or ArgumentException or KeyNotFoundException)
        {
            throw new InvalidDataException($"Not a stored detection: {error.Message}", error);
        }
    }

    internal static JsonArray Strings(IEnumerable<string> values) => [.. values.Select(v => (JsonNode)v)];

    internal static string[] ReadStrings(JsonNode? node) => node is JsonArray array ? [.. array.Select(n => n!.GetValue<string>())] : [];

    internal static string Time(DateTimeOffset at) => AuditChain.FormatTime(at);

    internal static DateTimeOffset ReadTime(JsonNode? node) => AuditChain.ParseTime(node!.GetValue<string>());
}
