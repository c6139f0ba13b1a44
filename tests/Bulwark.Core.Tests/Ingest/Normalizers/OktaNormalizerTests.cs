using System.Text.Json.Nodes;
using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Normalizers.NormalizerKit;

namespace Bulwark.Core.Tests.Ingest.Normalizers;

public sealed class OktaNormalizerTests
{
    /// <summary>
    /// The Okta Event Hook doc sample as quoted in reference/webhooks-detection-response.md §1.7, verbatim. The quote
    /// abbreviates <c>userAgent</c> to <c>{…}</c>, which is not JSON; <see cref="DocSample"/> puts back the object of
    /// the full doc sample (okta-developer-docs, concepts/event-hooks).
    /// </summary>
    private const string ReferenceSample =
        """{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","contentType":"application/json","eventId":"b5a188b9-…","eventTime":"2019-03-27T16:59:53.032Z","source":"https://{yourOktaDomain}/api/v1/eventHooks/whoql0HfiLGPWc8Jx0g3","data":{"events":[{"version":"0","severity":"INFO","client":{"zone":"OFF_NETWORK","device":"Unknown","userAgent":{…},"ipAddress":"12.97.85.90"},"actor":{"id":"00u1qw6mqitPHM8AJ0g7","type":"User","alternateId":"admin@example.com","displayName":"Example Admin"},"outcome":{"result":"SUCCESS"},"uuid":"f790999f-fe87-467a-9880-6982a583986c","published":"2018-03-28T22:23:07.777Z","eventType":"user.session.start","displayMessage":"User login to Okta","transaction":{"type":"WEB","id":"V04Oy4ubUOc5UuG6s9DyNQAABtc"},"legacyEventType":"core.user_auth.login_success","authenticationContext":{"authenticationStep":0,"externalSessionId":"1013FfF-DKQSvCI4RVXChzX-w"}}]}}""";

    private static readonly string DocSample =
        ReferenceSample.Replace("{…}", """{"os":"Unknown","browser":"UNKNOWN","rawUserAgent":"UNKNOWN-DOWNLOAD"}""", StringComparison.Ordinal);

    [Fact]
    public void Normalize_ReferenceDocSample_IsOneSessionNew()
    {
        var value = Single(Run("okta", DocSample));

        value.Id.ShouldBe("f790999f-fe87-467a-9880-6982a583986c");
        value.Source.ShouldBe(Source);
        value.Platform.ShouldBe("okta");
        value.EventType.ShouldBe("session_new");
        value.AccountId.ShouldBe("00u1qw6mqitPHM8AJ0g7");
        value.Timestamp.ShouldBe(Utc("2018-03-28T22:23:07.777Z"));
        value.ReceivedAt.ShouldBe(ReceivedAt);
        value.Actor.ShouldBe(new EventActor(Id: "00u1qw6mqitPHM8AJ0g7", Ip: "12.97.85.90", UserAgent: "UNKNOWN-DOWNLOAD"));
        value.CorrelationId.ShouldBe("V04Oy4ubUOc5UuG6s9DyNQAABtc");
        Details(value).ShouldBe("""{"source_type":"user.session.start","outcome":"SUCCESS"}""");
    }

    [Fact]
    public void Normalize_ReferenceSampleAsQuoted_FailsAsNotJsonWithoutThrowing()
    {
        Run("okta", ReferenceSample).Failure.ShouldStartWith("the body is not JSON");
    }

