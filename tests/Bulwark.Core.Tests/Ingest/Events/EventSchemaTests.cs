using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Ingest;

namespace Bulwark.Core.Tests.Ingest.Events;

public sealed class EventSchemaTests
{
    [Fact]
    public void Validate_MinimalEvent_HasNoErrors() =>
        EventSamples.Validate(EventSamples.Minimal).ShouldBeEmpty();

    [Fact]
    public void Validate_MaximalEvent_HasNoErrors() =>
        EventSamples.Validate(EventSamples.Maximal).ShouldBeEmpty();

    [Fact]
    public void Validate_NullWhereTheSchemaAllowsIt_HasNoErrors()
    {
        var json = EventSamples.MinimalObject();
        json["actor"] = new JsonObject { ["id"] = null, ["ip"] = null, ["user_agent"] = null, ["country"] = null, ["device_id"] = null };
        json["correlation_id"] = null;
        json["details"] = new JsonObject();

        EventSamples.Validate(json.ToJsonString()).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("2026-03-02T10:15:30Z")]
    [InlineData("2026-03-02T10:15:30.1Z")]
    [InlineData("2026-03-02T10:15:30.123456789Z")]
    [InlineData("2026-03-02t10:15:30z")]
    [InlineData("2026-03-02T10:15:30+01:00")]
    [InlineData("2026-03-02T10:15:30.5-23:59")]
    [InlineData("2024-02-29T23:59:59Z")]
    [InlineData("0001-01-01T00:00:00Z")]
    [InlineData("9999-12-31T23:59:59.999Z")]
    public void Validate_Rfc3339DateTimes_AreAccepted(string timestamp)
    {
        var json = EventSamples.MinimalObject();
        json["timestamp"] = timestamp;
        json["received_at"] = timestamp;

        EventSamples.Validate(json.ToJsonString()).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("2026-03-02T10:15:30")]
    [InlineData("2026-03-02 10:15:30Z")]
    [InlineData("2026-03-02")]
    [InlineData("2026-03-02T10:15Z")]
    [InlineData("2026-02-30T10:15:30Z")]
    [InlineData("2025-02-29T10:15:30Z")]
    [InlineData("2026-13-02T10:15:30Z")]
    [InlineData("2026-03-02T24:00:00Z")]
    [InlineData("2026-03-02T23:60:00Z")]
    [InlineData("2026-12-31T23:59:60Z")]
    [InlineData("2026-03-02T10:15:30.Z")]
    [InlineData("2026-03-02T10:15:30+0100")]
    [InlineData("2026-03-02T10:15:30+24:00")]
    [InlineData("2026-03-02T10:15:30Z ")]
    [InlineData("0000-01-01T00:00:00Z")]
    [InlineData("0001-01-01T00:00:00+00:01")]
    [InlineData("9999-12-31T23:59:59-00:01")]
    [InlineData("1773746130")]
    [InlineData("")]
    public void Validate_NotAnRfc3339DateTimeWithZone_ReportsTheTimestamp(string timestamp)
    {
        var json = EventSamples.MinimalObject();
        json["timestamp"] = timestamp;

        var error = EventSamples.Validate(json.ToJsonString()).ShouldHaveSingleItem();

        error.Pointer.ShouldBe("/timestamp");
        error.Message.ShouldContain("must be an RFC 3339 date-time with a time zone");
    }

