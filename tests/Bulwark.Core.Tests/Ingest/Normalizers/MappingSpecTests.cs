using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Ingest;

namespace Bulwark.Core.Tests.Ingest.Normalizers;

public sealed class MappingSpecTests
{
    private static JsonObject Full() => JsonNode.Parse("""
        {
          "items": "/data/events", "id": "/uuid", "timestamp": "/published", "account_id": "/target/0/id",
          "event_type": {"pointer": "/eventType", "map": {"a.b": "password_reset", "c": "x-c"}, "default": "x-custom"},
          "platform": "okta", "correlation_id": "/transaction/id",
          "actor": {"id": "/actor/id", "ip": "/client/ip", "user_agent": "/client/ua", "country": "/geo/cc", "device_id": "/device"},
          "details": {"reason": "/outcome/reason", "whole": ""}
        }
        """)!.AsObject();

    [Fact]
    public void Validate_FullMapping_HasNoErrors() => MappingSpec.Validate(Full()).ShouldBeEmpty();

    [Fact]
    public void Validate_MinimalMapping_HasNoErrors() =>
        MappingSpec.Validate(new JsonObject { ["timestamp"] = "/t", ["account_id"] = "/a", ["event_type"] = "session_new" }).ShouldBeEmpty();

    public static TheoryData<string, string, string> BrokenMappings()
    {
        var data = new TheoryData<string, string, string>();
        void Case(Action<JsonObject> change, string path, string message)
        {
            var mapping = Full();
            change(mapping);
            data.Add(mapping.ToJsonString(), path, message);
        }

        Case(m => m.Remove("timestamp"), "/timestamp", "is required");
        Case(m => m.Remove("account_id"), "/account_id", "is required");
        Case(m => m.Remove("event_type"), "/event_type", "is required");
        Case(m => m["id"] = "uuid", "/id", "'uuid' is not a JSON Pointer");
        Case(m => m["items"] = "/a/~2", "/items", "'/a/~2' is not a JSON Pointer");
        Case(m => m["timestamp"] = 5, "/timestamp", "must be a string, not a number");
        Case(m => m["extra"] = 1, "/extra", "unknown field");
        Case(m => m["event_type"] = "Password", "/event_type", "'Password' must be a core event type");
        Case(m => m["event_type"] = 3, "/event_type", "must be an event type or an object {pointer, map, default}, not a number");
        Case(m => m["event_type"]!.AsObject().Remove("pointer"), "/event_type/pointer", "is required");
        Case(m => m["event_type"]!["default"] = "custom", "/event_type/default", "'custom' must be a core event type");
        Case(m => m["event_type"]!["map"]!["a/b"] = "nope", "/event_type/map/a~1b", "'nope' must be a core event type");
        Case(m => m["event_type"]!["map"]!["c"] = 1, "/event_type/map/c", "must be a string, not a number");
        Case(m => m["event_type"]!["other"] = 1, "/event_type/other", "unknown field");
        Case(m => m["platform"] = new string('p', 51), "/platform", "must be at most 50 characters");
        Case(m => m["platform"] = "", "/platform", "must not be empty");
        Case(m => m["actor"]!["name"] = "/n", "/actor/name", "unknown field");
        Case(m => m["actor"]!["ip"] = "ip", "/actor/ip", "'ip' is not a JSON Pointer");
        Case(m => m["actor"] = "/actor", "/actor", "must be an object, not a string");
        Case(m => m["details"]!["bad"] = "nope", "/details/bad", "'nope' is not a JSON Pointer");
        Case(m => m["details"]!["num"] = 1, "/details/num", "must be a string, not a number");
        Case(m => m["correlation_id"] = "x", "/correlation_id", "'x' is not a JSON Pointer");
        Case(m => m["details"] = Fields(65), "/details", "must have at most 64 fields, not 65");
        return data;
    }

    [Theory]
    [MemberData(nameof(BrokenMappings))]
    public void Validate_OneThingWrong_ReportsItsPathAndMessage(string mapping, string path, string message)
    {
        var error = MappingSpec.Validate(JsonNode.Parse(mapping)!.AsObject()).ShouldHaveSingleItem();

        error.Path.ShouldBe(path);
        error.Message.ShouldContain(message);
    }

    [Fact]
    public void Validate_ManyThingsWrong_ReportsEveryOne()
    {
        var mapping = new JsonObject { ["id"] = "x", ["event_type"] = new JsonObject { ["map"] = new JsonObject { ["k"] = "v" } }, ["more"] = true };

        MappingSpec.Validate(mapping).Select(e => e.Path).ShouldBe(["/id", "/timestamp", "/account_id", "/event_type/pointer", "/event_type/map/k", "/more"]);
    }

    [Theory]
    [InlineData("", """{"a":1}""", """{"a":1}""")]
    [InlineData("/a~1b/c~0d", """{"a/b":{"c~d":"found"}}""", "\"found\"")]
    [InlineData("/list/1", """{"list":["zero","one"]}""", "\"one\"")]
    [InlineData("/list/01", """{"list":["zero","one"]}""", null)]
    [InlineData("/list/2", """{"list":["zero","one"]}""", null)]
    [InlineData("/list/-", """{"list":["zero","one"]}""", null)]
    [InlineData("/a/b", """{"a":"text"}""", null)]
    [InlineData("/", """{"":"empty name"}""", "\"empty name\"")]
    public void JsonPointer_Resolve_FollowsRfc6901(string text, string json, string? expected)
    {
        using var document = JsonDocument.Parse(json);
        var parsed = JsonPointer.TryParse(text).ShouldNotBeNull();

        var found = parsed.TryResolve(document.RootElement, out var value);

        found.ShouldBe(expected is not null);
        if (expected is not null)
        {
            value.GetRawText().ShouldBe(expected);
        }
    }

    private static JsonObject Fields(int count)
    {
        var result = new JsonObject();
        for (var i = 0; i < count; i++)
        {
            result["f" + i] = "/f" + i;
        }

        return result;
    }
}
