using System.Text.Json.Nodes;

namespace Bulwark.TestUtils;

/// <summary>Schema v1 events as JSON text, for tests that push them through <c>/v1/events</c> or a file.</summary>
public static class TestEvents
{
    /// <summary>One event from the <c>svc</c> source on the <c>internal</c> platform, with an actor IP and optional details.</summary>
    public static string Json(string id, string account, string ip, string type, string timestamp, JsonObject? details = null)
    {
        var value = new JsonObject
        {
            ["schema_version"] = "v1",
            ["id"] = id,
            ["source"] = "svc",
            ["platform"] = "internal",
            ["event_type"] = type,
            ["account_id"] = account,
            ["actor"] = new JsonObject { ["ip"] = ip },
            ["timestamp"] = timestamp,
        };
        if (details is not null)
        {
            value["details"] = details;
        }

        return value.ToJsonString();
    }
}