    [Theory]
    [InlineData("user.session.start", "SUCCESS", "session_new", """{"source_type":"user.session.start","outcome":"SUCCESS"}""")]
    [InlineData("user.session.start", "ALLOW", "session_new", """{"source_type":"user.session.start","outcome":"ALLOW"}""")]
    [InlineData("user.session.start", "FAILURE", "login_failed", """{"source_type":"user.session.start","outcome":"FAILURE","reason":"VERIFICATION_ERROR"}""")]
    [InlineData("user.session.start", "DENY", "login_failed", """{"source_type":"user.session.start","outcome":"DENY","reason":"VERIFICATION_ERROR"}""")]
    [InlineData("user.session.start", "CHALLENGE", "x-okta.user.session.start", """{"source_type":"user.session.start","outcome":"CHALLENGE"}""")]
    [InlineData("system.email.password_reset.sent_message", "SUCCESS", "password_reset", """{"source_type":"system.email.password_reset.sent_message","outcome":"SUCCESS","phase":"requested","channel":"email"}""")]
    [InlineData("system.email.password_reset.sent_message", "FAILURE", "password_reset", """{"source_type":"system.email.password_reset.sent_message","outcome":"FAILURE","phase":"failed","stage":"request","channel":"email"}""")]
    [InlineData("user.account.reset_password", "SUCCESS", "password_reset", """{"source_type":"user.account.reset_password","outcome":"SUCCESS","phase":"completed"}""")]
    [InlineData("user.account.reset_password", "FAILURE", "password_reset", """{"source_type":"user.account.reset_password","outcome":"FAILURE","phase":"failed"}""")]
    [InlineData("user.account.update_password", "SUCCESS", "account_changed", """{"source_type":"user.account.update_password","outcome":"SUCCESS","field":"password"}""")]
    [InlineData("user.account.update_profile", "SUCCESS", "account_changed", """{"source_type":"user.account.update_profile","outcome":"SUCCESS","field":"profile"}""")]
    [InlineData("user.mfa.factor.deactivate", "SUCCESS", "mfa_changed", """{"source_type":"user.mfa.factor.deactivate","outcome":"SUCCESS","action":"deactivate"}""")]
    [InlineData("user.mfa.factor.reset_all", "SUCCESS", "mfa_changed", """{"source_type":"user.mfa.factor.reset_all","outcome":"SUCCESS","action":"reset_all"}""")]
    [InlineData("user.mfa.factor.update", "SUCCESS", "mfa_changed", """{"source_type":"user.mfa.factor.update","outcome":"SUCCESS","action":"update"}""")]
    [InlineData("user.mfa.factor.activate", "SUCCESS", "mfa_changed", """{"source_type":"user.mfa.factor.activate","outcome":"SUCCESS","action":"activate"}""")]
    [InlineData("user.session.end", "SUCCESS", "session_revoked", """{"source_type":"user.session.end","outcome":"SUCCESS"}""")]
    [InlineData("user.session.clear", "SUCCESS", "session_revoked", """{"source_type":"user.session.clear","outcome":"SUCCESS"}""")]
    [InlineData("user.account.lock", "SUCCESS", "x-okta.user.account.lock", """{"source_type":"user.account.lock","outcome":"SUCCESS"}""")]
    [InlineData("user.lifecycle.suspend", "SUCCESS", "x-okta.user.lifecycle.suspend", """{"source_type":"user.lifecycle.suspend","outcome":"SUCCESS"}""")]
    [InlineData("user.mfa.factor.", "SUCCESS", "x-okta.user.mfa.factor.", """{"source_type":"user.mfa.factor.","outcome":"SUCCESS"}""")]
    [InlineData("app.oauth2.as.token.grant.Refresh_Token", "SUCCESS", "x-okta.app.oauth2.as.token.grant.refresh_token", """{"source_type":"app.oauth2.as.token.grant.Refresh_Token","outcome":"SUCCESS"}""")]
    [InlineData("security.threat detected!", "SUCCESS", "x-okta.security.threat_detected_", """{"source_type":"security.threat detected!","outcome":"SUCCESS"}""")]
    public void Normalize_EventType_MapsAsTheTableSays(string eventType, string result, string expectedType, string expectedDetails)
    {
        var value = Single(Run("okta", Delivery(LogEvent("u1", eventType, result))));

        value.EventType.ShouldBe(expectedType);
        Details(value).ShouldBe(expectedDetails);
    }

    [Fact]
    public void Normalize_LongUnknownEventType_IsCutToTheCustomPattern()
    {
        var value = Single(Run("okta", Delivery(LogEvent("u1", "system." + new string('a', 80)))));

        value.EventType.ShouldBe("x-okta.system." + new string('a', 48));
        value.EventType.Length.ShouldBe(62);
    }

