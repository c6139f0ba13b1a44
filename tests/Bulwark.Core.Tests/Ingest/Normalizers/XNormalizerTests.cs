using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Normalizers.NormalizerKit;

namespace Bulwark.Core.Tests.Ingest.Normalizers;

public sealed class XNormalizerTests
{
    [Fact]
    public void Normalize_TweetCreateEvents_ContentEditPerTweet()
    {
        const string Body = """
            {"for_user_id":"2244994945","user_has_blocked":false,"tweet_create_events":[
              {"created_at":"Mon Mar 02 09:00:00 +0000 2026","id":1764000000000000001,"id_str":"1764000000000000001","text":"hello","user":{"id":2244994945,"id_str":"2244994945","screen_name":"dev"},"timestamp_ms":"1772442000123"},
              {"created_at":"Mon Mar 02 09:01:00 +0000 2026","id":1764000000000000002,"id_str":"1764000000000000002","text":"again","user":{"id":2244994945,"id_str":"2244994945"},"timestamp_ms":"1772442060000"}]}
            """;

        var events = Clean(Run("x", Body));

        events.Select(e => e.Id).ShouldBe(["2244994945:tweet_create_events:1764000000000000001", "2244994945:tweet_create_events:1764000000000000002"]);
        events.ShouldAllBe(e => e.EventType == "content_edit" && e.AccountId == "2244994945" && e.Platform == "x");
        events[0].Timestamp.ShouldBe(DateTimeOffset.FromUnixTimeMilliseconds(1772442000123));
        events[0].Actor.ShouldBe(new EventActor(Id: "2244994945"));
        Details(events[0]).ShouldBe("""{"source_type":"tweet_create_events","tweet_id":"1764000000000000001"}""");
    }

    [Fact]
    public void Normalize_UserEventRevoke_SessionRevoked()
    {
        const string Body = """
            {"for_user_id":"63046977","user_event":{"revoke":{"date_time":"2018-05-24T09:48:12+00:00","target":{"app_id":"13090192"},"source":{"user_id":"63046977"}}}}
            """;

        var value = Single(Run("x", Body));

        value.EventType.ShouldBe("session_revoked");
        value.AccountId.ShouldBe("63046977");
        value.Timestamp.ShouldBe(Utc("2018-05-24T09:48:12Z"));
        value.Actor.ShouldBe(new EventActor(Id: "63046977"));
        value.Id.ShouldStartWith("63046977:user_event.revoke:0:");
        Details(value).ShouldBe("""{"source_type":"user_event.revoke","app_id":"13090192"}""");
    }

    [Theory]
    [InlineData("tweet_create_events", "content_edit", """{"source_type":"tweet_create_events","tweet_id":"77"}""")]
    [InlineData("tweet_delete_events", "policy_flag", """{"source_type":"tweet_delete_events","policy":"tweet_delete","action":"delete"}""")]
    [InlineData("tweet_withheld", "policy_flag", """{"source_type":"tweet_withheld","policy":"tweet_withheld","action":"withheld"}""")]
    [InlineData("tweet_drop_events", "policy_flag", """{"source_type":"tweet_drop_events","policy":"tweet_drop","action":"drop"}""")]
    [InlineData("user_suspend", "policy_flag", """{"source_type":"user_suspend","policy":"user_suspend","action":"suspend"}""")]
    [InlineData("user_suspend_events", "policy_flag", """{"source_type":"user_suspend_events","policy":"user_suspend","action":"suspend"}""")]
    [InlineData("user_unsuspend", "policy_flag", """{"source_type":"user_unsuspend","policy":"user_unsuspend","action":"unsuspend"}""")]
    [InlineData("user_withheld", "policy_flag", """{"source_type":"user_withheld","policy":"user_withheld","action":"withheld"}""")]
    [InlineData("user_delete", "policy_flag", """{"source_type":"user_delete","policy":"user_delete","action":"delete"}""")]
    [InlineData("user_profile_modification", "account_changed", """{"source_type":"user_profile_modification","field":"profile"}""")]
    [InlineData("favorite_events", "x-x.favorite_events", """{"source_type":"favorite_events"}""")]
    [InlineData("follow_events", "x-x.follow_events", """{"source_type":"follow_events"}""")]
    [InlineData("block_events", "x-x.block_events", """{"source_type":"block_events"}""")]
    [InlineData("mute_events", "x-x.mute_events", """{"source_type":"mute_events"}""")]
    [InlineData("direct_message_events", "x-x.direct_message_events", """{"source_type":"direct_message_events"}""")]
    [InlineData("SomethingNew", "x-x.somethingnew", """{"source_type":"SomethingNew"}""")]
    public void Normalize_ArrayName_MapsAsTheTableSays(string name, string expectedType, string expectedDetails)
    {
        var body = $$$"""{"for_user_id":"1","{{{name}}}":[{"id":"77","created_timestamp":"1772442000000"}]}""";

        var value = Single(Run("x", body));

        value.EventType.ShouldBe(expectedType);
        Details(value).ShouldBe(expectedDetails);
        value.Id.ShouldBe($"1:{name}:77");
    }

