using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Normalizers.NormalizerKit;

namespace Bulwark.Core.Tests.Ingest.Normalizers;

/// <summary>Bodies no platform sends on purpose: every normalizer answers with a failure or issues, never an exception.</summary>
public sealed class HostileBodyTests
{
    private static readonly string[] Names = ["event-v1", "okta", "auth0", "meta", "x", "linkedin", "mapping"];

    private static readonly JsonObject Mapping = new()
    {
        ["id"] = "/id",
        ["timestamp"] = "/t",
        ["account_id"] = "/acct",
        ["event_type"] = new JsonObject { ["pointer"] = "/type", ["default"] = "x-other" },
        ["actor"] = new JsonObject { ["ip"] = "/ip" },
        ["details"] = new JsonObject { ["all"] = "" },
    };

    public static TheoryData<string, string> FailingBodies()
    {
        var deepArrays = new string('[', 10_000) + new string(']', 10_000);
        var deepObjects = new StringBuilder().Insert(0, "{\"a\":", 10_000).Append('1').Append('}', 10_000).ToString();
        var bodies = new[]
        {
            "", "   \r\n\t ", "\uFEFF", "null", "0", "-1.5e308", "true", "\"text\"", "[", "{", "{\"a\":", "]", "}{", "{\"a\" 1}",
            "{'a': 1}", "[1,]", "{\"a\":1,}", "/* comment */ {}", "NaN", deepArrays, deepObjects,
            "{\"data\":{\"events\":[" + deepArrays + "]}}", "{\"entry\":" + deepObjects + "}",
        };

        var data = new TheoryData<string, string>();
        foreach (var name in Names)
        {
            foreach (var body in bodies)
            {
                // An empty array or object is a valid (empty) delivery for some normalizers; these are all unreadable.
                data.Add(name, body);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FailingBodies))]
    public void Normalize_UnreadableBody_FailsWithoutThrowing(string normalizer, string body)
    {
        var result = Run(normalizer, body, mapping: Mapping);

        result.Failure.ShouldNotBeNull();
        result.NeedsQuarantine.ShouldBeTrue();
    }

    [Theory]
    [InlineData("event-v1")]
    [InlineData("okta")]
    [InlineData("auth0")]
    [InlineData("meta")]
    [InlineData("x")]
    [InlineData("linkedin")]
    [InlineData("mapping")]
    public void Normalize_InvalidUtf8OutsideStrings_Fails(string normalizer)
    {
        var result = Run(normalizer, [0x7B, 0xFF, 0xFE, 0x7D], mapping: Mapping);

        result.Failure.ShouldNotBeNull();
    }

    public static TheoryData<string, string> OddButReadableBodies() => new()
    {
        { "event-v1", "[1, \"a\", null, [], {}]" },
        { "event-v1", "{}" },
        { "okta", "{\"data\":{\"events\":[1, \"a\", null, [], {}, {\"uuid\":5,\"published\":[],\"eventType\":{},\"actor\":\"me\",\"target\":{}}]}}" },
        { "auth0", "[1, \"a\", null, [], {}, {\"log_id\":{},\"data\":{\"type\":1,\"date\":true,\"user_id\":[]}}]" },
        { "meta", "{\"object\":\"page\",\"entry\":[1, null, {\"id\":{},\"time\":\"x\",\"changes\":[null, {\"field\":3}, {\"field\":\"email\",\"value\":[1]}]}]}" },
        { "meta", "{\"object\":\"instagram\",\"entry\":[{\"id\":1.5,\"time\":-1e30,\"changes\":[{\"field\":\"email\"}]}]}" },
        { "x", "{\"for_user_id\":\"1\",\"a\":[1,null,[]],\"user_event\":{\"revoke\":5},\"b\":{},\"c\":\"s\"}" },
        { "x", "{\"for_user_id\":\"1\",\"favorite_events\":[{\"id\":{},\"timestamp_ms\":1e400,\"user\":5}]}" },
        { "linkedin", "[1, null, {}, {\"type\":5,\"notificationId\":[],\"owner\":{}}]" },
        { "linkedin", "{\"type\":\"T\",\"notificationId\":1.5e300,\"owner\":\"o\"}" },
        { "mapping", "[1, null, [], {}, {\"id\":{},\"t\":{},\"acct\":[]}]" },
        { "mapping", "{\"id\":\"a\",\"t\":1e300,\"acct\":\"x\"}" },
    };

    [Theory]
    [MemberData(nameof(OddButReadableBodies))]
    public void Normalize_WrongTypesInside_AreIssuesWithoutThrowing(string normalizer, string body)
    {
        var result = Run(normalizer, body, mapping: Mapping);

        result.Failure.ShouldBeNull();
        result.NeedsQuarantine.ShouldBeTrue();
    }

