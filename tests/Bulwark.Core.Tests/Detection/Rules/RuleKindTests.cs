using Bulwark.Detection.Incidents;
using Bulwark.Detection.Rules;
using static Bulwark.Core.Tests.Detection.Rules.RuleTestKit;

namespace Bulwark.Core.Tests.Detection.Rules;

public sealed class RuleKindTests
{
    [Fact]
    public void Parse_DistinctRule_ReadsEveryField()
    {
        var rule = Rule("""
            {"kind":"Rule","name":"spray","type":"distinct","severity":"medium","confidence":0.7,"suppress":"30m","actions":["notify"],
             "group_by":["account_id",{"field":"actor.ip","transform":"ip_prefix","bits":16}],"field":"actor.ip","window":"5m","threshold":3,
             "match":{"field":"event_type","equals":"password_reset"}}
            """);

        rule.Type.ShouldBe(RuleType.Distinct);
        rule.Severity.ShouldBe(Severity.Medium);
        rule.Confidence.ShouldBe(0.7);
        rule.Suppress.ShouldBe(TimeSpan.FromMinutes(30));
        rule.Actions.ShouldBe(["notify"]);
        rule.GroupBy.ShouldBe([new ValueExpression("account_id"), new ValueExpression("actor.ip", ValueTransform.IpPrefix, 16)]);
        rule.Window.ShouldBe(TimeSpan.FromMinutes(5));
        rule.Threshold.ShouldBe(3);
        var condition = rule.Match.ShouldBeOfType<MatchCondition>();
        condition.Value.ShouldBe(new ValueExpression("event_type"));
        condition.Operator.ShouldBe(MatchOperator.Equals);
        condition.Operands.ShouldBe(["password_reset"]);
        rule.Document.ContainsKey("kind").ShouldBeFalse();
        rule.Document["name"]!.GetValue<string>().ShouldBe("spray");
    }

    [Fact]
    public void Parse_InvalidRule_ReportsEveryErrorWithItsPointer()
    {
        var errors = Errors("""
            {"kind":"Rule","name":"Bad Name","type":"count","severity":"urgent","confidence":2,"window":"soon","threshold":0,
             "group_by":["actor.nope",{"field":"account_id","transform":"rot13"}],
             "match":{"all":[{"field":"actor.ip","cidr":["300.1.2.3/8"]},{"field":"event_type","regex":"("},{"field":"details.n","gt":"x"},{"field":"platform"}]},
             "steps":[]}
            """).Select(e => e.Path).ToList();

        errors.ShouldContain("/name");
        errors.ShouldContain("/severity");
        errors.ShouldContain("/confidence");
        errors.ShouldContain("/window");
        errors.ShouldContain("/threshold");
        errors.ShouldContain("/group_by/0");
        errors.ShouldContain("/group_by/1/transform");
        errors.ShouldContain("/match/all/0/cidr");
        errors.ShouldContain("/match/all/1/regex");
        errors.ShouldContain("/match/all/2/gt");
        errors.ShouldContain("/match/all/3");
        errors.ShouldContain("/steps"); // does not apply to count rules: unknown
    }

    [Fact]
    public void Parse_SequenceWithMisplacedAbsence_IsRejected()
    {
        var errors = Errors("""
            {"name":"s","type":"sequence","severity":"high","within":"1m",
             "steps":[{"name":"a","absent":true,"match":{"field":"event_type","equals":"a"}},{"name":"b","match":{"field":"event_type","equals":"b"}}]}
            """);

        errors.Select(e => e.Path).ShouldContain("/steps/0/absent");
    }

    [Fact]
    public void ParseSet_KOfNNamingUnknownRule_ReportsIndexedPath()
    {
        List<string> texts =
        [
            """{"name":"a","type":"count","severity":"low","window":"1m","threshold":1}""",
            """{"name":"a","type":"count","severity":"low","window":"1m","threshold":1}""",
            """{"name":"k","type":"k_of_n","severity":"high","window":"1h","threshold":2,"rules":["a","missing"]}""",
        ];
        var documents = texts.Select(t => System.Text.Json.Nodes.JsonNode.Parse(t)!.AsObject()).ToList();

        RuleKind.ParseSet(documents, out var errors).ShouldBeNull();
        errors.Select(e => e.Path).ShouldBe(["/1/name", "/2/rules/1"], ignoreOrder: true);
    }

    [Fact]
    public void Enums_WireValues_ArePinned()
    {
        ((int)Severity.Low).ShouldBe(1);
        ((int)Severity.Medium).ShouldBe(2);
        ((int)Severity.High).ShouldBe(3);
        ((int)Severity.Critical).ShouldBe(4);
        ((int)RuleType.Count).ShouldBe(1);
        ((int)RuleType.Distinct).ShouldBe(2);
        ((int)RuleType.Sequence).ShouldBe(3);
        ((int)RuleType.KOfN).ShouldBe(4);
        ((int)RuleType.FirstSeen).ShouldBe(5);
        ((int)RuleType.Run).ShouldBe(6);
        RuleNames.Types.Keys.ShouldBe(["count", "distinct", "sequence", "k_of_n", "first_seen", "run"]);
        RuleNames.Severities.Keys.ShouldBe(["low", "medium", "high", "critical"]);
    }
}