    [Fact]
    public void Normalize_UnknownUserEvent_IsCustom()
    {
        var value = Single(Run("x", """{"for_user_id":"1","user_event":{"grant":{"date_time":"2018-05-24T09:48:12Z"}}}"""));

        value.EventType.ShouldBe("x-x.user_event.grant");
    }

    [Fact]
    public void Normalize_ItemsWithoutIds_DerivedIdsAreDeterministicAndDistinct()
    {
        const string Body = """
            {"for_user_id":"3198576760","tweet_delete_events":[
              {"status":{"id":"601430178305220608","user_id":"3198576760"},"timestamp_ms":"1432228155593"},
              {"status":{"id":"601430178305220609","user_id":"3198576760"},"timestamp_ms":"1432228155593"}]}
            """;

        var first = Clean(Run("x", Body)).Select(e => e.Id).ToList();
        var second = Clean(Run("x", Body)).Select(e => e.Id).ToList();

        first.ShouldBe(second);
        first.Distinct().Count().ShouldBe(2);
        first[0].ShouldMatch("^3198576760:tweet_delete_events:0:[0-9a-f]{32}$");
        first[1].ShouldMatch("^3198576760:tweet_delete_events:1:[0-9a-f]{32}$");
    }

    [Fact]
    public void Normalize_DirectMessages_LookupTablesAreNotEvents()
    {
        const string Body = """
            {"for_user_id":"4337869213","direct_message_events":[{"type":"message_create","id":"954491830116155396","created_timestamp":"1516403560557","message_create":{"target":{"recipient_id":"4337869213"},"sender_id":"3001969357","message_data":{"text":"Hello"}}}],
             "apps":{"13090192":{"id":"13090192","name":"FuriousCamperTestApp1"}},"users":{"3001969357":{"id":"3001969357","name":"Jordan"}}}
            """;

        var value = Single(Run("x", Body));

        value.Id.ShouldBe("4337869213:direct_message_events:954491830116155396");
        value.Timestamp.ShouldBe(DateTimeOffset.FromUnixTimeMilliseconds(1516403560557));
    }

    [Theory]
    [InlineData("""{"timestamp_ms":1772442000123}""", "2026-03-02T09:00:00.123Z")]
    [InlineData("""{"timestamp_ms":"1772442000123"}""", "2026-03-02T09:00:00.123Z")]
    [InlineData("""{"created_timestamp":"1772442000123"}""", "2026-03-02T09:00:00.123Z")]
    [InlineData("""{"event_at":"2026-03-02T10:00:00.123+01:00"}""", "2026-03-02T09:00:00.123Z")]
    [InlineData("""{"created_at":"Mon Mar 02 09:00:00 +0000 2026"}""", "2026-03-02T09:00:00.000Z")]
    [InlineData("""{"created_at":"2026-03-02T09:00:00.123Z"}""", "2026-03-02T09:00:00.123Z")]
    [InlineData("""{"text":"no time at all"}""", "2026-03-02T12:00:00.123Z")]
    public void Normalize_ItemTime_ReadFromWhicheverFieldIsThere(string item, string expected)
    {
        Single(Run("x", $$$"""{"for_user_id":"1","favorite_events":[{{{item}}}]}""")).Timestamp.ShouldBe(Utc(expected));
    }

    [Fact]
    public void Normalize_UnreadableTimesAndNonObjects_AreIssuesNumberedAcrossArrays()
    {
        const string Body = """
            {"for_user_id":"1","follow_events":[{"id":"a"},{"id":"b","created_timestamp":"yesterday"}],"block_events":[3,{"id":"c","created_at":"soon"}]}
            """;

        var result = Run("x", Body);

        result.Events.ShouldHaveSingleItem().Id.ShouldBe("1:follow_events:a");
        result.Issues.ShouldBe([
            new NormalizeIssue(1, "the item's time 'yesterday' cannot be read"),
            new NormalizeIssue(2, "the block_events item is a number, not an object"),
            new NormalizeIssue(3, "the item's time 'soon' cannot be read"),
        ]);
    }

    [Theory]
    [InlineData("""{"tweet_create_events":[]}""", "the X body has no for_user_id")]
    [InlineData("""{"for_user_id":{"id":1}}""", "the X body has no for_user_id")]
    [InlineData("[]", "an X body is a JSON object, not an array")]
    public void Normalize_BodyNotAnAccountActivityDelivery_Fails(string body, string failure)
    {
        Run("x", body).Failure.ShouldBe(failure);
    }

    [Fact]
    public void Normalize_NumericForUserId_IsTheAccount()
    {
        Single(Run("x", """{"for_user_id":2244994945,"favorite_events":[{"id":"f1"}]}""")).AccountId.ShouldBe("2244994945");
    }
}