    [Fact]
    public void Normalize_NoOutcome_UnknownSessionStartIsCustom()
    {
        var item = JsonNode.Parse(LogEvent("u1", "user.session.start"))!.AsObject();
        item.Remove("outcome");

        var value = Single(Run("okta", Delivery(item.ToJsonString())));

        value.EventType.ShouldBe("x-okta.user.session.start");
        Details(value).ShouldBe("""{"source_type":"user.session.start"}""");
    }

    [Theory]
    [InlineData("email", "email")]
    [InlineData("secondEmail, firstName", "email")]
    [InlineData("mobilePhone", "phone")]
    [InlineData("firstName,primaryPhone,login", "phone")]
    [InlineData("login", "username")]
    [InlineData("firstName,lastName", "profile")]
    public void Normalize_UpdateProfileWithChangedAttributes_PicksTheMostSensitiveField(string changed, string field)
    {
        var item = JsonNode.Parse(LogEvent("u1", "user.account.update_profile"))!.AsObject();
        item["debugContext"] = new JsonObject { ["debugData"] = new JsonObject { ["changedAttributes"] = changed } };

        var value = Single(Run("okta", Delivery(item.ToJsonString())));

        value.EventType.ShouldBe("account_changed");
        value.Details!["field"]!.GetValue<string>().ShouldBe(field);
        value.Details["changed_attributes"]!.GetValue<string>().ShouldBe(changed);
    }

    [Fact]
    public void Normalize_TargetUser_IsTheAccountAndTheAdminTheActor()
    {
        var item = JsonNode.Parse(LogEvent("u1", "user.account.reset_password"))!.AsObject();
        item["actor"] = new JsonObject { ["id"] = "00uADMIN", ["type"] = "User" };
        item["target"] = new JsonArray(
            new JsonObject { ["id"] = "0oaAPP", ["type"] = "AppInstance" },
            new JsonObject { ["id"] = "00uTARGET", ["type"] = "User", ["alternateId"] = "jane@example.com" });

        var value = Single(Run("okta", Delivery(item.ToJsonString())));

        value.AccountId.ShouldBe("00uTARGET");
        value.Actor!.Id.ShouldBe("00uADMIN");
    }

    [Fact]
    public void Normalize_NoTransaction_CorrelatesOnTheExternalSessionId()
    {
        var item = JsonNode.Parse(DocSample)!["data"]!["events"]![0]!.AsObject();
        item.Remove("transaction");

        Single(Run("okta", Delivery(item.ToJsonString()))).CorrelationId.ShouldBe("1013FfF-DKQSvCI4RVXChzX-w");
    }

    [Theory]
    [InlineData("United States", null)]
    [InlineData("US", "US")]
    [InlineData("gb", "GB")]
    [InlineData("U1", null)]
    public void Normalize_Country_KeptOnlyAsATwoLetterCode(string country, string? expected)
    {
        var item = JsonNode.Parse(LogEvent("u1", "user.session.start", "SUCCESS"))!.AsObject();
        item["client"]!["geographicalContext"] = new JsonObject { ["city"] = "Portland", ["country"] = country };

        Single(Run("okta", Delivery(item.ToJsonString()))).Actor!.Country.ShouldBe(expected);
    }

    [Fact]
    public void Normalize_Batch_OneEventPerItemWithItsOwnId()
    {
        var body = Delivery(LogEvent("u1", "user.session.start", "SUCCESS"), LogEvent("u2", "user.session.start", "FAILURE"), LogEvent("u3", "user.account.lock"));

        var events = Clean(Run("okta", body));

        events.Select(e => e.Id).ShouldBe(["u1", "u2", "u3"]);
        events.Select(e => e.EventType).ShouldBe(["session_new", "login_failed", "x-okta.user.account.lock"]);
    }

