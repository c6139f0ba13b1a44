using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Normalizers.NormalizerKit;

namespace Bulwark.Core.Tests.Ingest.Normalizers;

public sealed class Auth0NormalizerTests
{
    [Fact]
    public void Normalize_JsonArrayOfEnvelopes_OneEventPerRecordWithEveryField()
    {
        var body = $"[{Record("90020260302a", "s")},{Record("90020260302b", "fp")}]";

        var events = Clean(Run("auth0", body));

        events.Select(e => e.Id).ShouldBe(["90020260302a", "90020260302b"]);
        var first = events[0];
        first.Platform.ShouldBe("auth0");
        first.EventType.ShouldBe("login_succeeded");
        first.AccountId.ShouldBe("auth0|5f7c8ec7c33c6c004bbafe82");
        first.Timestamp.ShouldBe(Utc("2026-03-02T09:15:00.532Z"));
        first.Actor.ShouldBe(new EventActor(Id: "auth0|5f7c8ec7c33c6c004bbafe82", Ip: "203.0.113.9", UserAgent: "Chrome 121.0.0 / Mac OS X 14.2.1", Country: "DE"));
        first.CorrelationId.ShouldBeNull();
        Details(first).ShouldBe("""{"code":"s"}""");
        Details(events[1]).ShouldBe("""{"code":"fp","reason":"fp"}""");
    }

    [Fact]
    public void Normalize_JsonLines_OneEventPerLine()
    {
        var body = $"{Record("a", "s")}\n{Record("b", "scpr")}\n\n{Record("c", "scp")}\n";

        Clean(Run("auth0", body)).Select(e => (e.Id, e.EventType)).ShouldBe([("a", "login_succeeded"), ("b", "password_reset"), ("c", "password_reset")]);
    }

    [Fact]
    public void Normalize_OneObject_IsOneEvent()
    {
        Single(Run("auth0", Record("a", "sce"))).EventType.ShouldBe("account_changed");
    }

    [Fact]
    public void Normalize_BareDataObjectWithUnderscoreId_UsesIt()
    {
        var body = """{"_id":"9002026","date":"2026-03-02T09:15:00.532Z","type":"f","user_id":"auth0|1","ip":"203.0.113.9"}""";

        var value = Single(Run("auth0", body));

        value.Id.ShouldBe("9002026");
        value.EventType.ShouldBe("login_failed");
    }

    [Fact]
    public void Normalize_LogIdOnlyInsideData_UsesIt()
    {
        var body = """{"data":{"log_id":"inner","date":"2026-03-02T09:15:00.532Z","type":"s","user_id":"auth0|1"}}""";

        Single(Run("auth0", body)).Id.ShouldBe("inner");
    }

    [Theory]
    [InlineData("s", "login_succeeded", """{"code":"s"}""")]
    [InlineData("f", "login_failed", """{"code":"f","reason":"f"}""")]
    [InlineData("fp", "login_failed", """{"code":"fp","reason":"fp"}""")]
    [InlineData("fu", "login_failed", """{"code":"fu","reason":"fu"}""")]
    [InlineData("scpr", "password_reset", """{"code":"scpr","phase":"requested"}""")]
    [InlineData("fcpr", "password_reset", """{"code":"fcpr","phase":"failed","stage":"request"}""")]
    [InlineData("scp", "password_reset", """{"code":"scp","phase":"completed"}""")]
    [InlineData("fcp", "password_reset", """{"code":"fcp","phase":"failed"}""")]
    [InlineData("sce", "account_changed", """{"code":"sce","field":"email"}""")]
    [InlineData("scpn", "account_changed", """{"code":"scpn","field":"phone"}""")]
    [InlineData("scu", "account_changed", """{"code":"scu","field":"username"}""")]
    [InlineData("limit_wc", "x-auth0.limit_wc", """{"code":"limit_wc"}""")]
    [InlineData("limit_mu", "x-auth0.limit_mu", """{"code":"limit_mu"}""")]
    [InlineData("limit_sul", "x-auth0.limit_sul", """{"code":"limit_sul"}""")]
    [InlineData("pwd_leak", "x-auth0.pwd_leak", """{"code":"pwd_leak"}""")]
    [InlineData("reset_pwd_leak", "x-auth0.reset_pwd_leak", """{"code":"reset_pwd_leak"}""")]
    [InlineData("signup_pwd_leak", "x-auth0.signup_pwd_leak", """{"code":"signup_pwd_leak"}""")]
    [InlineData("fce", "x-auth0.fce", """{"code":"fce"}""")]
    [InlineData("ss", "x-auth0.ss", """{"code":"ss"}""")]
    [InlineData("gd_send_sms", "x-auth0.gd_send_sms", """{"code":"gd_send_sms"}""")]
    [InlineData("Weird Code", "x-auth0.weird_code", """{"code":"Weird Code"}""")]
    public void Normalize_Code_MapsAsTheTableSays(string code, string expectedType, string expectedDetails)
    {
        var value = Single(Run("auth0", Record("a", code)));

        value.EventType.ShouldBe(expectedType);
        Details(value).ShouldBe(expectedDetails);
    }

