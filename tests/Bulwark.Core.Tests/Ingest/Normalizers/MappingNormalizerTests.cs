using System.Text.Json.Nodes;
using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Normalizers.NormalizerKit;

namespace Bulwark.Core.Tests.Ingest.Normalizers;

public sealed class MappingNormalizerTests
{
    /// <summary>A mapping for Okta-shaped bodies, as a source manifest would carry it.</summary>
    private static JsonObject OktaLike() => JsonNode.Parse("""
        {
          "items": "/data/events",
          "id": "/uuid",
          "timestamp": "/published",
          "account_id": "/target/0/id",
          "event_type": {"pointer": "/eventType", "map": {"user.account.reset_password": "password_reset", "user.session.start": "session_new"}, "default": "x-custom"},
          "platform": "okta-mapped",
          "correlation_id": "/transaction/id",
          "actor": {"id": "/actor/id", "ip": "/client/ipAddress", "user_agent": "/client/userAgent/rawUserAgent", "country": "/client/cc", "device_id": "/client/device"},
          "details": {"reason": "/outcome/reason", "outcome": "/outcome", "missing": "/not/there"}
        }
        """)!.AsObject();

    private const string OktaBody = """
        {"data":{"events":[
          {"uuid":"u1","published":"2026-03-02T09:00:00.5Z","eventType":"user.account.reset_password","target":[{"id":"00uT"}],"actor":{"id":"00uA"},
           "client":{"ipAddress":"198.51.100.7","userAgent":{"rawUserAgent":"UA"},"cc":"NL","device":"d1"},"transaction":{"id":"tx1"},"outcome":{"result":"SUCCESS","reason":"ok"}},
          {"uuid":"u2","published":1772442000,"eventType":"user.session.start","target":[{"id":"00uU"}]},
          {"uuid":"u3","published":1772442000123,"eventType":"app.thing","target":[{"id":7}]}]}}
        """;

    [Fact]
    public void Normalize_AMappingThatCopiesItsItemManyTimes_MakesAnIssueNotAnOversizedEvent()
    {
        // 64 details that each hold the whole item: a 5 KB item maps to an event of over 320 KB, refused before its
        // copies are built.
        var mapping = JsonNode.Parse("""{"id": "/id", "timestamp": "/t", "account_id": "/acct", "event_type": {"pointer": "/type", "default": "x-copied"}}""")!.AsObject();
        mapping["details"] = new JsonObject(Enumerable.Range(0, 64).Select(i => KeyValuePair.Create($"copy{i}", (JsonNode?)"")));
        var padding = new string('p', 5_000);
        var body = $$"""[{"id":"small","t":"2026-03-02T09:00:00Z","acct":"a"},{"id":"copied","t":"2026-03-02T09:00:00Z","acct":"a","pad":"{{padding}}"}]""";
        var small = Run("mapping", """[{"id":"small","t":"2026-03-02T09:00:00Z","acct":"a"}]""", mapping: mapping);

        var result = Run("mapping", body, mapping: mapping);

        Single(small).Id.ShouldBe("small");
        result.Events.Select(e => e.Id).ShouldBe(["small"]);
        var issue = result.Issues.ShouldHaveSingleItem();
        issue.Index.ShouldBe(1);
        issue.Reason.ShouldBe($"the event it maps to is too large: its details take over {4 * EventJson.MaxBytes} bytes of JSON as sent, and an event takes at most {EventJson.MaxBytes}");
    }

    [Fact]
    public void Normalize_AnEventJustOverTheLimitAsWritten_IsAnIssue_AndOneUnderItAsWrittenIsAnEvent()
    {
        // Text escaped as sent (\u0062 for b) is measured as written: 6 bytes a character as sent, 1 as written.
        var escaped = JsonNode.Parse("""{"id": "/id", "timestamp": "/t", "account_id": "/acct", "event_type": {"pointer": "/type", "default": "x-big"}, "details": {"blob": "/blob"}}""")!.AsObject();
        var sentLarge = $$"""{"id":"escaped","t":"2026-03-02T09:00:00Z","acct":"a","blob":"{{string.Concat(Enumerable.Repeat("\\u0062", 20_000))}}"}""";
        Single(Run("mapping", sentLarge, mapping: escaped)).Details!["blob"]!.GetValue<string>().Length.ShouldBe(20_000);

        // The detail alone is under the limit (65,402 bytes with its quotes); with the event's other fields it is over.
        var mapping = JsonNode.Parse("""{"id": "/id", "timestamp": "/t", "account_id": "/acct", "event_type": {"pointer": "/type", "default": "x-big"}, "details": {"blob": "/blob"}}""")!.AsObject();
        var body = $$"""{"id":"big","t":"2026-03-02T09:00:00Z","acct":"a","blob":"{{new string('b', 65_400)}}"}""";

        var issue = Run("mapping", body, mapping: mapping).Issues.ShouldHaveSingleItem();

        issue.Reason.ShouldStartWith("the event it maps to is too large: the event is 65");
        issue.Reason.ShouldEndWith($" bytes of JSON; one takes at most {EventJson.MaxBytes}");
    }

