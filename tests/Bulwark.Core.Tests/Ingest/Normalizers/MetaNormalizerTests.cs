using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Normalizers.NormalizerKit;

namespace Bulwark.Core.Tests.Ingest.Normalizers;

public sealed class MetaNormalizerTests
{
    [Fact]
    public void Normalize_InstagramBatch_OneEventPerChangeAcrossEntries()
    {
        const string Body = """
            {"object":"instagram","entry":[
              {"id":"17841405822304914","time":1772442900,"changes":[
                {"field":"comments","value":{"id":"17865799348089039","text":"nice","from":{"id":"17841400000000001","username":"someone"},"media":{"id":"1786","media_product_type":"FEED"}}},
                {"field":"username","value":{"username":"new_name"}}]},
              {"id":"17841405822304999","time":1772442960,"changes":[
                {"field":"mentions","value":{"media_id":"1795","comment_id":"1790"}},
                {"field":"integrity_enforcement","value":{"action":"content_removed","policy":"spam"}},
                {"field":"mentions","value":{"media_id":"1796","comment_id":"1791"}}]}]}
            """;

        var events = Clean(Run("meta", Body));

        events.Select(e => e.Id).ShouldBe([
            "17841405822304914:1772442900:comments:17865799348089039",
            "17841405822304914:1772442900:username:1:" + Sha("""{"field":"username","value":{"username":"new_name"}}"""),
            "17841405822304999:1772442960:mentions:0:" + Sha("""{"field":"mentions","value":{"media_id":"1795","comment_id":"1790"}}"""),
            "17841405822304999:1772442960:integrity_enforcement:1:" + Sha("""{"field":"integrity_enforcement","value":{"action":"content_removed","policy":"spam"}}"""),
            "17841405822304999:1772442960:mentions:2:" + Sha("""{"field":"mentions","value":{"media_id":"1796","comment_id":"1791"}}"""),
        ]);
        events.ShouldAllBe(e => e.Platform == "instagram");
        events.Select(e => e.EventType).ShouldBe(["x-meta.comments", "account_changed", "x-meta.mentions", "policy_flag", "x-meta.mentions"]);
        events.Select(e => e.AccountId).ShouldBe(["17841405822304914", "17841405822304914", "17841405822304999", "17841405822304999", "17841405822304999"]);
        events[0].Timestamp.ShouldBe(DateTimeOffset.FromUnixTimeSeconds(1772442900));
        events[0].Actor.ShouldBe(new EventActor(Id: "17841400000000001"));
        Details(events[0]).ShouldBe("""{"source_type":"comments","value":{"id":"17865799348089039","text":"nice","from":{"id":"17841400000000001","username":"someone"},"media":{"id":"1786","media_product_type":"FEED"}}}""");
        Details(events[1]).ShouldBe("""{"source_type":"username","field":"username"}""");
        Details(events[3]).ShouldBe("""{"source_type":"integrity_enforcement","policy":"integrity_enforcement","action":"content_removed"}""");
    }

    [Theory]
    [InlineData("page")]
    [InlineData("user")]
    [InlineData("whatsapp_business_account")]
    public void Normalize_ObjectOtherThanInstagram_IsFacebook(string objectType)
    {
        var body = $$$"""{"object":"{{{objectType}}}","entry":[{"id":"1","time":1772442900,"changes":[{"field":"email","value":{}}]}]}""";

        Single(Run("meta", body)).Platform.ShouldBe("facebook");
    }

    [Fact]
    public void Normalize_SourcePlatform_IsUsed()
    {
        var body = """{"object":"page","entry":[{"id":"1","time":1772442900,"changes":[{"field":"feed","value":{}}]}]}""";

        Single(Run("meta", body, platform: "facebook-pages")).Platform.ShouldBe("facebook-pages");
    }

    [Theory]
    [InlineData("email", "account_changed", """{"source_type":"email","field":"email"}""")]
    [InlineData("phone", "account_changed", """{"source_type":"phone","field":"phone"}""")]
    [InlineData("phone_number", "account_changed", """{"source_type":"phone_number","field":"phone"}""")]
    [InlineData("username", "account_changed", """{"source_type":"username","field":"username"}""")]
    [InlineData("name", "account_changed", """{"source_type":"name","field":"name"}""")]
    [InlineData("first_name", "account_changed", """{"source_type":"first_name","field":"name"}""")]
    [InlineData("last_name", "account_changed", """{"source_type":"last_name","field":"name"}""")]
    [InlineData("website", "account_changed", """{"source_type":"website","field":"profile_link"}""")]
    [InlineData("link", "account_changed", """{"source_type":"link","field":"profile_link"}""")]
    [InlineData("policy_violation", "policy_flag", """{"source_type":"policy_violation","policy":"policy_violation","action":"restrict"}""")]
    [InlineData("account_security", "policy_flag", """{"source_type":"account_security","policy":"account_security","action":"restrict"}""")]
    [InlineData("integrity_status", "policy_flag", """{"source_type":"integrity_status","policy":"integrity_status","action":"restrict"}""")]
    [InlineData("Violations", "policy_flag", """{"source_type":"Violations","policy":"Violations","action":"restrict"}""")]
    [InlineData("feed", "x-meta.feed", """{"source_type":"feed","value":{"action":"restrict","verb":"edit"}}""")]
    [InlineData("story_insights", "x-meta.story_insights", """{"source_type":"story_insights","value":{"action":"restrict","verb":"edit"}}""")]
    public void Normalize_Field_MapsAsTheTableSays(string field, string expectedType, string expectedDetails)
    {
        var body = $$$"""{"object":"page","entry":[{"id":"1","time":1772442900,"changes":[{"field":"{{{field}}}","value":{"action":"restrict","verb":"edit"}}]}]}""";

        var value = Single(Run("meta", body));

        value.EventType.ShouldBe(expectedType);
        Details(value).ShouldBe(expectedDetails);
    }