    public static TheoryData<string, string, string> BrokenRules()
    {
        var data = new TheoryData<string, string, string>();
        void Case(Action<JsonObject> change, string at, string message, bool maximal = false)
        {
            var json = maximal ? EventSamples.MaximalObject() : EventSamples.MinimalObject();
            change(json);
            data.Add(json.ToJsonString(), at, message);
        }

        foreach (var required in new[] { "schema_version", "id", "source", "platform", "event_type", "account_id", "timestamp" })
        {
            Case(j => j.Remove(required), "/" + required, "is required");
        }

        Case(j => j["extra"] = 1, "/extra", "unknown field");
        Case(j => j["a/b~c"] = 1, "/a~1b~0c", "unknown field");
        Case(j => j["actor"] = new JsonObject { ["name"] = "x" }, "/actor/name", "unknown field");
        Case(j => j["schema_version"] = "v2", "/schema_version", "must be \"v1\"");
        Case(j => j["schema_version"] = 1, "/schema_version", "must be \"v1\"");
        Case(j => j["id"] = "", "/id", "must not be empty");
        Case(j => j["id"] = new string('a', 201), "/id", "must be at most 200 characters, not 201");
        Case(j => j["id"] = 7, "/id", "must be a string, not a number");
        Case(j => j["id"] = null, "/id", "must be a string, not null");
        Case(j => j["source"] = new string('s', 101), "/source", "must be at most 100 characters, not 101");
        Case(j => j["source"] = "", "/source", "must not be empty");
        Case(j => j["platform"] = new string('p', 51), "/platform", "must be at most 50 characters, not 51");
        Case(j => j["platform"] = new JsonArray(), "/platform", "must be a string, not an array");
        Case(j => j["account_id"] = new string('a', 201), "/account_id", "must be at most 200 characters, not 201");
        Case(j => j["account_id"] = "", "/account_id", "must not be empty");
        Case(j => j["event_type"] = "password-reset", "/event_type", "'password-reset' must be a core event type");
        Case(j => j["event_type"] = "x-", "/event_type", "or a custom type matching ^x-[a-z0-9_.-]{1,60}$");
        Case(j => j["event_type"] = "x-Upper", "/event_type", "'x-Upper' must be a core event type");
        Case(j => j["event_type"] = "x-" + new string('a', 61), "/event_type", "must be a core event type");
        Case(j => j["event_type"] = "x-ok\n", "/event_type", "must be a core event type");
        Case(j => j["event_type"] = "x-a b", "/event_type", "must be a core event type");
        Case(j => j["event_type"] = true, "/event_type", "must be a string, not a boolean");
        Case(j => j["actor"] = null, "/actor", "must be an object, not null");
        Case(j => j["actor"] = "admin", "/actor", "must be an object, not a string");
        Case(j => j["actor"]!["id"] = new string('i', 201), "/actor/id", "must be at most 200 characters, not 201", maximal: true);
        Case(j => j["actor"]!["ip"] = new string('1', 46), "/actor/ip", "must be at most 45 characters, not 46", maximal: true);
        Case(j => j["actor"]!["user_agent"] = new string('u', 1001), "/actor/user_agent", "must be at most 1000 characters, not 1001", maximal: true);
        Case(j => j["actor"]!["device_id"] = new string('d', 201), "/actor/device_id", "must be at most 200 characters, not 201", maximal: true);
        Case(j => j["actor"]!["country"] = "gb", "/actor/country", "'gb' must be two upper-case letters (ISO 3166-1 alpha-2)", maximal: true);
        Case(j => j["actor"]!["country"] = "GBR", "/actor/country", "'GBR' must be two upper-case letters", maximal: true);
        Case(j => j["actor"]!["country"] = "G", "/actor/country", "must be two upper-case letters", maximal: true);
        Case(j => j["actor"]!["country"] = 44, "/actor/country", "must be a string or null, not a number", maximal: true);
        Case(j => j["actor"]!["ip"] = false, "/actor/ip", "must be a string or null, not a boolean", maximal: true);
        Case(j => j["timestamp"] = 1773746130, "/timestamp", "must be a string, not a number");
        Case(j => j["received_at"] = "yesterday", "/received_at", "must be an RFC 3339 date-time with a time zone");
        Case(j => j["received_at"] = null, "/received_at", "must be a string, not null");
        Case(j => j["correlation_id"] = new string('c', 201), "/correlation_id", "must be at most 200 characters, not 201");
        Case(j => j["correlation_id"] = 5, "/correlation_id", "must be a string or null, not a number");
        Case(j => j["details"] = new JsonArray(), "/details", "must be an object, not an array");
        Case(j => j["details"] = null, "/details", "must be an object, not null");
        Case(j => j["details"] = ManyProperties(65), "/details", "must have at most 64 properties, not 65");
        return data;
    }

    [Theory]
    [MemberData(nameof(BrokenRules))]
    public void Validate_OneRuleBroken_ReportsItsPointerAndMessage(string json, string at, string message)
    {
        var error = EventSamples.Validate(json).ShouldHaveSingleItem();

        error.Pointer.ShouldBe(at);
        error.Message.ShouldContain(message);
    }

    [Fact]
    public void Validate_DetailsWith64Properties_HasNoErrors()
    {
        var json = EventSamples.MinimalObject();
        json["details"] = ManyProperties(64);

        EventSamples.Validate(json.ToJsonString()).ShouldBeEmpty();
    }

    [Fact]
    public void Validate_NotAnObject_ReportsTheWholeEvent()
    {
        var error = EventSamples.Validate("[1]").ShouldHaveSingleItem();

        error.ShouldBe(new EventSchemaError("", "must be an object, not an array"));
    }

    [Fact]
    public void Validate_LengthsCountCodePoints_NotUtf16Units()
    {
        var json = EventSamples.MinimalObject();
        json["id"] = string.Concat(Enumerable.Repeat("😀", 200));
        EventSamples.Validate(json.ToJsonString()).ShouldBeEmpty();

        json["id"] = string.Concat(Enumerable.Repeat("😀", 201));
        EventSamples.Validate(json.ToJsonString()).ShouldHaveSingleItem().Message.ShouldBe("must be at most 200 characters, not 201");
    }

