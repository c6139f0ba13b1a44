using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.Ingest;

/// <summary>
/// One pass over an event v1 object that checks every rule of <c>schemas/event-v1.schema.json</c> and, when asked and
/// valid, builds the <see cref="NormalizedEvent"/>. <see cref="EventSchema"/> and <see cref="EventJson"/> share it so
/// that "valid" and "readable" cannot disagree. Duplicate member names, text that is not valid Unicode and details
/// nested deeper than <see cref="MaxDepth"/> are refused too: each would make the event read back differently.
/// </summary>
internal static class EventReader
{
    public const int MaxIdLength = 200;
    public const int MaxSourceLength = 100;
    public const int MaxPlatformLength = 50;
    public const int MaxAccountIdLength = 200;
    public const int MaxCorrelationIdLength = 200;
    public const int MaxActorIdLength = 200;
    public const int MaxIpLength = 45;
    public const int MaxUserAgentLength = 1000;
    public const int MaxDeviceIdLength = 200;
    public const int MaxDetailsProperties = 64;

    /// <summary>The deepest nesting accepted, counting the event object as 1 (the default of <see cref="JsonDocument"/>).</summary>
    public const int MaxDepth = 64;

    private const int SchemaVersionBit = 1 << 0;
    private const int IdBit = 1 << 1;
    private const int SourceBit = 1 << 2;
    private const int PlatformBit = 1 << 3;
    private const int EventTypeBit = 1 << 4;
    private const int AccountIdBit = 1 << 5;
    private const int ActorBit = 1 << 6;
    private const int TimestampBit = 1 << 7;
    private const int ReceivedAtBit = 1 << 8;
    private const int CorrelationIdBit = 1 << 9;
    private const int DetailsBit = 1 << 10;

    private const int ActorIdBit = 1 << 0;
    private const int ActorIpBit = 1 << 1;
    private const int ActorUserAgentBit = 1 << 2;
    private const int ActorCountryBit = 1 << 3;
    private const int ActorDeviceIdBit = 1 << 4;

    public const string EventTypeRule =
        "must be a core event type (password_reset, account_changed, session_new, token_rotated, login_failed, " +
        "login_succeeded, policy_flag, content_edit, mfa_changed, session_revoked) or a custom type matching ^x-[a-z0-9_.-]{1,60}$";

    public const string CountryRule = "must be two upper-case letters (ISO 3166-1 alpha-2)";

    public const string DateTimeRule = "must be an RFC 3339 date-time with a time zone, such as 2026-03-02T10:15:30.250Z or 2026-03-02T11:15:30+01:00";

    /// <summary>Reads (or only checks, when <paramref name="materialize"/> is false) one event.</summary>
    public static NormalizedEvent? Read(JsonElement element, bool materialize, ref List<EventSchemaError>? errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            Add(ref errors, "", $"must be an object, not {EventText.Describe(element.ValueKind)}");
            return null;
        }

        string? id = null, source = null, platform = null, eventType = null, accountId = null, correlationId = null;
        DateTimeOffset timestamp = default;
        DateTimeOffset? receivedAt = null;
        EventActor? actor = null;
        JsonElement details = default;
        var seen = 0;
        var errorsBefore = errors?.Count ?? 0;

        foreach (var property in element.EnumerateObject())
        {
            var bit = Identify(property);
            if (bit == 0)
            {
                Add(ref errors, "/" + PointerToken(property), "unknown field");
                continue;
            }

            var pointer = PointerOf(bit);
            if ((seen & bit) != 0)
            {
                Add(ref errors, pointer, "appears more than once");
                continue;
            }

            seen |= bit;
            var value = property.Value;
            switch (bit)
            {
                case SchemaVersionBit:
                    if (value.ValueKind != JsonValueKind.String || !value.ValueEquals("v1"u8))
                    {
                        Add(ref errors, pointer, "must be \"v1\"");
                    }

                    break;
                case IdBit:
                    id = ReadString(value, pointer, MaxIdLength, required: true, ref errors);
                    break;
                case SourceBit:
                    source = ReadString(value, pointer, MaxSourceLength, required: true, ref errors);
                    break;
                case PlatformBit:
                    platform = ReadString(value, pointer, MaxPlatformLength, required: true, ref errors);
                    break;
                case EventTypeBit:
                    eventType = ReadEventType(value, pointer, ref errors);
                    break;
                case AccountIdBit:
                    accountId = ReadString(value, pointer, MaxAccountIdLength, required: true, ref errors);
                    break;
                case ActorBit:
                    actor = ReadActor(value, ref errors);
                    break;
                case TimestampBit:
                    timestamp = ReadTimestamp(value, pointer, ref errors) ?? default;
                    break;
                case ReceivedAtBit:
                    receivedAt = ReadTimestamp(value, pointer, ref errors);
                    break;
                case CorrelationIdBit:
                    correlationId = ReadString(value, pointer, MaxCorrelationIdLength, required: false, ref errors);
                    break;
                default:
                    if (CheckDetails(value, ref errors))
                    {
                        details = value;
                    }

                    break;
            }
        }