    [Fact]
    public void Normalize_PolicyFieldWithOnlyAVerb_UsesTheVerbAsTheAction()
    {
        var body = """{"object":"page","entry":[{"id":"1","time":1772442900,"changes":[{"field":"page_policy","value":{"verb":"block"}}]}]}""";

        Details(Single(Run("meta", body))).ShouldBe("""{"source_type":"page_policy","policy":"page_policy","action":"block"}""");
    }

    [Fact]
    public void Normalize_ValueWithUserId_IsThatAccount()
    {
        var body = """{"object":"page","entry":[{"id":"PAGE","time":1772442900,"changes":[{"field":"email","value":{"user_id":"USER"}},{"field":"email","value":{"user_id":42}}]}]}""";

        Clean(Run("meta", body)).Select(e => e.AccountId).ShouldBe(["USER", "42"]);
    }

    [Fact]
    public void Normalize_LegacyChangedFields_OneEventPerField()
    {
        var body = """{"object":"user","entry":[{"uid":"1335845740","id":"1335845740","time":232323,"changed_fields":["email","pic_big"]}]}""";

        var events = Clean(Run("meta", body));

        events.Select(e => (e.Id, e.EventType)).ShouldBe([("1335845740:232323:email:0", "account_changed"), ("1335845740:232323:pic_big:1", "x-meta.pic_big")]);
        Details(events[1]).ShouldBe("""{"source_type":"pic_big"}""");
    }

    [Fact]
    public void Normalize_TimeInMilliseconds_IsRead()
    {
        var body = """{"object":"page","entry":[{"id":"1","time":1772442900123,"changes":[{"field":"email","value":{}}]}]}""";

        Single(Run("meta", body)).Timestamp.ShouldBe(DateTimeOffset.FromUnixTimeMilliseconds(1772442900123));
    }

    [Fact]
    public void Normalize_SameDeliveryTwice_SameIds()
    {
        var body = """{"object":"page","entry":[{"id":"1","time":1772442900,"changes":[{"field":"feed","value":{"post_id":"1_2"}},{"field":"feed","value":{"post_id":"1_3"}}]}]}""";

        Clean(Run("meta", body)).Select(e => e.Id).ShouldBe(Clean(Run("meta", body)).Select(e => e.Id));
    }

    [Fact]
    public void Normalize_ChangesWithoutIdsOfTheSameEntrySecondAndField_FromTwoDeliveries_AreTwoEvents()
    {
        // Two comments on a page in one second, each the first change of its delivery: feed values carry no id.
        static string Body(string comment, string from) =>
            $$$"""{"object":"page","entry":[{"id":"P","time":1772442900,"changes":[{"field":"feed","value":{"item":"comment","comment_id":"{{{comment}}}","from":{"id":"{{{from}}}"},"verb":"add"}}]}]}""";

        var first = Single(Run("meta", Body("C1", "U1")));
        var second = Single(Run("meta", Body("C2", "U2")));

        first.Id.ShouldNotBe(second.Id);
        first.Id.ShouldBe(Single(Run("meta", Body("C1", "U1"))).Id);
    }

    [Fact]
    public void Normalize_BrokenEntriesAndChanges_AreIssuesNumberedAcrossTheDelivery()
    {
        const string Body = """
            {"object":"page","entry":[
              "text",
              {"id":"1","time":1772442900,"changes":[{"field":"email","value":{}}, 7, {"value":{}}]},
              {"time":1772442900,"changes":[{"field":"email","value":{}}]},
              {"id":"3","changes":[{"field":"email","value":{}}]},
              {"id":"4","time":1772442900,"messaging":[{}]}]}
            """;

        var result = Run("meta", Body);

        result.Events.ShouldHaveSingleItem().Id.ShouldBe("1:1772442900:email:0:" + Sha("""{"field":"email","value":{}}"""));
        result.Issues.ShouldBe([
            new NormalizeIssue(0, "entry 0 is a string, not an object"),
            new NormalizeIssue(2, "the change is a number, not an object"),
            new NormalizeIssue(3, "the change has no field"),
            new NormalizeIssue(4, "its entry has no id"),
            new NormalizeIssue(5, "its entry has no time (Unix seconds)"),
            new NormalizeIssue(6, "entry 4 has neither changes nor changed_fields"),
        ]);
    }

    [Theory]
    [InlineData("""{"entry":[]}""", "the Meta body has no object (instagram, page, user, …)")]
    [InlineData("""{"object":"page"}""", "the Meta body has no entry array")]
    [InlineData("""{"object":"page","entry":{}}""", "the Meta body has no entry array")]
    [InlineData("[]", "a Meta body is a JSON object, not an array")]
    public void Normalize_BodyNotAMetaDelivery_Fails(string body, string failure)
    {
        Run("meta", body).Failure.ShouldBe(failure);
    }

    /// <summary>The first 16 bytes of the SHA-256 of a change's bytes as sent, in hex.</summary>
    private static string Sha(string change) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(change))[..16]);
}