    [Fact]
    public void Validate_MemberTwice_ReportsTheSecond()
    {
        var json = EventSamples.Minimal.Replace("\"id\":\"evt_1\",", "\"id\":\"evt_1\",\"id\":\"evt_2\",", StringComparison.Ordinal);

        EventSamples.Validate(json).ShouldHaveSingleItem().ShouldBe(new EventSchemaError("/id", "appears more than once"));
    }

    [Fact]
    public void Validate_ActorMemberTwice_ReportsIt()
    {
        var json = EventSamples.Maximal.Replace("\"ip\":\"2001:db8::1\"", "\"ip\":\"2001:db8::1\",\"ip\":\"192.0.2.1\"", StringComparison.Ordinal);

        EventSamples.Validate(json).ShouldHaveSingleItem().ShouldBe(new EventSchemaError("/actor/ip", "appears more than once"));
    }

    [Fact]
    public void Validate_NestedDetailsNameTwice_ReportsItsPointer()
    {
        var json = EventSamples.Maximal.Replace("{\"k\":\"v\"}", "{\"k\":\"v\",\"k\":\"w\"}", StringComparison.Ordinal);

        EventSamples.Validate(json).ShouldHaveSingleItem().ShouldBe(new EventSchemaError("/details/flags/2/k", "appears more than once"));
    }

    [Fact]
    public void Validate_DetailsNameTwiceAmongMany_ReportsIt()
    {
        var details = ManyProperties(20).ToJsonString().Replace("\"p19\"", "\"p3\"", StringComparison.Ordinal);
        var json = EventSamples.Minimal[..^1] + ",\"details\":" + details + "}";

        EventSamples.Validate(json).ShouldHaveSingleItem().ShouldBe(new EventSchemaError("/details/p3", "appears more than once"));
    }

    [Fact]
    public void Validate_InvalidUtf8InAString_ReportsItsPointer()
    {
        var bytes = Encoding.UTF8.GetBytes(EventSamples.Maximal.Replace("evt_2", "evt_X", StringComparison.Ordinal).Replace("\"v\"}", "\"V\"}", StringComparison.Ordinal));
        bytes[Array.IndexOf(bytes, (byte)'X')] = 0xFF;
        bytes[Array.IndexOf(bytes, (byte)'V')] = 0xC0;

        var errors = EventSamples.Validate(bytes);

        errors.ShouldBe([
            new EventSchemaError("/id", "is not valid Unicode text"),
            new EventSchemaError("/details/flags/2/k", "is not valid Unicode text"),
        ]);
    }

    [Fact]
    public void Validate_InvalidUtf8InADetailsArray_ReportsTheItemsPointer()
    {
        var bytes = Encoding.UTF8.GetBytes(EventSamples.Minimal[..^1] + ",\"details\":{\"list\":[\"ok\",\"#\"],\"n#\":1}}");
        bytes[Array.IndexOf(bytes, (byte)'#')] = 0xFE;
        bytes[Array.LastIndexOf(bytes, (byte)'#')] = 0xFE;

        EventSamples.Validate(bytes).ShouldBe([
            new EventSchemaError("/details/list/1", "is not valid Unicode text"),
            new EventSchemaError("/details", "has a member name that is not valid Unicode text"),
        ]);
    }

    [Fact]
    public void Validate_LoneSurrogateEscape_ReportsIt()
    {
        var json = EventSamples.Minimal.Replace("acct_1", "acct\\ud800", StringComparison.Ordinal);

        EventSamples.Validate(json).ShouldHaveSingleItem().ShouldBe(new EventSchemaError("/account_id", "is not valid Unicode text"));
    }

