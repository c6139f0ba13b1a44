using System.Text.Json.Nodes;
using Bulwark.Manifests;

namespace Bulwark.Ingest;

/// <summary>
/// The <c>mapping</c> of a source manifest: JSON Pointers into each delivered item that say where an event's fields are.
/// <code>
/// {
///   "items": "/data/events",              // optional: the array of items; else the body is one item or an array of them
///   "id": "/uuid",                        // optional: else "&lt;delivery id&gt;:&lt;item index&gt;"
///   "timestamp": "/published",            // RFC 3339 text, or Unix seconds or milliseconds as a number
///   "account_id": "/target/0/id",
///   "event_type": {"pointer": "/eventType", "map": {"a.b": "password_reset"}, "default": "x-custom"},  // or a constant
///   "platform": "internal",               // optional constant; else the source's platform, else "internal"
///   "correlation_id": "/request_id",      // optional
///   "actor": {"id": "/actor/id", "ip": "/client/ip", "user_agent": "/client/ua", "country": "/geo/cc", "device_id": "/device"},
///   "details": {"reason": "/outcome/reason"}   // at most 64 fields
/// }
/// </code>
/// </summary>
public static class MappingSpec
{
    private const int MaxPointerLength = 1000;

    /// <summary>Checks a mapping: every member known, pointers well formed, event types valid, required members present.</summary>
    /// <param name="mapping">The mapping object.</param>
    /// <returns>Every error, with paths relative to the mapping (<c>/event_type/map/a.b</c>); empty when valid.</returns>
    public static IReadOnlyList<ManifestError> Validate(JsonObject mapping)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        var errors = new List<ManifestError>();
        Compile(mapping, errors);
        return errors;
    }

    /// <summary>Reads a mapping into its compiled form; <see langword="null"/> with errors added when invalid.</summary>
    internal static CompiledMapping? Compile(JsonObject mapping, List<ManifestError> errors)
    {
        var before = errors.Count;
        var reader = new ManifestReader(mapping, "", errors);
        var items = ReadPointer(reader, "items", required: false);
        var id = ReadPointer(reader, "id", required: false);
        var timestamp = ReadPointer(reader, "timestamp", required: true);
        var accountId = ReadPointer(reader, "account_id", required: true);
        var eventType = ReadEventType(reader, errors);
        var platform = reader.ReadString("platform", maxLength: EventReader.MaxPlatformLength);
        if (platform is { Length: 0 })
        {
            reader.Error("platform", "must not be empty");
        }

        var correlationId = ReadPointer(reader, "correlation_id", required: false);
        JsonPointer? actorId = null, actorIp = null, actorUserAgent = null, actorCountry = null, actorDeviceId = null;
        if (reader.ReadObject("actor") is { } actor)
        {
            actorId = ReadPointer(actor, "id", required: false);
            actorIp = ReadPointer(actor, "ip", required: false);
            actorUserAgent = ReadPointer(actor, "user_agent", required: false);
            actorCountry = ReadPointer(actor, "country", required: false);
            actorDeviceId = ReadPointer(actor, "device_id", required: false);
            actor.RejectUnknownFields();
        }

        var details = new List<KeyValuePair<string, JsonPointer>>();
        if (reader.ReadObject("details") is { } detailsReader)
        {
            var names = detailsReader.FieldNames;
            if (names.Count > EventReader.MaxDetailsProperties)
            {
                reader.Error("details", $"must have at most {EventReader.MaxDetailsProperties} fields, not {names.Count}");
            }

            foreach (var name in names)
            {
                if (ReadPointer(detailsReader, name, required: true) is { } pointer)
                {
                    details.Add(new(name, pointer));
                }
            }
        }

        reader.RejectUnknownFields();
        if (errors.Count != before)
        {
            return null;
        }

        return new CompiledMapping(
            items, id, timestamp!, accountId!, eventType!, platform, correlationId,
            actorId, actorIp, actorUserAgent, actorCountry, actorDeviceId, details);
    }

    private static JsonPointer? ReadPointer(ManifestReader reader, string field, bool required)
    {
        // Not ReadString's required check: it refuses "", which is a pointer (the whole item).
        var text = reader.ReadString(field, required: false, MaxPointerLength);
        if (text is null)
        {
            if (required && reader.ReadRaw(field) is null)
            {
                reader.Error(field, "is required");
            }

            return null;
        }

        var pointer = JsonPointer.TryParse(text);
        if (pointer is null)
        {
            reader.Error(field, $"'{text}' is not a JSON Pointer: empty for the whole item, or /name/0/name with ~0 for ~ and ~1 for /");
        }

        return pointer;
    }

    private static EventTypeRule? ReadEventType(ManifestReader reader, List<ManifestError> errors)
    {
        var node = reader.ReadRaw("event_type");
        switch (node)
        {
            case null:
                reader.Error("event_type", "is required");
                return null;
            case JsonValue value when value.TryGetValue<string>(out var constant):
                if (!EventText.IsEventType(constant))
                {
                    reader.Error("event_type", $"{EventText.Quote(constant)} {EventReader.EventTypeRule}, or an object {{pointer, map, default}}");
                    return null;
                }

                return new EventTypeRule(constant, null, null, null);
            case JsonObject obj:
                var rule = new ManifestReader(obj, reader.PathOf("event_type"), errors);
                var pointer = ReadPointer(rule, "pointer", required: true);
                var fallback = rule.ReadString("default", maxLength: 64);
                if (fallback is not null && !EventText.IsEventType(fallback))
                {
                    rule.Error("default", $"{EventText.Quote(fallback)} {EventReader.EventTypeRule}");
                }

                var map = new Dictionary<string, string>(StringComparer.Ordinal);
                if (rule.ReadObject("map") is { } mapReader)
                {
                    foreach (var key in mapReader.FieldNames)
                    {
                        var target = mapReader.ReadString(key, required: true, maxLength: 64);
                        if (target is not null && !EventText.IsEventType(target))
                        {
                            mapReader.Error(key, $"{EventText.Quote(target)} {EventReader.EventTypeRule}");
                        }
                        else if (target is not null)
                        {
                            map[key] = target;
                        }
                    }
                }

                rule.RejectUnknownFields();
                return pointer is null ? null : new EventTypeRule(null, pointer, map, fallback);
            default:
                reader.Error("event_type", $"must be an event type or an object {{pointer, map, default}}, not {ManifestReader.Describe(node)}");
                return null;
        }
    }
}

/// <summary>How an item's event type is found: a constant, or a pointer whose value is looked up in a map.</summary>
internal sealed record EventTypeRule(string? Constant, JsonPointer? Pointer, Dictionary<string, string>? Map, string? Default);

/// <summary>A checked mapping, its pointers parsed once.</summary>
internal sealed record CompiledMapping(
    JsonPointer? Items,
    JsonPointer? Id,
    JsonPointer Timestamp,
    JsonPointer AccountId,
    EventTypeRule EventType,
    string? Platform,
    JsonPointer? CorrelationId,
    JsonPointer? ActorId,
    JsonPointer? ActorIp,
    JsonPointer? ActorUserAgent,
    JsonPointer? ActorCountry,
    JsonPointer? ActorDeviceId,
    IReadOnlyList<KeyValuePair<string, JsonPointer>> Details);
