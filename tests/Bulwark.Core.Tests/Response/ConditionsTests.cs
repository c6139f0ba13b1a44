using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Response;

namespace Bulwark.Core.Tests.Response;

public sealed class ConditionsTests
{
    private static JsonObject Context(Severity severity = Severity.High, double confidence = 0.85) => ResponseContext.Create(
        RunPlannerTests.Incident(confidence) with { Severity = severity, Platforms = ["instagram", "x"], Accounts = ["acct_1"] },
        "run_1",
        "p",
        "corr",
        target: "acct_1",
        stepOutputs: new Dictionary<string, JsonObject> { ["ticket"] = new() { ["key"] = "SEC-1", ["count"] = 3 } });

    private static bool Eval(string expression, JsonObject? context = null) => Conditions.Compile(expression).Evaluate(context ?? Context());

    [Theory]
    [InlineData("incident.severity == 'critical' || incident.confidence >= 0.9", false)]
    [InlineData("incident.severity == 'high' && incident.confidence >= 0.85", true)]
    [InlineData("incident.confidence > 0.85", false)]
    [InlineData("incident.confidence < 0.9", true)]
    [InlineData("incident.confidence <= 0.85", true)]
    [InlineData("incident.confidence != 0.85", false)]
    [InlineData("!(incident.confidence >= 0.9)", true)]
    [InlineData("!!true", true)]
    [InlineData("'x' in incident.platforms", true)]
    [InlineData("'tiktok' in incident.platforms", false)]
    [InlineData("platform in ['instagram']", false)]
    [InlineData("target in ['acct_1', 'acct_2']", true)]
    [InlineData("'ins' in 'instagram'", true)]
    [InlineData("steps.ticket.output.count == 3", true)]
    [InlineData("steps.ticket.output.count >= 3.0", true)]
    [InlineData("steps.ticket.output.key", true)]
    [InlineData("steps.ticket.output.missing", false)]
    [InlineData("steps.ticket.output.missing == null", true)]
    [InlineData("steps.ticket.output.missing != null", false)]
    [InlineData("incident.accounts", true)]
    [InlineData("incident.ips", false)]
    [InlineData("false || (true && !false)", true)]
    [InlineData("true || false && false", true)]
    [InlineData("(true || false) && false", false)]
    [InlineData("incident.confidence == '0.85'", false)]
    [InlineData("incident.confidence < 'high'", false)]
    [InlineData("incident.confidence >= 'high'", false)]
    [InlineData("0", false)]
    [InlineData("-1 < 0", true)]
    [InlineData("'' ", false)]
    [InlineData("'it\\'s' == 'it\\'s'", true)]
    [InlineData("[1, 2] == [1, 2]", true)]
    [InlineData("'b' > 'a'", true)]
    public void Evaluate_Expressions(string expression, bool expected)
    {
        Eval(expression).ShouldBe(expected);
    }

    [Theory]
    [InlineData(Severity.Low, false, false, true)]
    [InlineData(Severity.Medium, false, true, true)]
    [InlineData(Severity.High, true, true, false)]
    [InlineData(Severity.Critical, true, true, false)]
    public void Severity_ComparesByRank(Severity severity, bool atLeastHigh, bool aboveLow, bool belowHigh)
    {
        var context = Context(severity);

        (Eval("incident.severity >= 'high'", context), Eval("incident.severity > 'low'", context), Eval("incident.severity < 'high'", context))
            .ShouldBe((atLeastHigh, aboveLow, belowHigh));
    }

    [Fact]
    public void Compile_Once_EvaluatesManyContexts()
    {
        var condition = Conditions.Compile("incident.confidence >= 0.9");

        condition.Evaluate(Context(confidence: 0.95)).ShouldBeTrue();
        condition.Evaluate(Context(confidence: 0.5)).ShouldBeFalse();
        condition.Source.ShouldBe("incident.confidence >= 0.9");
    }

    [Theory]
    [InlineData("", "at 1: the expression is empty")]
    [InlineData("incident.confidence >=", "at 23: the expression ends too early")]
    [InlineData("incident.confidence = 1", "at 21: use == to compare")]
    [InlineData("true & false", "at 6: use && for and")]
    [InlineData("true | false", "at 6: use || for or")]
    [InlineData("(true", "at 6: expected ')' before the end")]
    [InlineData("(true false", "at 7: expected ')', not 'false'")]
    [InlineData("'open", "at 1: the string is not closed")]
    [InlineData("1.2.3 == 1", "at 1: '1.2.3' is not a number")]
    [InlineData("true true", "at 6: unexpected 'true'")]
    [InlineData("a # b", "at 3: unexpected '#'")]
    [InlineData("target in [target]", "at 12: a list holds literals only")]
    [InlineData("target in [1, ", "at 15: a list holds literals only")]
    [InlineData("[1 2]", "at 4: expected ',' or ']'")]
    [InlineData("incident.owner == 'x'", "at 1: 'incident.owner' is not an incident field")]
    [InlineData("1 == 1 && nobody", "at 11: 'nobody' starts with an unknown name")]
    [InlineData("a..b", "at 1: 'a..b' is not a path")]
    [InlineData(")", "at 1: expected a value, not ')'")]
    public void TryCompile_Invalid_GivesThePositionAndWhy(string expression, string message)
    {
        Conditions.TryCompile(expression, out _, out var error).ShouldBeFalse();

        error.ShouldNotBeNull().ShouldStartWith(message);
        Should.Throw<FormatException>(() => Conditions.Compile(expression));
    }

    [Fact]
    public void TryCompile_DeepNestingAndLongText_AreRefused()
    {
        Conditions.TryCompile(new string('(', 40) + "true" + new string(')', 40), out _, out var deep).ShouldBeFalse();
        Conditions.TryCompile(new string('!', 40) + "true", out _, out var nots).ShouldBeFalse();
        Conditions.TryCompile("true || " + string.Concat(Enumerable.Repeat("true || ", 300)) + "true", out _, out var longText).ShouldBeFalse();

        deep.ShouldNotBeNull().ShouldContain("nests deeper");
        nots.ShouldNotBeNull().ShouldContain("nests deeper");
        longText.ShouldNotBeNull().ShouldContain("at most");
    }

    [Fact]
    public void TryCompile_StepOutputs_AreCheckedAgainstTheVisibleSteps()
    {
        Conditions.TryCompile("steps.ticket.output.key != null", out _, out _, new HashSet<string> { "ticket" }).ShouldBeTrue();
        Conditions.TryCompile("steps.ticket.output.key != null", out _, out var error, new HashSet<string>()).ShouldBeFalse();
        error.ShouldNotBeNull().ShouldContain("depends_on");
    }
}
