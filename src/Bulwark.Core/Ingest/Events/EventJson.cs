using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Json;

namespace Bulwark.Ingest;

/// <summary>
/// Reads and writes events in their v1 JSON form. Writing uses the schema's member order (<c>schema_version</c>,
/// <c>id</c>, <c>source</c>, <c>platform</c>, <c>event_type</c>, <c>account_id</c>, <c>actor</c>, <c>timestamp</c>,
/// <c>received_at</c>, <c>correlation_id</c>, <c>details</c>; in <c>actor</c>: <c>id</c>, <c>ip</c>, <c>user_agent</c>,
/// <c>country</c>, <c>device_id</c>), timestamps as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, and leaves out null members.
/// Reading a valid event and writing it back gives the same event: timestamps become UTC and are cut to whole
/// milliseconds when read (v1 carries milliseconds), and a null member reads as absent.
/// </summary>
public static class EventJson
{
    private static readonly JsonEncodedText SchemaVersionName = JsonEncodedText.Encode("schema_version");
    private static readonly JsonEncodedText SchemaVersionValue = JsonEncodedText.Encode(NormalizedEvent.SchemaVersion);
    private static readonly JsonEncodedText IdName = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText SourceName = JsonEncodedText.Encode("source");
    private static readonly JsonEncodedText PlatformName = JsonEncodedText.Encode("platform");
    private static readonly JsonEncodedText EventTypeName = JsonEncodedText.Encode("event_type");
    private static readonly JsonEncodedText AccountIdName = JsonEncodedText.Encode("account_id");
    private static readonly JsonEncodedText ActorName = JsonEncodedText.Encode("actor");
    private static readonly JsonEncodedText IpName = JsonEncodedText.Encode("ip");
    private static readonly JsonEncodedText UserAgentName = JsonEncodedText.Encode("user_agent");
    private static readonly JsonEncodedText CountryName = JsonEncodedText.Encode("country");
    private static readonly JsonEncodedText DeviceIdName = JsonEncodedText.Encode("device_id");
    private static readonly JsonEncodedText TimestampName = JsonEncodedText.Encode("timestamp");
    private static readonly JsonEncodedText ReceivedAtName = JsonEncodedText.Encode("received_at");
    private static readonly JsonEncodedText CorrelationIdName = JsonEncodedText.Encode("correlation_id");
    private static readonly JsonEncodedText DetailsName = JsonEncodedText.Encode("details");

    /// <summary>
    /// The largest event the log takes, in bytes of JSON: its <c>details</c> are otherwise unbounded, and every read returns
    /// whole events. Pushed and delivered <c>event-v1</c> items are measured as sent; an event a normalizer maps is
    /// measured as written (a mapping can copy its item into many <c>details</c> fields).
    /// </summary>
    public const int MaxBytes = 64 * 1024;

    /// <summary>Why an event of <paramref name="size"/> bytes of JSON is refused, or <see langword="null"/> when it is not.</summary>
    /// <param name="size">The event's size in bytes of JSON.</param>
    /// <returns>The reason, or <see langword="null"/>.</returns>
    public static string? SizeProblem(int size) => size > MaxBytes ? $"the event is {size} bytes of JSON; one takes at most {MaxBytes}" : null;

    /// <summary>Reads one event, checking every rule of <see cref="EventSchema"/>.</summary>
    /// <param name="element">The event in JSON form.</param>
    /// <param name="value">The event, when valid. It holds no reference to <paramref name="element"/>'s document.</param>
    /// <param name="errors">Every error found; empty when valid.</param>
    /// <returns><see langword="true"/> when the event is valid.</returns>
    public static bool TryRead(JsonElement element, [NotNullWhen(true)] out NormalizedEvent? value, out IReadOnlyList<EventSchemaError> errors)
    {
        List<EventSchemaError>? found = null;
        value = EventReader.Read(element, materialize: true, ref found);
        errors = found ?? (IReadOnlyList<EventSchemaError>)[];
        return value is not null;
    }

