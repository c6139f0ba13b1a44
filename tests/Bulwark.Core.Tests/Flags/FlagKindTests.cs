using System.Text.Json.Nodes;
using Bulwark.Flags;

namespace Bulwark.Core.Tests.Flags;

public sealed class FlagKindTests
{
    private const string Minimal = """{"key":"reset-v2","type":"operational","owner":"identity-team","purpose":"New password reset flow"}""";

    [Fact]
    public void Read_MinimalOperationalFlag_GetsSafeDefaults()
    {
        var flag = Read(Minimal);

        flag.Key.ShouldBe("reset-v2");
        flag.Type.ShouldBe(FlagType.Operational);
        flag.Variants.Keys.ShouldBe(["on", "off"], ignoreOrder: true);
        flag.OnVariant.ShouldBe("on");
        flag.OffVariant.ShouldBe("off");
        flag.EffectiveFailMode.ShouldBe(FailMode.LastKnown);
        flag.EffectiveBucketingGroup.ShouldBe("reset-v2");
        flag.CanaryMaxMillipercent.ShouldBe(1000);
        flag.Stickiness.ShouldBe("targetingKey");
    }

    [Fact]
    public void Read_KillSwitch_FailsClosedByDefault() =>
        Read("""{"key":"k","type":"kill-switch","owner":"o","purpose":"p"}""").EffectiveFailMode.ShouldBe(FailMode.Closed);

    [Fact]
    public void Read_ReleaseWithoutExpiry_IsRejectedAtExpires()
    {
        var errors = Errors("""{"key":"r","type":"release","owner":"o","purpose":"p"}""");

        errors.ShouldContain(e => e.Path == "/expires" && e.Message.Contains("required for a release flag", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_EveryProblem_IsReportedWithItsPath()
    {
        var errors = Errors("""
            {
              "key": "Bad Key", "type": "temporary", "purpose": "p", "expires": "next week",
              "variants": { "on": "blue", "off": 3 }, "on_variant": "green",
              "cohorts": [
                { "name": "beta", "rules": [ { "attribute": "region", "op": "like", "values": ["eu"] } ] },
                { "name": "empty" },
                { "name": "nums", "rules": [ { "attribute": "age", "op": "num_gt", "values": ["old"] },
                                             { "attribute": "app", "op": "semver_gte", "values": ["two"] },
                                             { "attribute": "email", "op": "regex", "values": ["("] },
                                             { "attribute": "x", "op": "equals", "values": ["a", "b"] },
                                             { "attribute": "y", "op": "exists", "values": ["z"] } ] }
              ],
              "canary_max": 0.0005,
              "colour": "red"
            }
            """);

        errors.Select(e => e.Path).ShouldBe(
            [
                "/key", "/type", "/owner", "/expires", "/variants/off", "/on_variant",
                "/cohorts/0/rules/0/op", "/cohorts/1", "/cohorts/2/rules/0/values/0", "/cohorts/2/rules/1/values/0",
                "/cohorts/2/rules/2/values/0", "/cohorts/2/rules/3/values", "/cohorts/2/rules/4/values", "/canary_max", "/colour",
            ],
            ignoreOrder: true);
    }

    [Fact]
    public void Read_StringVariants_AndCohorts_RoundTripThroughTheDocument()
    {
        var flag = Read("""
            {
              "kind": "Flag", "key": "checkout-theme", "type": "release", "owner": "web", "purpose": "New theme", "expires": "2027-03-01",
              "variants": { "new": "blue", "old": "grey" }, "on_variant": "new", "off_variant": "old",
              "cohorts": [ { "name": "staff", "allow": ["u-1", "u-2"], "rules": [ { "attribute": "plan", "op": "in", "values": ["pro", 3] } ] } ],
              "stickiness": "accountId", "bucketing_group": "checkout", "fail_mode": "closed", "canary_max": 2.5
            }
            """);

        flag.Expires.ShouldBe(new DateOnly(2027, 3, 1));
        flag.Cohorts.Single().Rules.Single().Values.ShouldBe(["pro", "3"]);
        flag.CanaryMaxMillipercent.ShouldBe(2500);
        var again = FlagKind.Instance.Read(FlagKind.Instance.ToDocument(flag));
        again.IsValid.ShouldBeTrue(string.Join("; ", again.Errors));
        FlagKind.Instance.ToDocument(again.Value!).ToJsonString().ShouldBe(FlagKind.Instance.ToDocument(flag).ToJsonString());
    }

    [Fact]
    public void DefinitionHash_IgnoresKeyOrderAndDefaults_ButChangesWithAnyField()
    {
        var a = Read("""{"key":"f","type":"operational","owner":"o","purpose":"p","variants":{"on":true,"off":false}}""");
        var b = Read("""{"purpose":"p","variants":{"off":false,"on":true},"owner":"o","type":"operational","key":"f"}""");
        var hash = FlagKind.DefinitionHash(a);

        hash.ShouldMatch("^[0-9a-f]{32}$");
        FlagKind.DefinitionHash(b).ShouldBe(hash);
        FlagKind.DefinitionHash(a with { Purpose = "q" }).ShouldNotBe(hash);
        FlagKind.DefinitionHash(a with { CanaryMaxMillipercent = 2000 }).ShouldNotBe(hash);
        FlagKind.DefinitionHash(a with { FailMode = FailMode.Closed }).ShouldNotBe(hash);
    }

    [Fact]
    public void PersistedEnums_KeepTheirNumbersAndNames()
    {
        ((int)FlagType.Release, (int)FlagType.Operational, (int)FlagType.KillSwitch).ShouldBe((1, 2, 3));
        ((int)FlagState.Off, (int)FlagState.Canary, (int)FlagState.Gradual, (int)FlagState.Global, (int)FlagState.EmergencyOff).ShouldBe((1, 2, 3, 4, 5));
        ((int)FailMode.Closed, (int)FailMode.LastKnown).ShouldBe((1, 2));
        ((int)EvaluationReason.Static, (int)EvaluationReason.TargetingMatch, (int)EvaluationReason.Split, (int)EvaluationReason.Disabled, (int)EvaluationReason.Default, (int)EvaluationReason.Error, (int)EvaluationReason.Stale)
            .ShouldBe((1, 2, 3, 4, 5, 6, 7));
        FlagNames.States.Keys.ShouldBe(["OFF", "CANARY", "GRADUAL", "GLOBAL", "EMERGENCY_OFF"], ignoreOrder: true);
        FlagNames.Types.Keys.ShouldBe(["release", "operational", "kill-switch"], ignoreOrder: true);
        ((int)RuleOperator.EqualTo).ShouldBe(1);
        ((int)RuleOperator.SemverAtLeast).ShouldBe(15);
        FlagNames.Operators.Count.ShouldBe(Enum.GetValues<RuleOperator>().Length);
    }

    private static FlagDefinition Read(string json)
    {
        var result = FlagKind.Instance.Read(JsonNode.Parse(json)!.AsObject());
        result.IsValid.ShouldBeTrue(string.Join("; ", result.Errors));
        return result.Value!;
    }

    private static IReadOnlyList<Bulwark.Manifests.ManifestError> Errors(string json)
    {
        var result = FlagKind.Instance.Read(JsonNode.Parse(json)!.AsObject());
        result.IsValid.ShouldBeFalse();
        return result.Errors;
    }
}