    [Fact]
    public void Normalize_BareSystemLogArray_IsAcceptedForThePollingFallback()
    {
        var body = $"[{LogEvent("u1", "user.session.start", "SUCCESS")},{LogEvent("u2", "user.session.end")}]";

        Clean(Run("okta", body)).Select(e => e.EventType).ShouldBe(["session_new", "session_revoked"]);
    }

    [Fact]
    public void Normalize_OneLogEventObject_IsOneEvent()
    {
        Single(Run("okta", LogEvent("u1", "user.session.end"))).EventType.ShouldBe("session_revoked");
    }

    [Fact]
    public void Normalize_ItemsMissingWhatAnEventNeeds_AreIssuesAndTheOthersMap()
    {
        var noUuid = JsonNode.Parse(LogEvent("x", "user.session.end"))!.AsObject();
        noUuid.Remove("uuid");
        var badPublished = JsonNode.Parse(LogEvent("u3", "user.session.end"))!.AsObject();
        badPublished["published"] = "2018-03-28 22:23";
        var noAccount = JsonNode.Parse(LogEvent("u4", "user.session.end"))!.AsObject();
        noAccount.Remove("actor");
        var noType = JsonNode.Parse(LogEvent("u5", "user.session.end"))!.AsObject();
        noType["eventType"] = 12;

        var result = Run("okta", Delivery(LogEvent("u1", "user.session.end"), noUuid.ToJsonString(), badPublished.ToJsonString(), noAccount.ToJsonString(), noType.ToJsonString(), "\"text\""));

        result.Events.ShouldHaveSingleItem().Id.ShouldBe("u1");
        result.Issues.ShouldBe([
            new NormalizeIssue(1, "the LogEvent has no uuid"),
            new NormalizeIssue(2, "the LogEvent has no published time (an RFC 3339 date-time)"),
            new NormalizeIssue(3, "the LogEvent names no account: no target of type User and no actor.id"),
            new NormalizeIssue(4, "the LogEvent has no eventType"),
            new NormalizeIssue(5, "the LogEvent is a string, not an object"),
        ]);
    }

    [Fact]
    public void Normalize_SourcePlatform_IsUsed()
    {
        Single(Run("okta", DocSample, platform: "internal")).Platform.ShouldBe("internal");
    }

    [Theory]
    [InlineData("""{"eventType":"com.okta.event_hook","data":{}}""")]
    [InlineData("""{"data":{"events":{}}}""")]
    [InlineData("""{"verification":"abc"}""")]
    [InlineData("42")]
    public void Normalize_BodyWithoutEvents_Fails(string body)
    {
        Run("okta", body).Failure.ShouldNotBeNull();
    }

    [Fact]
    public void Normalize_EmptyEventsArray_HasNothingAndNoIssue()
    {
        var result = Run("okta", """{"data":{"events":[]}}""");

        result.Events.ShouldBeEmpty();
        result.NeedsQuarantine.ShouldBeFalse();
    }

    internal static string Delivery(params string[] events) =>
        $$$"""{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","contentType":"application/json","eventId":"b5a188b9-5ece-4636-b041-482ffda96311","eventTime":"2019-03-27T16:59:53.032Z","data":{"events":[{{{string.Join(",", events)}}}]}}""";

    internal static string LogEvent(string uuid, string eventType, string? result = "SUCCESS") =>
        $$$"""
        {"version":"0","severity":"INFO","client":{"zone":"OFF_NETWORK","device":"Computer","userAgent":{"os":"Mac OS X","browser":"CHROME","rawUserAgent":"Mozilla/5.0 (Macintosh)"},"ipAddress":"198.51.100.7"},
         "actor":{"id":"00u1qw6mqitPHM8AJ0g7","type":"User","alternateId":"jane@example.com","displayName":"Jane"},
         "outcome":{"result":"{{{result}}}","reason":"VERIFICATION_ERROR"},"uuid":"{{{uuid}}}","published":"2026-03-02T09:00:00.500Z","eventType":"{{{eventType}}}",
         "transaction":{"type":"WEB","id":"tx-{{{uuid}}}"}}
        """;
}
