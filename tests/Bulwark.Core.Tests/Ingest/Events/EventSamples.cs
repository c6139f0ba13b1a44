using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Ingest;

namespace Bulwark.Core.Tests.Ingest.Events;

/// <summary>Events used across the schema and JSON tests.</summary>
internal static class EventSamples
{
    public const string Minimal =
        """{"schema_version":"v1","id":"evt_1","source":"okta-main","platform":"okta","event_type":"session_new","account_id":"acct_1","timestamp":"2026-03-02T10:15:30.250Z"}""";

    public const string Maximal =
        """{"schema_version":"v1","id":"evt_2","source":"okta-main","platform":"okta","event_type":"password_reset","account_id":"acct_2","actor":{"id":"admin_1","ip":"2001:db8::1","user_agent":"Mozilla/5.0","country":"GB","device_id":"dev-9"},"timestamp":"2026-03-02T10:15:30.250Z","received_at":"2026-03-02T10:15:31.000Z","correlation_id":"cid-7","details":{"phase":"requested","channel":"email","attempt":2,"ratio":1.50,"flags":[true,null,{"k":"v"}]}}""";

    public static JsonObject MinimalObject() => JsonNode.Parse(Minimal)!.AsObject();

    public static JsonObject MaximalObject() => JsonNode.Parse(Maximal)!.AsObject();

    public static IReadOnlyList<EventSchemaError> Validate(string json)
    {
        using var document = JsonDocument.Parse(json);
        return EventSchema.Validate(document.RootElement);
    }

    public static IReadOnlyList<EventSchemaError> Validate(byte[] utf8)
    {
        using var document = JsonDocument.Parse(utf8);
        return EventSchema.Validate(document.RootElement);
    }

    public static NormalizedEvent Read(string json)
    {
        using var document = JsonDocument.Parse(json);
        EventJson.TryRead(document.RootElement, out var value, out var errors).ShouldBeTrue(string.Join("; ", errors));
        return value;
    }

    public static string Text(NormalizedEvent value) => Encoding.UTF8.GetString(EventJson.ToUtf8Bytes(value));
}