    [Fact]
    public void Normalize_OktaShapedBody_MapsEveryField()
    {
        var events = Clean(Run("mapping", OktaBody, mapping: OktaLike()));

        events.Select(e => (e.Id, e.EventType, e.AccountId)).ShouldBe([("u1", "password_reset", "00uT"), ("u2", "session_new", "00uU"), ("u3", "x-custom", "7")]);
        var first = events[0];
        first.Platform.ShouldBe("okta-mapped");
        first.Timestamp.ShouldBe(Utc("2026-03-02T09:00:00.500Z"));
        first.Actor.ShouldBe(new EventActor("00uA", "198.51.100.7", "UA", "NL", "d1"));
        first.CorrelationId.ShouldBe("tx1");
        Details(first).ShouldBe("""{"reason":"ok","outcome":{"result":"SUCCESS","reason":"ok"}}""");
        events[1].Timestamp.ShouldBe(DateTimeOffset.FromUnixTimeSeconds(1772442000));
        events[1].Actor.ShouldBeNull();
        events[1].Details.ShouldBeNull();
        events[2].Timestamp.ShouldBe(DateTimeOffset.FromUnixTimeMilliseconds(1772442000123));
    }

    [Fact]
    public void Normalize_NoItemsPointer_BodyIsOneItemOrAnArray()
    {
        var mapping = Simple();

        Single(Run("mapping", """{"id":"a","t":"2026-03-02T09:00:00Z","acct":"x"}""", mapping: mapping)).Id.ShouldBe("a");
        Clean(Run("mapping", """[{"id":"a","t":"2026-03-02T09:00:00Z","acct":"x"},{"id":"b","t":"2026-03-02T09:00:00Z","acct":"y"}]""", mapping: mapping))
            .Select(e => e.Id).ShouldBe(["a", "b"]);
    }

    [Fact]
    public void Normalize_ConstantEventType_AppliesToEveryItem()
    {
        var mapping = Simple();
        mapping["event_type"] = "token_rotated";

        Single(Run("mapping", """{"id":"a","t":"2026-03-02T09:00:00Z","acct":"x"}""", mapping: mapping)).EventType.ShouldBe("token_rotated");
    }

    [Theory]
    [InlineData("login_failed", null, "login_failed")]
    [InlineData("x-own.type", null, "x-own.type")]
    [InlineData("a.b", null, "password_reset")]
    [InlineData("unknown.thing", "x-fallback", "x-fallback")]
    [InlineData("a.b", "x-fallback", "password_reset")]
    public void Normalize_EventTypeByPointer_MapThenDefaultThenTheValueItself(string value, string? fallback, string expected)
    {
        var mapping = Simple();
        mapping["event_type"] = new JsonObject { ["pointer"] = "/type", ["map"] = new JsonObject { ["a.b"] = "password_reset" } };
        if (fallback is not null)
        {
            mapping["event_type"]!["default"] = fallback;
        }

        var body = $$$"""{"id":"a","t":"2026-03-02T09:00:00Z","acct":"x","type":"{{{value}}}"}""";

        Single(Run("mapping", body, mapping: mapping)).EventType.ShouldBe(expected);
    }

    [Fact]
    public void Normalize_EventTypeNotMappedAndNoDefault_IsAnIssue()
    {
        var mapping = Simple();
        mapping["event_type"] = new JsonObject { ["pointer"] = "/type" };

        var result = Run("mapping", """[{"id":"a","t":"2026-03-02T09:00:00Z","acct":"x","type":"weird"},{"id":"b","t":"2026-03-02T09:00:00Z","acct":"x"}]""", mapping: mapping);

        result.Issues.ShouldBe([
            new NormalizeIssue(0, "the event type 'weird' at /type is not in the mapping's map, not an event type itself, and the mapping has no default"),
            new NormalizeIssue(1, "no event type at /type, and the mapping has no default"),
        ]);
    }