    [Fact]
    public void Normalize_IpScopedEventWithoutUser_AccountIsTheIp()
    {
        var body = """{"log_id":"b1","data":{"date":"2026-03-02T09:15:00.532Z","type":"limit_mu","ip":"198.51.100.23","description":"Blocked IP address"}}""";

        var value = Single(Run("auth0", body));

        value.AccountId.ShouldBe("ip:198.51.100.23");
        value.EventType.ShouldBe("x-auth0.limit_mu");
        value.Actor.ShouldBe(new EventActor(Ip: "198.51.100.23"));
    }

    [Fact]
    public void Normalize_NoUserId_FallsBackToTheUserName()
    {
        var body = """{"log_id":"b1","data":{"date":"2026-03-02T09:15:00.532Z","type":"fu","user_name":"nobody@example.com","ip":"198.51.100.23"}}""";

        var value = Single(Run("auth0", body));

        value.AccountId.ShouldBe("nobody@example.com");
        value.Actor!.Id.ShouldBeNull();
    }

    [Fact]
    public void Normalize_RecordsMissingWhatAnEventNeeds_AreIssuesAndTheOthersMap()
    {
        var body = string.Join('\n',
            Record("a", "s"),
            """{"data":{"date":"2026-03-02T09:15:00.532Z","type":"s","user_id":"u"}}""",
            """{"log_id":"c","data":{"type":"s","user_id":"u"}}""",
            """{"log_id":"d","data":{"date":"2026-03-02T09:15:00.532Z","user_id":"u"}}""",
            """{"log_id":"e","data":{"date":"2026-03-02T09:15:00.532Z","type":"s"}}""",
            """{"log_id":"f","data":"text"}""",
            """{"log_id":"g","data":{"date":1772442900,"type":"s","user_id":"u"}}""");

        var result = Run("auth0", body);

        result.Events.ShouldHaveSingleItem().Id.ShouldBe("a");
        result.Issues.ShouldBe([
            new NormalizeIssue(1, "the log record has no log_id"),
            new NormalizeIssue(2, "the log record has no date (an RFC 3339 date-time)"),
            new NormalizeIssue(3, "the log record has no type (the Auth0 log event code)"),
            new NormalizeIssue(4, "the log record names no account: no user_id, user_name or ip"),
            new NormalizeIssue(5, "the log record's data is a string, not an object"),
            new NormalizeIssue(6, "the log record has no date (an RFC 3339 date-time)"),
        ]);
    }

    [Fact]
    public void Normalize_LongUserAgent_IsCutNotRefused()
    {
        var body = $$$"""{"log_id":"a","data":{"date":"2026-03-02T09:15:00.532Z","type":"s","user_id":"u","user_agent":"{{{new string('u', 1500)}}}","ip":"{{{new string('9', 60)}}}"}}""";

        var value = Single(Run("auth0", body));

        value.Actor!.UserAgent!.Length.ShouldBe(1000);
        value.Actor.Ip.ShouldBeNull();
    }

    internal static string Record(string logId, string code) =>
        $$$$"""
        {"log_id":"{{{{logId}}}}","data":{"date":"2026-03-02T09:15:00.532Z","type":"{{{{code}}}}","description":"","connection":"Username-Password-Authentication","connection_id":"con_1","client_id":"cli_1","client_name":"Web","ip":"203.0.113.9","user_agent":"Chrome 121.0.0 / Mac OS X 14.2.1","details":{"prompts":[]},"hostname":"tenant.eu.auth0.com","user_id":"auth0|5f7c8ec7c33c6c004bbafe82","user_name":"jane@example.com","strategy":"auth0","strategy_type":"database","log_id":"{{{{logId}}}}","location_info":{"country_code":"DE","city_name":"Berlin"}}}
        """;
}