    [Theory]
    [InlineData("event-v1")]
    [InlineData("auth0")]
    public void Normalize_AsManyLinesAsADeliveryTakes_AreRead(string normalizer)
    {
        var result = Run(normalizer, string.Join('\n', Enumerable.Repeat("{}", 100_000)));

        result.Failure.ShouldBeNull();
        (result.Issues.Count + result.MoreIssues).ShouldBe(100_000);
        result.Issues[^1].Index.ShouldBe(NormalizeResult.MaxIssues - 1);
    }

    [Theory]
    [InlineData("event-v1", ",")]
    [InlineData("event-v1", "\n")]
    [InlineData("auth0", ",")]
    [InlineData("auth0", "\n")]
    public void Normalize_ABatchOfMoreItemsThanADeliveryTakes_Fails(string normalizer, string separator)
    {
        var items = string.Join(separator, Enumerable.Repeat("{}", 100_001));
        var body = separator == "," ? $"[{items}]" : items;

        var result = Run(normalizer, body);

        result.Failure.ShouldNotBeNull().ShouldContain("a delivery takes at most 100,000 (send smaller batches)");
        result.Events.ShouldBeEmpty();
        result.Issues.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("event-v1", "[{0}]")]
    [InlineData("auth0", "[{0}]")]
    [InlineData("linkedin", "[{0}]")]
    [InlineData("mapping", "[{0}]")]
    [InlineData("okta", "{{\"data\":{{\"events\":[{0}]}}}}")]
    public void Normalize_ManyBadItems_KeepsTheFirstIssuesAndCountsTheRest(string normalizer, string shape)
    {
        const int Items = 100_000;
        var body = string.Format(System.Globalization.CultureInfo.InvariantCulture, shape, string.Join(',', Enumerable.Repeat("1", Items)));

        var result = Run(normalizer, body, mapping: Mapping);

        result.Failure.ShouldBeNull();
        result.Issues.Count.ShouldBe(NormalizeResult.MaxIssues);
        result.Issues.Select(i => i.Index).ShouldBe(Enumerable.Range(0, NormalizeResult.MaxIssues));
        result.MoreIssues.ShouldBe(Items - NormalizeResult.MaxIssues);
    }

    [Theory]
    [InlineData("okta", "[{\"uuid\":\"u\",\"published\":\"2026-03-02T09:00:00Z\",\"eventType\":\"user.session.start\",\"actor\":{\"id\":\"a\"},\"client\":5,\"outcome\":[],\"transaction\":\"t\",\"target\":[1,null,{\"type\":\"User\",\"id\":7}]}]")]
    [InlineData("auth0", "{\"log_id\":\"a\",\"data\":{\"type\":\"s\",\"date\":\"2026-03-02T09:00:00Z\",\"user_id\":\"u\",\"location_info\":\"DE\",\"user_agent\":5}}")]
    [InlineData("x", "{\"for_user_id\":\"1\",\"favorite_events\":[{\"id\":\"f\",\"user\":5,\"source\":[]}]}")]
    [InlineData("meta", "{\"object\":\"page\",\"entry\":[{\"id\":\"1\",\"time\":1,\"changes\":[{\"field\":\"email\",\"value\":{\"user_id\":{},\"from\":7}}]}]}")]
    public void Normalize_WrongTypesInOptionalMembers_AreLeftOutAndTheEventStays(string normalizer, string body)
    {
        Single(Run(normalizer, body));
    }

    public static TheoryData<string, string, string> InvalidUtf8InOneItem() => new()
    {
        { "event-v1", """[{"schema_version":"v1","id":"#","source":"src-main","platform":"p","event_type":"session_new","account_id":"a","timestamp":"2026-03-02T09:00:00Z"},{"schema_version":"v1","id":"ok","source":"src-main","platform":"p","event_type":"session_new","account_id":"a","timestamp":"2026-03-02T09:00:00Z"}]""", "not a valid v1 event: /id: is not valid Unicode text" },
        { "okta", """[{"uuid":"#","published":"2026-03-02T09:00:00Z","eventType":"user.session.end","actor":{"id":"a"}},{"uuid":"ok","published":"2026-03-02T09:00:00Z","eventType":"user.session.end","actor":{"id":"a"}}]""", "a value is not valid Unicode text" },
        { "auth0", """[{"log_id":"#","data":{"type":"s","date":"2026-03-02T09:00:00Z","user_id":"u"}},{"log_id":"ok","data":{"type":"s","date":"2026-03-02T09:00:00Z","user_id":"u"}}]""", "a value is not valid Unicode text" },
        { "meta", """{"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"#"},{"field":"ok"}]}]}""", "a value is not valid Unicode text" },
        { "x", """{"for_user_id":"1","favorite_events":[{"id":"#"},{"id":"ok"}]}""", "a value is not valid Unicode text" },
        { "linkedin", """[{"type":"#","notificationId":1,"owner":"o"},{"type":"ok","notificationId":2,"owner":"o"}]""", "a value is not valid Unicode text" },
        { "mapping", """[{"id":"#","t":"2026-03-02T09:00:00Z","acct":"a"},{"id":"ok","t":"2026-03-02T09:00:00Z","acct":"a"}]""", "a value is not valid Unicode text" },
    };

