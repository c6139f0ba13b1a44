using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Ingest;

namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>
/// An event as the log stores it: the canonical v1 JSON (snake_case members in schema order, times as
/// <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, absent values omitted). Stands in for Core's event serializer until that lands;
/// this file is the only place that knows the shape.
/// </summary>
internal static class EventDocument
{
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Serialize(NormalizedEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("schema_version", NormalizedEvent.SchemaVersion);
            writer.WriteString("id", e.Id);
            writer.WriteString("source", e.Source);
            writer.WriteString("platform", e.Platform);
            writer.WriteString("event_type", e.EventType);
            writer.WriteString("account_id", e.AccountId);
            if (e.Actor is { } actor)
            {
                writer.WriteStartObject("actor");
                WriteOptional(writer, "id", actor.Id);
                WriteOptional(writer, "ip", actor.Ip);
                WriteOptional(writer, "user_agent", actor.UserAgent);
                WriteOptional(writer, "country", actor.Country);
                WriteOptional(writer, "device_id", actor.DeviceId);
                writer.WriteEndObject();
            }

            writer.WriteString("timestamp", FormatTime(e.Timestamp));
            WriteOptional(writer, "received_at", e.ReceivedAt is { } received ? FormatTime(received) : null);
            WriteOptional(writer, "correlation_id", e.CorrelationId);
            if (e.Details is { } details)
            {
                writer.WritePropertyName("details");
                details.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static NormalizedEvent Deserialize(string json)
    {
        var root = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidDataException("An event document is not a JSON object.");
        EventActor? actor = null;
        if (root["actor"] is JsonObject a)
        {
            actor = new EventActor(Optional(a, "id"), Optional(a, "ip"), Optional(a, "user_agent"), Optional(a, "country"), Optional(a, "device_id"));
        }

        JsonObject? details = null;
        if (root["details"] is JsonObject d)
        {
            root.Remove("details");
            details = d;
        }

        return new NormalizedEvent(
            Required(root, "id"),
            Required(root, "source"),
            Required(root, "platform"),
            Required(root, "event_type"),
            Required(root, "account_id"),
            ParseTime(Required(root, "timestamp")),
            actor,
            Optional(root, "received_at") is { } received ? ParseTime(received) : null,
            Optional(root, "correlation_id"),
            details);
    }

    /// <summary>Event times as the document keeps them: whole milliseconds, UTC.</summary>
    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static string Required(JsonObject obj, string name) =>
        Optional(obj, name) ?? throw new InvalidDataException($"An event document lacks '{name}'.");

    private static string? Optional(JsonObject obj, string name) => obj[name]?.GetValue<string>();
}