    /// <summary>Reads one event from UTF-8 JSON text (one value, white space around it allowed).</summary>
    /// <param name="utf8Json">The text.</param>
    /// <param name="value">The event, when valid.</param>
    /// <param name="errors">Every error found (one, at the empty pointer, when the text is not JSON); empty when valid.</param>
    /// <returns><see langword="true"/> when the event is valid.</returns>
    public static bool TryRead(ReadOnlySpan<byte> utf8Json, [NotNullWhen(true)] out NormalizedEvent? value, out IReadOnlyList<EventSchemaError> errors)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(utf8Json);
            document = JsonDocument.ParseValue(ref reader);
            if (reader.Read())
            {
                document.Dispose();
                throw new JsonException("there is more than one JSON value");
            }
        }
        catch (JsonException e)
        {
            value = null;
            errors = [new EventSchemaError("", $"is not one JSON value: {e.Message}")];
            return false;
        }

        using (document)
        {
            return TryRead(document.RootElement, out value, out errors);
        }
    }

    /// <summary>
    /// Writes <paramref name="value"/> as written on the wire. It is written as it is: check an event built by hand with
    /// <see cref="EventSchema.Validate(NormalizedEvent)"/> first.
    /// </summary>
    /// <param name="value">The event.</param>
    /// <param name="writer">Where to write it.</param>
    public static void Write(NormalizedEvent value, Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(writer);
        Span<byte> time = stackalloc byte[32];

        writer.WriteStartObject();
        writer.WriteString(SchemaVersionName, SchemaVersionValue);
        writer.WriteString(IdName, value.Id);
        writer.WriteString(SourceName, value.Source);
        writer.WriteString(PlatformName, value.Platform);
        writer.WriteString(EventTypeName, value.EventType);
        writer.WriteString(AccountIdName, value.AccountId);
        if (value.Actor is { } actor)
        {
            writer.WriteStartObject(ActorName);
            WriteIfPresent(writer, IdName, actor.Id);
            WriteIfPresent(writer, IpName, actor.Ip);
            WriteIfPresent(writer, UserAgentName, actor.UserAgent);
            WriteIfPresent(writer, CountryName, actor.Country);
            WriteIfPresent(writer, DeviceIdName, actor.DeviceId);
            writer.WriteEndObject();
        }

        writer.WriteString(TimestampName, time[..Rfc3339.Format(value.Timestamp, time)]);
        if (value.ReceivedAt is { } receivedAt)
        {
            writer.WriteString(ReceivedAtName, time[..Rfc3339.Format(receivedAt, time)]);
        }

        WriteIfPresent(writer, CorrelationIdName, value.CorrelationId);
        if (value.Details is { } details)
        {
            writer.WritePropertyName(DetailsName);
            details.WriteTo(writer);
        }

        writer.WriteEndObject();
    }

    /// <summary>The event's JSON form as UTF-8 bytes, without white space and with non-ASCII text left unescaped.</summary>
    /// <param name="value">The event.</param>
    /// <returns>The bytes.</returns>
    public static byte[] ToUtf8Bytes(NormalizedEvent value) => CompactJson.ToUtf8Bytes(value, static (e, writer) => Write(e, writer));

    /// <summary>How many bytes <see cref="ToUtf8Bytes"/> would return, without copying them out.</summary>
    /// <param name="value">The event.</param>
    /// <returns>Its size in bytes of JSON.</returns>
    public static int Measure(NormalizedEvent value) => CompactJson.Measure(value, static (e, writer) => Write(e, writer));

    /// <summary>The event's JSON form as a new <see cref="JsonObject"/> (details are copied, not shared).</summary>
    /// <param name="value">The event.</param>
    /// <returns>The object, members in the schema's order.</returns>
    public static JsonObject ToJsonObject(NormalizedEvent value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var result = new JsonObject
        {
            ["schema_version"] = NormalizedEvent.SchemaVersion,
            ["id"] = value.Id,
            ["source"] = value.Source,
            ["platform"] = value.Platform,
            ["event_type"] = value.EventType,
            ["account_id"] = value.AccountId,
        };

        if (value.Actor is { } actor)
        {
            var actorObject = new JsonObject();
            AddIfPresent(actorObject, "id", actor.Id);
            AddIfPresent(actorObject, "ip", actor.Ip);
            AddIfPresent(actorObject, "user_agent", actor.UserAgent);
            AddIfPresent(actorObject, "country", actor.Country);
            AddIfPresent(actorObject, "device_id", actor.DeviceId);
            result["actor"] = actorObject;
        }

        result["timestamp"] = Rfc3339.Format(value.Timestamp);
        if (value.ReceivedAt is { } receivedAt)
        {
            result["received_at"] = Rfc3339.Format(receivedAt);
        }

        AddIfPresent(result, "correlation_id", value.CorrelationId);
        if (value.Details is { } details)
        {
            result["details"] = details.DeepClone();
        }

        return result;
    }

    private static void WriteIfPresent(Utf8JsonWriter writer, JsonEncodedText name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static void AddIfPresent(JsonObject target, string name, string? value)
    {
        if (value is not null)
        {
            target[name] = value;
        }
    }
}