    [Fact]
    public void Validate_DetailsNestedDeeperThanTheLimit_ReportsIt()
    {
        var nested = new StringBuilder();
        for (var i = 0; i < 70; i++)
        {
            nested.Append("{\"a\":");
        }

        nested.Append('1').Append('}', 70);
        var json = EventSamples.Minimal[..^1] + ",\"details\":" + nested + "}";
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 200 });

        var error = EventSchema.Validate(document.RootElement).ShouldHaveSingleItem();

        error.Message.ShouldBe("nests deeper than 64 levels");
        error.Pointer.ShouldStartWith("/details/a/a/");
    }

    [Fact]
    public void Validate_ManyErrors_ReportsEveryOneInDocumentOrderWithMissingMembersLast()
    {
        const string json = """
            {"schema_version":"v0","id":"","source":"s","platform":7,"event_type":"nope","extra":true,
             "actor":{"country":"uk","ip":null,"nick":"n"},"timestamp":"2026-03-02","details":[]}
            """;

        EventSamples.Validate(json).Select(e => e.ToString()).ShouldBe([
            "/schema_version: must be \"v1\"",
            "/id: must not be empty",
            "/platform: must be a string, not a number",
            "/event_type: 'nope' " + "must be a core event type (password_reset, account_changed, session_new, token_rotated, login_failed, login_succeeded, policy_flag, content_edit, mfa_changed, session_revoked) or a custom type matching ^x-[a-z0-9_.-]{1,60}$",
            "/extra: unknown field",
            "/actor/country: 'uk' must be two upper-case letters (ISO 3166-1 alpha-2)",
            "/actor/nick: unknown field",
            "/timestamp: '2026-03-02' must be an RFC 3339 date-time with a time zone, such as 2026-03-02T10:15:30.250Z or 2026-03-02T11:15:30+01:00",
            "/details: must be an object, not an array",
            "/account_id: is required",
        ]);
    }

    [Fact]
    public void Validate_NormalizedEvent_AgreesWithTheJsonForm()
    {
        var valid = EventSamples.Read(EventSamples.Maximal);
        EventSchema.Validate(valid).ShouldBeEmpty();

        var broken = valid with
        {
            Id = "",
            Source = new string('s', 101),
            EventType = "Password_Reset",
            Actor = new EventActor(Country: "us", UserAgent: new string('u', 1001)),
            CorrelationId = new string('c', 201),
            Details = ManyProperties(65),
        };

        var fromObject = EventSchema.Validate(broken);
        var fromJson = EventSamples.Validate(EventSamples.Text(broken));

        fromObject.Select(e => e.Pointer).ShouldBe(["/id", "/source", "/event_type", "/actor/user_agent", "/actor/country", "/correlation_id", "/details"]);
        fromJson.Select(e => e.Pointer).ShouldBe(fromObject.Select(e => e.Pointer), ignoreOrder: true);
    }

    [Fact]
    public void Validate_NormalizedEventWithNullRequiredStrings_ReportsThemRequired()
    {
        var value = new NormalizedEvent(null!, null!, null!, null!, null!, default);

        EventSchema.Validate(value).Select(e => e.ToString()).ShouldBe([
            "/id: is required", "/source: is required", "/platform: is required", "/event_type: is required", "/account_id: is required",
        ]);
    }

    [Theory]
    [InlineData("password_reset", true)]
    [InlineData("session_revoked", true)]
    [InlineData("x-okta.user.account.lock", true)]
    [InlineData("x-a", true)]
    [InlineData("x-", false)]
    [InlineData("X-a", false)]
    [InlineData("x-a/b", false)]
    [InlineData("login", false)]
    [InlineData(null, false)]
    public void IsEventType_Candidates_FollowTheSchema(string? value, bool expected) =>
        EventSchema.IsEventType(value).ShouldBe(expected);

    [Fact]
    public void IsEventType_EveryCoreType_IsValid()
    {
        foreach (var type in NormalizedEvent.CoreTypes)
        {
            EventSchema.IsEventType(type).ShouldBeTrue(type);
        }
    }

    [Fact]
    public void SchemaFile_RulesUsedHere_MatchTheCommittedSchema()
    {
        var schema = JsonNode.Parse(File.ReadAllText(FindSchema()))!;
        var properties = schema["properties"]!;

        schema["required"]!.AsArray().Select(n => n!.GetValue<string>()).ShouldBe(["schema_version", "id", "source", "platform", "event_type", "account_id", "timestamp"]);
        properties.AsObject().Select(p => p.Key).ShouldBe(["schema_version", "id", "source", "platform", "event_type", "account_id", "actor", "timestamp", "received_at", "correlation_id", "details"]);
        properties["event_type"]!["anyOf"]![0]!["enum"]!.AsArray().Select(n => n!.GetValue<string>()).ShouldBe(NormalizedEvent.CoreTypes);
        properties["event_type"]!["anyOf"]![1]!["pattern"]!.GetValue<string>().ShouldBe("^x-[a-z0-9_.-]{1,60}$");
        properties["actor"]!["properties"]!["country"]!["pattern"]!.GetValue<string>().ShouldBe("^[A-Z]{2}$");
        properties["details"]!["maxProperties"]!.GetValue<int>().ShouldBe(64);
        properties["id"]!["maxLength"]!.GetValue<int>().ShouldBe(200);
        properties["source"]!["maxLength"]!.GetValue<int>().ShouldBe(100);
        properties["platform"]!["maxLength"]!.GetValue<int>().ShouldBe(50);
        properties["actor"]!["properties"]!["ip"]!["maxLength"]!.GetValue<int>().ShouldBe(45);
        properties["actor"]!["properties"]!["user_agent"]!["maxLength"]!.GetValue<int>().ShouldBe(1000);
    }

    private static JsonObject ManyProperties(int count)
    {
        var result = new JsonObject();
        for (var i = 0; i < count; i++)
        {
            result["p" + i] = i;
        }

        return result;
    }

    private static string FindSchema()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "schemas", "event-v1.schema.json");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("schemas/event-v1.schema.json not found above the test directory");
    }
}