    [Theory]
    [MemberData(nameof(InvalidUtf8InOneItem))]
    public void Normalize_InvalidUtf8InOneItem_IsAnIssueForThatItemOnly(string normalizer, string body, string reason)
    {
        // '#' stands for the bad byte; it is replaced by 0xFF, never valid in UTF-8.
        var bytes = Encoding.UTF8.GetBytes(body);
        bytes[Array.IndexOf(bytes, (byte)'#')] = 0xFF;

        var result = Run(normalizer, bytes, mapping: Mapping);

        result.Failure.ShouldBeNull();
        result.Events.ShouldHaveSingleItem();
        result.Issues.ShouldHaveSingleItem().Reason.ShouldStartWith(reason);
    }

    [Theory]
    [InlineData("event-v1")]
    [InlineData("auth0")]
    public void Normalize_DeeplyNestedLineInJsonLines_IsAnIssueForThatLine(string normalizer)
    {
        var good = normalizer == "auth0"
            ? """{"log_id":"a","data":{"type":"s","date":"2026-03-02T09:00:00Z","user_id":"u"}}"""
            : """{"schema_version":"v1","id":"a","source":"src-main","platform":"p","event_type":"session_new","account_id":"a","timestamp":"2026-03-02T09:00:00Z"}""";
        var deep = new StringBuilder().Insert(0, "{\"a\":", 10_000).Append('1').Append('}', 10_000).ToString();

        var result = Run(normalizer, good + "\n" + deep + "\n" + good.Replace("\"a\"", "\"b\"", StringComparison.Ordinal));

        result.Events.Count.ShouldBe(2);
        var issue = result.Issues.ShouldHaveSingleItem();
        issue.Index.ShouldBe(1);
        issue.Reason.ShouldContain("depth");
    }

    [Fact]
    public void Normalize_RandomMutationsOfRealisticBodies_NeverThrowAndEveryEventIsValid()
    {
        var samples = new (string Name, string Body)[]
        {
            ("event-v1", Events.EventSamples.Maximal.Replace("okta-main", Source, StringComparison.Ordinal)),
            ("okta", OktaNormalizerTests.Delivery(OktaNormalizerTests.LogEvent("u1", "user.session.start"), OktaNormalizerTests.LogEvent("u2", "user.mfa.factor.deactivate"))),
            ("auth0", Auth0NormalizerTests.Record("a", "fp") + "\n" + Auth0NormalizerTests.Record("b", "limit_mu")),
            ("meta", """{"object":"instagram","entry":[{"id":"1","time":1772442900,"changes":[{"field":"comments","value":{"id":"9","from":{"id":"2"}}},{"field":"email","value":{"user_id":"3"}}]}]}"""),
            ("x", """{"for_user_id":"1","tweet_create_events":[{"id_str":"5","timestamp_ms":"1772442000123","user":{"id_str":"1"}}],"user_event":{"revoke":{"date_time":"2018-05-24T09:48:12+00:00"}}}"""),
            ("linkedin", """[{"type":"ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS","notificationId":1,"organizationalEntity":"urn:li:organization:1","lastModifiedAt":1772442000123}]"""),
            ("mapping", """[{"id":"a","t":"2026-03-02T09:00:00Z","acct":"x","type":"login_failed","ip":"192.0.2.1"}]"""),
        };
        const string Noise = "{}[]\",:0123456789.-+eEtfn \\u\uFEFFé😀\n\r\t/~";
        var random = new Random(5);
        var runs = 0;
        foreach (var (name, body) in samples)
        {
            Clean(Run(name, body, mapping: Mapping)).ShouldNotBeEmpty(name);
            for (var i = 0; i < 400; i++)
            {
                var text = new StringBuilder(body);
                for (var edits = random.Next(1, 4); edits > 0 && text.Length > 0; edits--)
                {
                    var at = random.Next(text.Length);
                    switch (random.Next(3))
                    {
                        case 0:
                            text.Remove(at, Math.Min(random.Next(1, 4), text.Length - at));
                            break;
                        case 1:
                            text.Insert(at, Noise[random.Next(Noise.Length)]);
                            break;
                        default:
                            text[at] = Noise[random.Next(Noise.Length)];
                            break;
                    }
                }

                var bytes = Encoding.UTF8.GetBytes(text.ToString());
                if (random.Next(10) == 0)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }

                Run(name, bytes, mapping: Mapping);
                runs++;
            }
        }

        runs.ShouldBe(samples.Length * 400);
    }
}
