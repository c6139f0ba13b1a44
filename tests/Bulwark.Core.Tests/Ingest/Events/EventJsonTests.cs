using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Ingest;

namespace Bulwark.Core.Tests.Ingest.Events;

public sealed class EventJsonTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 2, 10, 15, 30, 250, TimeSpan.Zero);

    [Fact]
    public void TryRead_MaximalEvent_ReadsEveryMember()
    {
        var value = EventSamples.Read(EventSamples.Maximal);

        value.Id.ShouldBe("evt_2");
        value.Source.ShouldBe("okta-main");
        value.Platform.ShouldBe("okta");
        value.EventType.ShouldBe("password_reset");
        value.AccountId.ShouldBe("acct_2");
        value.Actor.ShouldBe(new EventActor("admin_1", "2001:db8::1", "Mozilla/5.0", "GB", "dev-9"));
        value.Timestamp.ShouldBe(At);
        value.Timestamp.Offset.ShouldBe(TimeSpan.Zero);
        value.ReceivedAt.ShouldBe(new DateTimeOffset(2026, 3, 2, 10, 15, 31, TimeSpan.Zero));
        value.CorrelationId.ShouldBe("cid-7");
        value.Details!.ToJsonString().ShouldBe("""{"phase":"requested","channel":"email","attempt":2,"ratio":1.50,"flags":[true,null,{"k":"v"}]}""");
    }

    [Fact]
    public void TryRead_MinimalEvent_LeavesOptionalMembersNull()
    {
        var value = EventSamples.Read(EventSamples.Minimal);

        value.Actor.ShouldBeNull();
        value.ReceivedAt.ShouldBeNull();
        value.CorrelationId.ShouldBeNull();
        value.Details.ShouldBeNull();
    }

    [Theory]
    [InlineData("2026-03-02T11:15:30.250+01:00")]
    [InlineData("2026-03-02T05:45:30.250-04:30")]
    [InlineData("2026-03-02T10:15:30.250999Z")]
    [InlineData("2026-03-02t10:15:30.2509z")]
    public void TryRead_OffsetsAndFinerFractions_BecomeUtcMilliseconds(string timestamp)
    {
        var json = EventSamples.MinimalObject();
        json["timestamp"] = timestamp;

        var value = EventSamples.Read(json.ToJsonString());

        value.Timestamp.ShouldBe(At);
        value.Timestamp.Offset.ShouldBe(TimeSpan.Zero);
        EventSamples.Text(value).ShouldContain("\"timestamp\":\"2026-03-02T10:15:30.250Z\"");
    }

    [Fact]
    public void TryRead_NullOptionalMembers_ReadAsAbsent()
    {
        var value = EventSamples.Read("""
            {"schema_version":"v1","id":"e","source":"s","platform":"p","event_type":"session_new","account_id":"a",
             "actor":{"id":"a","ip":null,"user_agent":null,"country":null,"device_id":null},"timestamp":"2026-03-02T10:15:30.250Z","correlation_id":null}
            """);

        value.Actor.ShouldBe(new EventActor(Id: "a"));
        value.CorrelationId.ShouldBeNull();
        EventSamples.Text(value).ShouldBe("""{"schema_version":"v1","id":"e","source":"s","platform":"p","event_type":"session_new","account_id":"a","actor":{"id":"a"},"timestamp":"2026-03-02T10:15:30.250Z"}""");
    }

    [Fact]
    public void TryRead_InvalidEvent_ReturnsFalseWithEveryError()
    {
        using var document = JsonDocument.Parse("""{"schema_version":"v1","id":"e","extra":1}""");

        EventJson.TryRead(document.RootElement, out var value, out var errors).ShouldBeFalse();

        value.ShouldBeNull();
        errors.Select(e => e.Pointer).ShouldBe(["/extra", "/source", "/platform", "/event_type", "/account_id", "/timestamp"]);
    }

    [Fact]
    public void TryRead_ValidEvent_HasNoErrors()
    {
        using var document = JsonDocument.Parse(EventSamples.Minimal);

        EventJson.TryRead(document.RootElement, out _, out var errors).ShouldBeTrue();

        errors.ShouldBeEmpty();
    }

    [Fact]
    public void TryRead_DocumentDisposedAfterwards_DetailsStayReadable()
    {
        NormalizedEvent value;
        using (var document = JsonDocument.Parse(EventSamples.Maximal))
        {
            EventJson.TryRead(document.RootElement, out var read, out _).ShouldBeTrue();
            value = read;
        }

        value.Details!["flags"]![2]!["k"]!.GetValue<string>().ShouldBe("v");
        value.Details["ratio"]!.ToJsonString().ShouldBe("1.50");
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{} {}")]
    [InlineData("nul")]
    public void TryRead_Utf8NotOneJsonValue_ReportsTheWholeEvent(string text)
    {
        EventJson.TryRead(Encoding.UTF8.GetBytes(text), out var value, out var errors).ShouldBeFalse();

        value.ShouldBeNull();
        var error = errors.ShouldHaveSingleItem();
        error.Pointer.ShouldBe("");
        error.Message.ShouldStartWith("is not one JSON value");
    }

    [Fact]
    public void TryRead_Utf8WithWhiteSpaceAround_Reads()
    {
        EventJson.TryRead(Encoding.UTF8.GetBytes("  " + EventSamples.Minimal + "\n"), out var value, out _).ShouldBeTrue();

        value.Id.ShouldBe("evt_1");
    }

    [Fact]
    public void Write_MaximalEvent_UsesTheSchemaOrderAndMillisecondUtcTimestamps()
    {
        var value = new NormalizedEvent(
            "e1", "src", "x", "content_edit", "acct",
            new DateTimeOffset(2026, 3, 2, 11, 15, 30, 250, TimeSpan.FromHours(1)).AddTicks(9999),
            new EventActor(DeviceId: "d", Country: "FR", UserAgent: "ua é", Ip: "192.0.2.1", Id: "who"),
            new DateTimeOffset(2026, 3, 2, 10, 15, 31, TimeSpan.Zero),
            "cid",
            new JsonObject { ["z"] = 1, ["a"] = "b" });

        EventSamples.Text(value).ShouldBe(
            """{"schema_version":"v1","id":"e1","source":"src","platform":"x","event_type":"content_edit","account_id":"acct","actor":{"id":"who","ip":"192.0.2.1","user_agent":"ua é","country":"FR","device_id":"d"},"timestamp":"2026-03-02T10:15:30.250Z","received_at":"2026-03-02T10:15:31.000Z","correlation_id":"cid","details":{"z":1,"a":"b"}}""");
    }

    [Fact]
    public void Write_NullMembers_AreLeftOut()
    {
        var value = new NormalizedEvent("e1", "src", "x", "content_edit", "acct", At, new EventActor());

        EventSamples.Text(value).ShouldBe(
            """{"schema_version":"v1","id":"e1","source":"src","platform":"x","event_type":"content_edit","account_id":"acct","actor":{},"timestamp":"2026-03-02T10:15:30.250Z"}""");
    }

    [Fact]
    public void Write_ToACallersWriter_WritesTheSameAsToUtf8Bytes()
    {
        var value = EventSamples.Read(EventSamples.Maximal);
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            EventJson.Write(value, writer);
        }

        stream.ToArray().ShouldBe(EventJson.ToUtf8Bytes(value));
    }

    [Fact]
    public void ToJsonObject_Event_EqualsTheWrittenFormAndCopiesDetails()
    {
        var value = EventSamples.Read(EventSamples.Maximal);

        var first = EventJson.ToJsonObject(value);
        var second = EventJson.ToJsonObject(value);

        first.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })
            .ShouldBe(EventSamples.Text(value));
        first["details"].ShouldNotBeSameAs(value.Details);
        first["details"].ShouldNotBeSameAs(second["details"]);
    }

    [Fact]
    public void RoundTrip_ValidEvent_IsLossless()
    {
        var first = EventSamples.Read(EventSamples.Maximal);
        var text = EventSamples.Text(first);
        var second = EventSamples.Read(text);

        AssertSame(first, second);
        EventSamples.Text(second).ShouldBe(text);
        JsonNode.DeepEquals(JsonNode.Parse(text), JsonNode.Parse(EventSamples.Maximal)).ShouldBeTrue();
    }

    [Fact]
    public void RoundTrip_RandomValidEvents_AreLossless()
    {
        var random = new Random(20260302);
        for (var i = 0; i < 2000; i++)
        {
            var value = RandomEvent(random, i);
            EventSchema.Validate(value).ShouldBeEmpty($"event {i}");

            var text = EventSamples.Text(value);
            EventSamples.Validate(text).ShouldBeEmpty($"event {i}: {text}");
            var read = EventSamples.Read(text);

            AssertSame(value, read);
            EventSamples.Text(read).ShouldBe(text);
        }
    }

    internal static void AssertSame(NormalizedEvent expected, NormalizedEvent actual)
    {
        (actual with { Details = null }).ShouldBe(expected with { Details = null });
        JsonNode.DeepEquals(actual.Details, expected.Details).ShouldBeTrue();
    }

    private static NormalizedEvent RandomEvent(Random random, int i)
    {
        string Text(int min, int max)
        {
            const string Alphabet = "abcXYZ019 _-./:é日本😀\"\\\n\t";
            var length = random.Next(min, max + 1);
            var builder = new StringBuilder();
            while (EventText.CodePoints(builder.ToString()) < length)
            {
                var at = random.Next(Alphabet.Length);
                builder.Append(char.IsHighSurrogate(Alphabet[at]) ? Alphabet.Substring(at, 2) : char.IsLowSurrogate(Alphabet[at]) ? "z" : Alphabet[at].ToString());
            }

            return builder.ToString();
        }

        string? Maybe(int max) => random.Next(3) == 0 ? null : Text(0, max);
        var types = NormalizedEvent.CoreTypes;
        var eventType = random.Next(4) == 0 ? "x-" + new string('a', random.Next(1, 61)) : types[random.Next(types.Count)];
        var ticks = random.NextInt64(DateTimeOffset.MinValue.UtcTicks, DateTimeOffset.MaxValue.UtcTicks - TimeSpan.TicksPerDay);
        var timestamp = new DateTimeOffset(ticks - (ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
        var actor = random.Next(3) == 0 ? null : new EventActor(Maybe(200), Maybe(45), Maybe(1000), random.Next(2) == 0 ? null : "" + (char)('A' + random.Next(26)) + (char)('A' + random.Next(26)), Maybe(200));
        JsonObject? details = null;
        if (random.Next(3) != 0)
        {
            details = [];
            var count = random.Next(0, 65);
            for (var k = 0; k < count; k++)
            {
                details["k" + k + Text(0, 5)] = (random.Next(5)) switch
                {
                    0 => JsonValue.Create(Text(0, 20)),
                    1 => JsonValue.Create(random.NextInt64()),
                    2 => JsonValue.Create(random.Next(2) == 0),
                    3 => null,
                    _ => new JsonObject { ["n"] = new JsonArray(1, "two", null, new JsonObject()) },
                };
            }
        }

        return new NormalizedEvent(
            "id" + i + Text(0, 190), Text(1, 100), Text(1, 50), eventType, Text(1, 200), timestamp, actor,
            random.Next(2) == 0 ? null : timestamp.AddMilliseconds(random.Next(1000)), Maybe(200), details);
    }
}
