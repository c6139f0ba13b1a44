using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Normalizers.NormalizerKit;

namespace Bulwark.Core.Tests.Ingest.Normalizers;

public sealed class LinkedInNormalizerTests
{
    private const string SocialAction = """
        {"type":"ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS","notificationId":1,"organizationalEntity":"urn:li:organization:2414183","action":"COMMENT",
         "sourcePost":"urn:li:share:6844785523593134080","generatedActivity":"urn:li:comment:(urn:li:activity:6844785523593134080,6844785523593134081)",
         "actor":"urn:li:person:a1b2c3","lastModifiedAt":1772442000123}
        """;

    [Fact]
    public void Normalize_SocialActionNotification_IsACustomEventOfTheOrganization()
    {
        var value = Single(Run("linkedin", SocialAction));

        value.Id.ShouldBe("1");
        value.Platform.ShouldBe("linkedin");
        value.EventType.ShouldBe("x-linkedin.organization_social_action_notifications");
        value.AccountId.ShouldBe("urn:li:organization:2414183");
        value.Actor.ShouldBe(new EventActor(Id: "urn:li:person:a1b2c3"));
        value.Timestamp.ShouldBe(DateTimeOffset.FromUnixTimeMilliseconds(1772442000123));
        Details(value).ShouldBe("""{"source_type":"ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS","action":"COMMENT"}""");
    }

    [Fact]
    public void Normalize_Array_OneEventPerNotificationWithItsOwnId()
    {
        var body = $"[{SocialAction},{SocialAction.Replace("\"notificationId\":1", "\"notificationId\":2", StringComparison.Ordinal)},{SocialAction.Replace("\"notificationId\":1", "\"notificationId\":\"n-3\"", StringComparison.Ordinal)}]";

        Clean(Run("linkedin", body)).Select(e => e.Id).ShouldBe(["1", "2", "n-3"]);
    }

    [Theory]
    [InlineData("MEMBER_SECURITY_NOTIFICATIONS", "policy_flag", """{"source_type":"MEMBER_SECURITY_NOTIFICATIONS","policy":"member_security_notifications","action":"RESTRICT"}""")]
    [InlineData("ORGANIZATION_POLICY_VIOLATION", "policy_flag", """{"source_type":"ORGANIZATION_POLICY_VIOLATION","policy":"organization_policy_violation","action":"RESTRICT"}""")]
    [InlineData("CONTENT_COMPLIANCE_EVENTS", "policy_flag", """{"source_type":"CONTENT_COMPLIANCE_EVENTS","policy":"content_compliance_events","action":"RESTRICT"}""")]
    [InlineData("ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS", "x-linkedin.organization_social_action_notifications", """{"source_type":"ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS","action":"RESTRICT"}""")]
    [InlineData("SHARE_UPDATE", "x-linkedin.share_update", """{"source_type":"SHARE_UPDATE","action":"RESTRICT"}""")]
    public void Normalize_Type_MapsAsTheTableSays(string type, string expectedType, string expectedDetails)
    {
        var body = $$$"""{"type":"{{{type}}}","notificationId":9,"owner":"urn:li:organization:1","action":"RESTRICT"}""";

        var value = Single(Run("linkedin", body));

        value.EventType.ShouldBe(expectedType);
        Details(value).ShouldBe(expectedDetails);
    }

    [Theory]
    [InlineData("""{"organizationalEntity":"urn:li:organization:1","owner":"urn:li:organization:2","actor":"urn:li:person:3"}""", "urn:li:organization:1")]
    [InlineData("""{"owner":"urn:li:organization:2","actor":"urn:li:person:3"}""", "urn:li:organization:2")]
    [InlineData("""{"actor":"urn:li:person:3"}""", "urn:li:person:3")]
    public void Normalize_Account_IsTheFirstUrnOfOrganizationalEntityOwnerActor(string urns, string expected)
    {
        var body = urns.Replace("{", """{"type":"T","notificationId":9,""", StringComparison.Ordinal);

        Single(Run("linkedin", body)).AccountId.ShouldBe(expected);
    }

    [Theory]
    [InlineData("\"createdAt\":1772442000", "2026-03-02T09:00:00.000Z")]
    [InlineData("\"timestamp\":\"2026-03-02T09:00:00.5Z\"", "2026-03-02T09:00:00.500Z")]
    [InlineData("\"other\":1", "2026-03-02T12:00:00.123Z")]
    public void Normalize_Time_FromTheFirstTimeFieldElseTheArrival(string member, string expected)
    {
        var body = $$$"""{"type":"T","notificationId":9,"owner":"o",{{{member}}}}""";

        Single(Run("linkedin", body)).Timestamp.ShouldBe(Utc(expected));
    }

    [Fact]
    public void Normalize_NotificationsMissingWhatAnEventNeeds_AreIssues()
    {
        const string Body = """
            [{"type":"T","owner":"o"},{"notificationId":2,"owner":"o"},{"type":"T","notificationId":3},{"type":"T","notificationId":4,"owner":"o","lastModifiedAt":"later"},true,
             {"type":"T","notificationId":6,"owner":"o"}]
            """;

        var result = Run("linkedin", Body);

        result.Events.ShouldHaveSingleItem().Id.ShouldBe("6");
        result.Issues.ShouldBe([
            new NormalizeIssue(0, "the notification has no notificationId"),
            new NormalizeIssue(1, "the notification has no type"),
            new NormalizeIssue(2, "the notification names no account: no organizationalEntity, owner or actor URN"),
            new NormalizeIssue(3, "the notification's lastModifiedAt, createdAt or timestamp cannot be read"),
            new NormalizeIssue(4, "the notification is a boolean, not an object"),
        ]);
    }

    [Fact]
    public void Normalize_Scalar_Fails()
    {
        Run("linkedin", "\"ping\"").Failure.ShouldBe("a LinkedIn body is a notification object or an array of them, not a string");
    }
}