    [Fact]
    public void Normalize_NoIdPointer_IdIsTheDeliveryIdAndTheIndex()
    {
        var mapping = Simple();
        mapping.Remove("id");

        Clean(Run("mapping", """[{"t":"2026-03-02T09:00:00Z","acct":"x"},{"t":"2026-03-02T09:00:00Z","acct":"y"}]""", mapping: mapping, deliveryId: "msg_2Lf"))
            .Select(e => e.Id).ShouldBe(["msg_2Lf:0", "msg_2Lf:1"]);
        Run("mapping", """{"t":"2026-03-02T09:00:00Z","acct":"x"}""", mapping: mapping).Issues
            .ShouldBe([new NormalizeIssue(0, "the mapping has no id and the delivery carries no delivery id to derive one from")]);
    }

    [Fact]
    public void Normalize_ItemsThatMapBadly_AreIssuesAndTheirNeighboursStillMap()
    {
        var mapping = Simple();
        mapping["actor"] = new JsonObject { ["country"] = "/cc" };
        const string Body = """
            [{"id":"ok","t":"2026-03-02T09:00:00Z","acct":"x","cc":"NL"},
             {"id":"country","t":"2026-03-02T09:00:00Z","acct":"x","cc":"Netherlands"},
             {"t":"2026-03-02T09:00:00Z","acct":"x"},
             {"id":"time","t":"02/03/2026","acct":"x"},
             {"id":"acct","t":"2026-03-02T09:00:00Z","acct":{"id":1}},
             {"id":"","t":"2026-03-02T09:00:00Z","acct":"x"},
             {"id":"cc-type","t":"2026-03-02T09:00:00Z","acct":"x","cc":["NL"]},
             "not an object"]
            """;

        var result = Run("mapping", Body, mapping: mapping);

        result.Events.ShouldHaveSingleItem().Id.ShouldBe("ok");
        result.Issues.ShouldBe([
            new NormalizeIssue(1, "the event it maps to is invalid: /actor/country: 'Netherlands' must be two upper-case letters (ISO 3166-1 alpha-2)"),
            new NormalizeIssue(2, "no id at /id"),
            new NormalizeIssue(3, "no timestamp at /t (an RFC 3339 date-time, or Unix seconds or milliseconds)"),
            new NormalizeIssue(4, "the account_id at /acct is an object, not a string or number"),
            new NormalizeIssue(5, "the event it maps to is invalid: /id: must not be empty"),
            new NormalizeIssue(6, "the actor.country at /cc is an array, not a string or number"),
            new NormalizeIssue(7, "no id at /id"),
        ]);
    }

    [Fact]
    public void Normalize_PlatformFromTheSourceWhenTheMappingHasNone()
    {
        Single(Run("mapping", """{"id":"a","t":"2026-03-02T09:00:00Z","acct":"x"}""", platform: "github", mapping: Simple())).Platform.ShouldBe("github");
        Single(Run("mapping", """{"id":"a","t":"2026-03-02T09:00:00Z","acct":"x"}""", mapping: Simple())).Platform.ShouldBe("internal");
    }

    [Fact]
    public void Normalize_NoMapping_Fails()
    {
        Run("mapping", "{}").Failure.ShouldBe("the source has no mapping: the mapping normalizer needs one in the source's manifest");
    }

    [Fact]
    public void Normalize_InvalidMapping_FailsWithItsErrors()
    {
        Run("mapping", "{}", mapping: new JsonObject { ["id"] = "uuid" }).Failure.ShouldBe(
            "the source's mapping is invalid: /id: 'uuid' is not a JSON Pointer: empty for the whole item, or /name/0/name with ~0 for ~ and ~1 for /; /timestamp: is required; /account_id: is required; /event_type: is required");
    }

    [Theory]
    [InlineData("""{"data":{"events":{}}}""")]
    [InlineData("""{"data":{}}""")]
    [InlineData("[]")]
    public void Normalize_ItemsPointerNotAnArray_Fails(string body)
    {
        Run("mapping", body, mapping: OktaLike()).Failure.ShouldBe("the mapping's items /data/events is not an array in this body");
    }

    [Fact]
    public void Normalize_ScalarBody_Fails()
    {
        Run("mapping", "12", mapping: Simple()).Failure.ShouldBe("the body must be a JSON object or an array of them, not a number");
    }

    private static JsonObject Simple() =>
        new() { ["id"] = "/id", ["timestamp"] = "/t", ["account_id"] = "/acct", ["event_type"] = "login_failed" };
}