        const int Required = SchemaVersionBit | IdBit | SourceBit | PlatformBit | EventTypeBit | AccountIdBit | TimestampBit;
        if ((seen & Required) != Required)
        {
            for (var bit = 1; bit <= TimestampBit; bit <<= 1)
            {
                if ((Required & bit) != 0 && (seen & bit) == 0)
                {
                    Add(ref errors, PointerOf(bit), "is required");
                }
            }
        }

        if (!materialize || (errors?.Count ?? 0) != errorsBefore)
        {
            return null;
        }

        return new NormalizedEvent(
            id!,
            source!,
            platform!,
            eventType!,
            accountId!,
            timestamp,
            actor,
            receivedAt,
            correlationId,
            details.ValueKind == JsonValueKind.Object ? BuildObject(details.Clone()) : null);
    }

    /// <summary>Checks an event built in memory against the same rules.</summary>
    public static void Check(NormalizedEvent value, ref List<EventSchemaError>? errors)
    {
        CheckString(value.Id, "/id", MaxIdLength, required: true, ref errors);
        CheckString(value.Source, "/source", MaxSourceLength, required: true, ref errors);
        CheckString(value.Platform, "/platform", MaxPlatformLength, required: true, ref errors);
        if (value.EventType is null)
        {
            Add(ref errors, "/event_type", "is required");
        }
        else if (!EventText.IsEventType(value.EventType))
        {
            Add(ref errors, "/event_type", $"{EventText.Quote(value.EventType)} {EventTypeRule}");
        }

        CheckString(value.AccountId, "/account_id", MaxAccountIdLength, required: true, ref errors);
        if (value.Actor is { } actor)
        {
            CheckString(actor.Id, "/actor/id", MaxActorIdLength, required: false, ref errors);
            CheckString(actor.Ip, "/actor/ip", MaxIpLength, required: false, ref errors);
            CheckString(actor.UserAgent, "/actor/user_agent", MaxUserAgentLength, required: false, ref errors);
            if (actor.Country is not null && !EventText.IsCountry(actor.Country))
            {
                Add(ref errors, "/actor/country", $"{EventText.Quote(actor.Country)} {CountryRule}");
            }

            CheckString(actor.DeviceId, "/actor/device_id", MaxDeviceIdLength, required: false, ref errors);
        }

        CheckString(value.CorrelationId, "/correlation_id", MaxCorrelationIdLength, required: false, ref errors);
        if (value.Details is { Count: > MaxDetailsProperties } details)
        {
            Add(ref errors, "/details", $"must have at most {MaxDetailsProperties} properties, not {details.Count}");
        }
    }

    private static void CheckString(string? value, string pointer, int maxLength, bool required, ref List<EventSchemaError>? errors)
    {
        if (value is null)
        {
            if (required)
            {
                Add(ref errors, pointer, "is required");
            }
        }
        else if (required && value.Length == 0)
        {
            Add(ref errors, pointer, "must not be empty");
        }
        else if (!EventText.FitsIn(value, maxLength))
        {
            Add(ref errors, pointer, $"must be at most {maxLength} characters, not {EventText.CodePoints(value)}");
        }
    }

    private static int Identify(JsonProperty property)
    {
        // Schema order, which is also the order events are written in, so the first comparison usually matches.
        if (property.NameEquals("schema_version"u8))
        {
            return SchemaVersionBit;
        }

        if (property.NameEquals("id"u8))
        {
            return IdBit;
        }

        if (property.NameEquals("source"u8))
        {
            return SourceBit;
        }

        if (property.NameEquals("platform"u8))
        {
            return PlatformBit;
        }

        if (property.NameEquals("event_type"u8))
        {
            return EventTypeBit;
        }

        if (property.NameEquals("account_id"u8))
        {
            return AccountIdBit;
        }

        if (property.NameEquals("actor"u8))
        {
            return ActorBit;
        }

        if (property.NameEquals("timestamp"u8))
        {
            return TimestampBit;
        }

        if (property.NameEquals("received_at"u8))
        {
            return ReceivedAtBit;
        }

        if (property.NameEquals("correlation_id"u8))
        {
            return CorrelationIdBit;
        }

        return property.NameEquals("details"u8) ? DetailsBit : 0;
    }

    private static string PointerOf(int bit) => bit switch
    {
        SchemaVersionBit => "/schema_version",
        IdBit => "/id",
        SourceBit => "/source",
        PlatformBit => "/platform",
        EventTypeBit => "/event_type",
        AccountIdBit => "/account_id",
        ActorBit => "/actor",
        TimestampBit => "/timestamp",
        ReceivedAtBit => "/received_at",
        CorrelationIdBit => "/correlation_id",
        _ => "/details",
    };

    private static int IdentifyActor(JsonProperty property)
    {
        if (property.NameEquals("id"u8))
        {
            return ActorIdBit;
        }

        if (property.NameEquals("ip"u8))
        {
            return ActorIpBit;
        }

        if (property.NameEquals("user_agent"u8))
        {
            return ActorUserAgentBit;
        }

        if (property.NameEquals("country"u8))
        {
            return ActorCountryBit;
        }

        return property.NameEquals("device_id"u8) ? ActorDeviceIdBit : 0;
    }

    private static string ActorPointerOf(int bit) => bit switch
    {
        ActorIdBit => "/actor/id",
        ActorIpBit => "/actor/ip",
        ActorUserAgentBit => "/actor/user_agent",
        ActorCountryBit => "/actor/country",
        _ => "/actor/device_id",
    };

    private static EventActor? ReadActor(JsonElement value, ref List<EventSchemaError>? errors)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            Add(ref errors, "/actor", $"must be an object, not {EventText.Describe(value.ValueKind)}");
            return null;
        }

        string? id = null, ip = null, userAgent = null, country = null, deviceId = null;
        var seen = 0;
        foreach (var property in value.EnumerateObject())
        {
            var bit = IdentifyActor(property);
            if (bit == 0)
            {
                Add(ref errors, "/actor/" + PointerToken(property), "unknown field");
                continue;
            }

            var pointer = ActorPointerOf(bit);
            if ((seen & bit) != 0)
            {
                Add(ref errors, pointer, "appears more than once");
                continue;
            }

            seen |= bit;
            switch (bit)
            {
                case ActorIdBit:
                    id = ReadString(property.Value, pointer, MaxActorIdLength, required: false, ref errors);
                    break;
                case ActorIpBit:
                    ip = ReadString(property.Value, pointer, MaxIpLength, required: false, ref errors);
                    break;
                case ActorUserAgentBit:
                    userAgent = ReadString(property.Value, pointer, MaxUserAgentLength, required: false, ref errors);
                    break;
                case ActorCountryBit:
                    country = ReadString(property.Value, pointer, int.MaxValue, required: false, ref errors);
                    if (country is not null && !EventText.IsCountry(country))
                    {
                        Add(ref errors, pointer, $"{EventText.Quote(country)} {CountryRule}");
                        country = null;
                    }

                    break;
                default:
                    deviceId = ReadString(property.Value, pointer, MaxDeviceIdLength, required: false, ref errors);
                    break;
            }
        }

        return new EventActor(id, ip, userAgent, country, deviceId);
    }

    /// <summary>A string member: required ones are non-empty strings, optional ones strings or null.</summary>
    private static string? ReadString(JsonElement value, string pointer, int maxLength, bool required, ref List<EventSchemaError>? errors)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            if (required || value.ValueKind != JsonValueKind.Null)
            {
                Add(ref errors, pointer, required
                    ? $"must be a string, not {EventText.Describe(value.ValueKind)}"
                    : $"must be a string or null, not {EventText.Describe(value.ValueKind)}");
            }

            return null;
        }

        var text = EventText.TryGetString(value);
        if (text is null)
        {
            Add(ref errors, pointer, "is not valid Unicode text");
            return null;
        }

        if (required && text.Length == 0)
        {
            Add(ref errors, pointer, "must not be empty");
            return null;
        }

        if (!EventText.FitsIn(text, maxLength))
        {
            Add(ref errors, pointer, $"must be at most {maxLength} characters, not {EventText.CodePoints(text)}");
            return null;
        }

        return text;
    }

    private static string? ReadEventType(JsonElement value, string pointer, ref List<EventSchemaError>? errors)
    {
        var text = ReadString(value, pointer, int.MaxValue, required: true, ref errors);
        if (text is not null && !EventText.IsEventType(text))
        {
            Add(ref errors, pointer, $"{EventText.Quote(text)} {EventTypeRule}");
            return null;
        }

        return text;
    }

    private static DateTimeOffset? ReadTimestamp(JsonElement value, string pointer, ref List<EventSchemaError>? errors)
    {
        // Not ReadString with required: an empty string gets the date-time message, which says what to send.
        if (value.ValueKind != JsonValueKind.String)
        {
            ReadString(value, pointer, int.MaxValue, required: true, ref errors);
            return null;
        }

        var text = EventText.TryGetString(value);
        if (text is null)
        {
            Add(ref errors, pointer, "is not valid Unicode text");
            return null;
        }

        if (!Rfc3339.TryParse(text, out var utc))
        {
            Add(ref errors, pointer, $"{EventText.Quote(text)} {DateTimeRule}");
            return null;
        }

        return Rfc3339.ToWire(utc);
    }

    private static bool CheckDetails(JsonElement value, ref List<EventSchemaError>? errors)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            Add(ref errors, "/details", $"must be an object, not {EventText.Describe(value.ValueKind)}");
            return false;
        }

        var before = errors?.Count ?? 0;
        var count = value.GetPropertyCount();
        if (count > MaxDetailsProperties)
        {
            Add(ref errors, "/details", $"must have at most {MaxDetailsProperties} properties, not {count}");
        }

        CheckFreeForm(value, "/details", depth: 2, ref errors);
        return (errors?.Count ?? 0) == before;
    }

    /// <summary>Free-form JSON (details): names unique per object, text valid Unicode, nesting bounded. Pointers are
    /// built only for containers and errors, so a flat valid details object costs no strings but its names.</summary>
    private static void CheckFreeForm(JsonElement value, string pointer, int depth, ref List<EventSchemaError>? errors)
    {
        if (depth > MaxDepth)
        {
            Add(ref errors, pointer, $"nests deeper than {MaxDepth} levels");
            return;
        }

        if (value.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var item in value.EnumerateArray())
            {
                CheckMember(item, pointer, null, index++, depth, ref errors);
            }

            return;
        }

        string[]? names = null;
        HashSet<string>? large = null;
        var count = 0;
        var several = value.GetPropertyCount() > 1;
        foreach (var property in value.EnumerateObject())
        {
            var name = EventText.TryGetName(property);
            if (name is null)
            {
                Add(ref errors, pointer, "has a member name that is not valid Unicode text");
                continue;
            }

            if (several && IsDuplicate(name, ref names, ref large, ref count))
            {
                Add(ref errors, pointer + "/" + EventText.EscapePointer(name), "appears more than once");
            }

            CheckMember(property.Value, pointer, name, 0, depth, ref errors);
        }
    }

    private static void CheckMember(JsonElement value, string parent, string? name, int index, int depth, ref List<EventSchemaError>? errors)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                if (!EventText.IsValidString(value))
                {
                    Add(ref errors, ChildPointer(parent, name, index), "is not valid Unicode text");
                }

                break;
            case JsonValueKind.Object:
            case JsonValueKind.Array:
                CheckFreeForm(value, ChildPointer(parent, name, index), depth + 1, ref errors);
                break;
        }
    }

    private static string ChildPointer(string parent, string? name, int index) =>
        name is null
            ? parent + "/" + index.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : parent + "/" + EventText.EscapePointer(name);

    private static bool IsDuplicate(string name, ref string[]? names, ref HashSet<string>? large, ref int count)
    {
        if (large is not null)
        {
            return !large.Add(name);
        }

        names ??= new string[8];
        for (var i = 0; i < count; i++)
        {
            if (string.Equals(names[i], name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        if (count == names.Length)
        {
            large = new HashSet<string>(names, StringComparer.Ordinal) { name };
            return false;
        }

        names[count++] = name;
        return false;
    }

    /// <summary>Builds an independent, fully materialized tree (safe to read from several threads) from checked JSON.</summary>
    private static JsonObject BuildObject(JsonElement value)
    {
        var result = new JsonObject();
        foreach (var property in value.EnumerateObject())
        {
            result.Add(property.Name, BuildNode(property.Value));
        }

        return result;
    }

    private static JsonNode? BuildNode(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                return BuildObject(value);
            case JsonValueKind.Array:
                var array = new JsonArray();
                foreach (var item in value.EnumerateArray())
                {
                    array.Add(BuildNode(item));
                }

                return array;
            case JsonValueKind.String:
                return JsonValue.Create(value.GetString());
            case JsonValueKind.True:
                return JsonValue.Create(true);
            case JsonValueKind.False:
                return JsonValue.Create(false);
            case JsonValueKind.Number:
                // Keeps the number's text (1.50 stays 1.50); value belongs to a cloned document nobody disposes.
                return JsonValue.Create(value);
            default:
                return null;
        }
    }

    private static string PointerToken(JsonProperty property) =>
        EventText.TryGetName(property) is { } name ? EventText.EscapePointer(name) : "(invalid name)";

    internal static void Add(ref List<EventSchemaError>? errors, string pointer, string message) =>
        (errors ??= []).Add(new EventSchemaError(pointer, message));
}
