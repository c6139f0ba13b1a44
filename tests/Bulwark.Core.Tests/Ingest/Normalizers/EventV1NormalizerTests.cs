using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Normalizers.NormalizerKit;

namespace Bulwark.Core.Tests.Ingest.Normalizers;

public sealed class EventV1NormalizerTests
{
    private static string Event(string id, string source = Source, string extra = "") =>
        $$"""{"schema_version":"v1","id":"{{id}}","source":"{{source}}","platform":"internal","event_type":"password_reset","account_id":"acct_1","timestamp":"2026-03-02T10:00:00.000+02:00","details":{"phase":"requested"}{{extra}}}""";

    [Fact]
    public void Normalize_OneEventObject_ReturnsItWithTheDeliverysReceivedAt()
    {
        var value = Single(Run("event-v1", Event("e1", extra: ",\"received_at\":\"2020-01-01T00:00:00Z\"")));

        value.Id.ShouldBe("e1");
        value.EventType.ShouldBe("password_reset");
        value.Timestamp.ShouldBe(Utc("2026-03-02T08:00:00Z"));
        value.ReceivedAt.ShouldBe(ReceivedAt);
        Details(value).ShouldBe("""{"phase":"requested"}""");
    }

    [Fact]
    public void Normalize_PrettyPrintedObject_IsOneEvent()
    {
        var body = """
            {
              "schema_version": "v1", "id": "e1", "source": "src-main", "platform": "internal",
              "event_type": "login_failed", "account_id": "a", "timestamp": "2026-03-02T10:00:00Z"
            }
            """;

        Single(Run("event-v1", body)).EventType.ShouldBe("login_failed");
    }

    [Fact]
    public void Normalize_Array_OneEventPerItemWithItsOwnId()
    {
        var events = Clean(Run("event-v1", $"[{Event("e1")},{Event("e2")},{Event("e3")}]"));

        events.Select(e => e.Id).ShouldBe(["e1", "e2", "e3"]);
    }

    [Fact]
    public void Normalize_JsonLines_OneEventPerLineBlankLinesIgnored()
    {
        var body = $"{Event("e1")}\r\n\n   \n{Event("e2")}\n{Event("e3")}\n\n";

        Clean(Run("event-v1", body)).Select(e => e.Id).ShouldBe(["e1", "e2", "e3"]);
    }

    [Fact]
    public void Normalize_AnItemOverTheEventSizeLimit_IsAnIssue_AndTheOthersAreEvents()
    {
        var big = Event("big").Replace("{\"phase\":\"requested\"}", $"{{\"blob\":\"{new string('x', EventJson.MaxBytes)}\"}}", StringComparison.Ordinal);

        var result = Run("event-v1", $"[{Event("e1")},{big},{Event("e3")}]");

        result.Events.Select(e => e.Id).ShouldBe(["e1", "e3"]);
        var issue = result.Issues.ShouldHaveSingleItem();
        issue.Index.ShouldBe(1);
        issue.Reason.ShouldBe($"the event is {System.Text.Encoding.UTF8.GetByteCount(big)} bytes of JSON; one takes at most {EventJson.MaxBytes}");
    }

    [Fact]
    public void Normalize_InvalidItems_IssuesWithTheirIndexAndEveryErrorJoined()
    {
        var broken = """{"schema_version":"v1","id":"","source":"src-main","platform":"internal","event_type":"nope","account_id":"a","timestamp":"2026-03-02T10:00:00Z"}""";

        var result = Run("event-v1", $"[{Event("e1")},{broken},{Event("e3")}]");

        result.Events.Select(e => e.Id).ShouldBe(["e1", "e3"]);
        var issue = result.Issues.ShouldHaveSingleItem();
        issue.Index.ShouldBe(1);
        issue.Reason.ShouldStartWith("not a valid v1 event: /id: must not be empty; /event_type: 'nope' must be a core event type");
        result.NeedsQuarantine.ShouldBeTrue();
    }

    [Fact]
    public void Normalize_EventOfAnotherSource_IsAnIssue()
    {
        var result = Run("event-v1", $"[{Event("e1", source: "other")},{Event("e2")}]");

        result.Events.ShouldHaveSingleItem().Id.ShouldBe("e2");
        result.Issues.ShouldBe([new NormalizeIssue(0, "its source 'other' is not the source it was delivered to, 'src-main'")]);
    }

    [Fact]
    public void Normalize_EventWithoutSource_IsAnIssue()
    {
        var body = """{"schema_version":"v1","id":"e1","platform":"internal","event_type":"login_failed","account_id":"a","timestamp":"2026-03-02T10:00:00Z"}""";

        var issue = Run("event-v1", body).Issues.ShouldHaveSingleItem();

        issue.ShouldBe(new NormalizeIssue(0, "not a valid v1 event: /source: is required"));
    }

    [Fact]
    public void Normalize_BrokenLineInJsonLines_IssueForThatLineOnly()
    {
        var result = Run("event-v1", $"{Event("e1")}\n{{\"schema_version\":\n{Event("e3")}\n[1]\n");

        result.Events.Select(e => e.Id).ShouldBe(["e1", "e3"]);
        result.Issues.Select(i => i.Index).ShouldBe([1, 3]);
        result.Issues[0].Reason.ShouldStartWith("line 2 is not JSON");
        result.Issues[1].Reason.ShouldBe("line 4 is an array, not a JSON object");
    }

    [Fact]
    public void Normalize_ArrayItemNotAnObject_IsAnIssue()
    {
        var result = Run("event-v1", $"[{Event("e1")}, 5]");

        result.Issues.ShouldBe([new NormalizeIssue(1, "not a valid v1 event: must be an object, not a number")]);
    }

    [Fact]
    public void Normalize_EventPlatform_IsKeptOverTheSources()
    {
        Single(Run("event-v1", Event("e1"), platform: "okta")).Platform.ShouldBe("internal");
    }
}
