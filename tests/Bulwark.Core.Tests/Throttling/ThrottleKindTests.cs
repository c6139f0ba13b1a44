using System.Text.Json.Nodes;
using Bulwark.Manifests;
using Bulwark.Throttling;

namespace Bulwark.Core.Tests.Throttling;

public sealed class ThrottleKindTests
{
    private static ManifestResult<ThrottlePolicy> Read(string json) => ThrottleKind.Instance.Read(JsonNode.Parse(json)!.AsObject());

    [Fact]
    public void Read_AFullPolicy_AndItsDocumentReadsBackTheSame()
    {
        var policy = Read("""
            {"kind":"Throttle","name":"password-reset","description":"Resets per address and account",
             "layers":[{"key":"ip","limit":10,"per":"1m"},{"name":"ip-daily","key":"ip","limit":100,"per":"1d","burst":20},{"key":"user","limit":5,"per":"1h30m"}],
             "escalation":{"window":"10m","challenge_after":3,"block_after":10,"block_for":"2h"},
             "shadow":true,"fail_mode":"closed","max_keys":50000}
            """).Value!;

        policy.Layers.Select(l => (l.Name, l.Key, l.Limit, l.Per, l.Burst)).ShouldBe([
            ("ip", "ip", 10L, TimeSpan.FromMinutes(1), 10L),
            ("ip-daily", "ip", 100L, TimeSpan.FromDays(1), 20L),
            ("user", "user", 5L, TimeSpan.FromMinutes(90), 5L)]);
        policy.Escalation.ShouldBe(new ThrottleEscalation { Window = TimeSpan.FromMinutes(10), ChallengeAfter = 3, BlockAfter = 10, BlockFor = TimeSpan.FromHours(2) });
        (policy.Shadow, policy.FailMode, policy.MaxKeys).ShouldBe((true, ThrottleFailMode.Closed, 50_000));

        var document = ThrottleKind.Instance.ToDocument(policy);
        document["layers"]![2]!["per"]!.GetValue<string>().ShouldBe("1h30m");
        var again = ThrottleKind.Instance.Read(document).Value!;
        again.Layers.ShouldBe(policy.Layers);
        (again with { Layers = policy.Layers }).ShouldBe(policy);
    }

    [Fact]
    public void Read_Defaults_BurstIsTheLimit_FailOpen_NotShadow_AMillionKeys()
    {
        var policy = Read("""{"name":"n","layers":[{"key":"global","limit":1000,"per":"1s"}]}""").Value!;

        (policy.Layers[0].Burst, policy.FailMode, policy.Shadow, policy.MaxKeys, policy.Escalation).ShouldBe((1000L, ThrottleFailMode.Open, false, 1_000_000, (ThrottleEscalation?)null));
    }

    public static TheoryData<string, string> Invalid => new()
    {
        { """{"name":"n"}""", "/layers" },
        { """{"name":"n","layers":[]}""", "/layers" },
        { """{"name":"n","layers":[{"key":"ip","limit":1,"per":"1m"},{"key":"ip","limit":9,"per":"1d"}]}""", "/layers/1/name" },
        { """{"name":"n","layers":[{"key":"ip","limit":1.5,"per":"1m"}]}""", "/layers/0/limit" },
        { """{"name":"n","layers":[{"key":"ip","limit":0,"per":"1m"}]}""", "/layers/0/limit" },
        { """{"name":"n","layers":[{"key":"ip","limit":1,"per":"fortnight"}]}""", "/layers/0/per" },
        { """{"name":"n","layers":[{"key":"ip","per":"1m"}]}""", "/layers/0/limit" },
        { """{"name":"n","layers":[{"key":"a b","limit":1,"per":"1m"}]}""", "/layers/0/key" },
        { """{"name":"n","layers":[{"key":"ip","limit":1,"per":"366d","burst":1000000}]}""", "/layers/0/burst" },
        { """{"name":"n","layers":[{"key":"ip","limit":1,"per":"1m","extra":1}]}""", "/layers/0/extra" },
        { """{"name":"n","layers":[{"key":"ip","limit":1,"per":"1m"}],"escalation":{"window":"1m"}}""", "/escalation" },
        { """{"name":"n","layers":[{"key":"ip","limit":1,"per":"1m"}],"escalation":{"window":"1m","challenge_after":5,"block_after":5}}""", "/escalation/block_after" },
        { """{"name":"n","layers":[{"key":"ip","limit":1,"per":"1m"}],"fail_mode":"maybe"}""", "/fail_mode" },
        { """{"name":"n","layers":[{"key":"ip","limit":1,"per":"1m"}],"max_keys":10}""", "/max_keys" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Read_Invalid_NamesTheField(string json, string path)
    {
        var result = Read(json);

        result.Value.ShouldBeNull();
        result.Errors.Select(e => e.Path).ShouldContain(path);
    }

    [Fact]
    public void Read_ReportsEveryErrorAtOnce()
    {
        var result = Read("""{"layers":[{"key":"ip","limit":-1,"per":"x"}],"shadow":"yes"}""");

        result.Errors.Select(e => e.Path).Order(StringComparer.Ordinal).ShouldBe(["/layers/0/limit", "/layers/0/per", "/name", "/shadow"]);
    }

    [Theory]
    [InlineData("1s", 0, 0, 1, 0)]
    [InlineData("1m", 0, 1, 0, 0)]
    [InlineData("1h30m", 1, 30, 0, 0)]
    [InlineData("1d", 24, 0, 0, 0)]
    [InlineData("90s", 0, 1, 30, 0)]
    [InlineData("250ms", 0, 0, 0, 250)]
    [InlineData("2d3h4m5s6ms", 51, 4, 5, 6)]
    public void Durations_Parse(string text, int hours, int minutes, int seconds, int milliseconds)
    {
        Durations.TryParse(text, out var value).ShouldBeTrue();

        value.ShouldBe(new TimeSpan(0, hours, minutes, seconds, milliseconds));
        Durations.TryParse(Durations.Format(value), out var again).ShouldBeTrue();
        again.ShouldBe(value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("m")]
    [InlineData("1m1h")]
    [InlineData("1m1m")]
    [InlineData("0s")]
    [InlineData("-1s")]
    [InlineData("1.5h")]
    [InlineData("1w")]
    [InlineData("1 m")]
    public void Durations_RejectsWhatIsNotADuration(string text) => Durations.TryParse(text, out _).ShouldBeFalse();

    [Fact]
    public void Durations_Format_LargestUnitsFirst() =>
        (Durations.Format(TimeSpan.FromDays(1)), Durations.Format(TimeSpan.FromMinutes(90)), Durations.Format(TimeSpan.FromMilliseconds(1500)))
            .ShouldBe(("1d", "1h30m", "1s500ms"));
}
