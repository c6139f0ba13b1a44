using System.Text.Json.Nodes;
using Bulwark.Flags;

namespace Bulwark.Core.Tests.Flags;

public sealed class CompiledFlagTests
{
    private static readonly FlagDefinition Flag = FlagKind.Instance.Read(JsonNode.Parse("""
        {
          "key": "reset-v2", "type": "operational", "owner": "identity", "purpose": "New reset flow", "canary_max": 2,
          "cohorts": [
            { "name": "staff", "allow": ["u-staff"] },
            { "name": "eu-pro", "rules": [ { "attribute": "region", "op": "in", "values": ["eu-west", "eu-central"] },
                                           { "attribute": "plan", "op": "equals", "values": ["pro"] } ] }
          ]
        }
        """)!.AsObject()).Value!;

    private static EvaluationContext Subject(string? key, params (string Name, string Value)[] attributes) =>
        new(key, attributes.ToDictionary(a => a.Name, a => a.Value));

    public static TheoryData<FlagState> OffStates => [FlagState.Off, FlagState.EmergencyOff];

    [Theory]
    [MemberData(nameof(OffStates))]
    public void OffAndEmergencyOff_ServeOffToEveryone_CohortsIncluded(FlagState state)
    {
        var sut = new CompiledFlag(Flag, new FlagStatus(state, 100_000));

        foreach (var subject in new[] { Subject("u-staff"), Subject("u-1", ("region", "eu-west"), ("plan", "pro")), Subject(null) })
        {
            var result = sut.Evaluate(subject);
            result.Variant.Name.ShouldBe("off");
            result.Variant.AsBoolean.ShouldBe(false);
            result.Reason.ShouldBe(EvaluationReason.Disabled);
        }
    }

    [Fact]
    public void Global_ServesOnToEveryone_EvenWithoutAKey()
    {
        var sut = new CompiledFlag(Flag, new FlagStatus(FlagState.Global, 0));

        sut.Evaluate(Subject(null)).ShouldBe(new FlagEvaluation(sut.On, EvaluationReason.Static));
        sut.Evaluate(Subject("anyone")).Variant.AsBoolean.ShouldBe(true);
    }

    [Fact]
    public void Gradual_CohortMembersAreInWhateverThePercentage()
    {
        var sut = new CompiledFlag(Flag, new FlagStatus(FlagState.Gradual, 0));

        sut.Evaluate(Subject("u-staff")).ShouldBe(new FlagEvaluation(sut.On, EvaluationReason.TargetingMatch, Cohort: "staff"));
        sut.Evaluate(Subject("u-9", ("region", "eu-central"), ("plan", "pro"))).Cohort.ShouldBe("eu-pro");
        sut.Evaluate(Subject("u-9", ("region", "eu-central"), ("plan", "free"))).ShouldBe(new FlagEvaluation(sut.Off, EvaluationReason.Default));
    }

    [Fact]
    public void Gradual_SplitsByBucket_ExactlyAsTheBucketingSchemeSays()
    {
        var sut = new CompiledFlag(Flag, new FlagStatus(FlagState.Gradual, 25_000));
        var random = new Random(4242);
        var inCount = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var key = "acct-" + random.Next();
            var result = sut.Evaluate(Subject(key));
            var expectedIn = Bucketing.Bucket("reset-v2", key) < 25_000;
            result.Reason.ShouldBe(expectedIn ? EvaluationReason.Split : EvaluationReason.Default);
            result.Variant.ShouldBeSameAs(expectedIn ? sut.On : sut.Off);
            inCount += expectedIn ? 1 : 0;
        }

        inCount.ShouldBeInRange(5000 - 300, 5000 + 300);
    }

    [Fact]
    public void Canary_IsCappedAtTheFlagsCanaryMaximum()
    {
        var sut = new CompiledFlag(Flag, new FlagStatus(FlagState.Canary, 50_000));
        var random = new Random(99);
        for (var i = 0; i < 20_000; i++)
        {
            var key = "acct-" + random.Next();
            var bucket = Bucketing.Bucket("reset-v2", key);
            sut.Evaluate(Subject(key)).Variant.ShouldBeSameAs(bucket < 2000 ? sut.On : sut.Off);
        }
    }

    [Fact]
    public void Split_WithoutTheStickinessAttribute_IsATargetingKeyMissingError()
    {
        var sut = new CompiledFlag(Flag, new FlagStatus(FlagState.Gradual, 50_000));

        sut.Evaluate(Subject(null)).ShouldBe(new FlagEvaluation(sut.Off, EvaluationReason.Error, EvaluationErrorCode.TargetingKeyMissing));
        new CompiledFlag(Flag, new FlagStatus(FlagState.Gradual, 0)).Evaluate(Subject(null)).Reason.ShouldBe(EvaluationReason.Default);
    }

    [Fact]
    public void SharedBucketingGroup_PutsASubjectInOrOutOfBothFlagsTogether()
    {
        var a = new CompiledFlag(Flag with { Key = "a", BucketingGroup = "campaign" }, new FlagStatus(FlagState.Gradual, 30_000));
        var b = new CompiledFlag(Flag with { Key = "b", BucketingGroup = "campaign" }, new FlagStatus(FlagState.Gradual, 30_000));
        for (var i = 0; i < 5000; i++)
        {
            var subject = Subject("acct-" + i);
            a.Evaluate(subject).Reason.ShouldBe(b.Evaluate(subject).Reason);
        }
    }

    [Theory]
    [InlineData("equals", "eu", "eu", true)]
    [InlineData("equals", "eu", "us", false)]
    [InlineData("not_equals", "eu", "us", true)]
    [InlineData("not_equals", "eu", null, true)]
    [InlineData("in", "a,b", "b", true)]
    [InlineData("not_in", "a,b", "c", true)]
    [InlineData("not_in", "a,b", null, true)]
    [InlineData("prefix", "admin-,ops-", "ops-7", true)]
    [InlineData("prefix", "admin-", "user-7", false)]
    [InlineData("regex", "^[^@]+@example\\.com$", "a@example.com", true)]
    [InlineData("regex", "^[^@]+@example\\.com$", "a@evil.com", false)]
    [InlineData("exists", "", "x", true)]
    [InlineData("exists", "", null, false)]
    [InlineData("num_lt", "18", "17.5", true)]
    [InlineData("num_gte", "18", "18", true)]
    [InlineData("num_gt", "18", "old", false)]
    [InlineData("semver_gte", "2.4.0", "2.10.1", true)]
    [InlineData("semver_lt", "2.4.0", "2.4.0-rc.1", true)]
    [InlineData("semver_gt", "2.4.0-rc.2", "2.4.0-rc.10", true)]
    [InlineData("semver_lte", "v1.0.0", "1.0.0+build.5", true)]
    [InlineData("semver_gte", "1.0.0", "garbage", false)]
    [InlineData("equals", "eu", null, false)]
    public void Rule_Operators_MatchAsDocumented(string op, string values, string? attribute, bool expected)
    {
        var valueList = values.Length == 0 ? "[]" : "[" + string.Join(',', values.Split(',').Select(v => JsonValue.Create(v)!.ToJsonString())) + "]";
        var definition = FlagKind.Instance.Read(JsonNode.Parse($$"""
            { "key": "f", "type": "operational", "owner": "o", "purpose": "p",
              "cohorts": [ { "name": "c", "rules": [ { "attribute": "attr", "op": "{{op}}", "values": {{valueList}} } ] } ] }
            """)!.AsObject());
        definition.IsValid.ShouldBeTrue(string.Join("; ", definition.Errors));
        var sut = new CompiledFlag(definition.Value!, new FlagStatus(FlagState.Gradual, 0));

        var subject = attribute is null ? Subject("k") : Subject("k", ("attr", attribute));
        (sut.Evaluate(subject).Reason == EvaluationReason.TargetingMatch).ShouldBe(expected);
    }

    [Fact]
    public void Evaluate_AllocatesNothing()
    {
        var sut = new CompiledFlag(Flag, new FlagStatus(FlagState.Gradual, 33_333));
        var subjects = Enumerable.Range(0, 100).Select(i => Subject("acct-" + i, ("region", "us-east"), ("plan", "pro"))).ToArray();
        sut.Evaluate(subjects[0]);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var on = 0;
        for (var i = 0; i < 10_000; i++)
        {
            on += sut.Evaluate(subjects[i % subjects.Length]).Variant.AsBoolean == true ? 1 : 0;
        }

        (GC.GetAllocatedBytesForCurrentThread() - before).ShouldBe(0);
        on.ShouldBeGreaterThan(0);
    }

    public static TheoryData<FlagState, int, FlagState, int> StatusChanges => new()
    {
        { FlagState.Gradual, 25_000, FlagState.EmergencyOff, 25_000 },
        { FlagState.Off, 0, FlagState.Canary, 5_000 },
        { FlagState.Canary, 1_000, FlagState.Gradual, 60_123 },
        { FlagState.Gradual, 60_123, FlagState.Global, 100_000 },
        { FlagState.EmergencyOff, 0, FlagState.Gradual, 7 },
    };

    [Theory]
    [MemberData(nameof(StatusChanges))]
    public void WithStatus_EvaluatesExactlyAsAFreshCompilation_OverManySubjects(FlagState fromState, int from, FlagState toState, int to)
    {
        var status = new FlagStatus(toState, to);
        var fresh = new CompiledFlag(Flag, status);

        var sut = new CompiledFlag(Flag, new FlagStatus(fromState, from)).WithStatus(status);

        sut.Status.ShouldBe(status);
        var regions = new[] { "eu-west", "us-east", "eu-central" };
        var plans = new[] { "pro", "free" };
        for (var i = 0; i < 5_000; i++)
        {
            var subject = Subject(i % 97 == 0 ? "u-staff" : $"u-{i}", ("region", regions[i % 3]), ("plan", plans[i % 2]));
            sut.Evaluate(subject).ShouldBe(fresh.Evaluate(subject), $"subject {i}");
        }
    }

    [Fact]
    public void WithStatus_SharesWhatTheDefinitionCompiledTo_AndReturnsTheSameFlagForTheSameStatus()
    {
        var gradual = new CompiledFlag(Flag, new FlagStatus(FlagState.Gradual, 10_000));

        var killed = gradual.WithStatus(new FlagStatus(FlagState.EmergencyOff, 10_000));

        gradual.WithStatus(new FlagStatus(FlagState.Gradual, 10_000)).ShouldBeSameAs(gradual);
        killed.ShouldNotBeSameAs(gradual);
        (killed.On, killed.Off, killed.Definition).ShouldBe((gradual.On, gradual.Off, gradual.Definition));
        killed.On.ShouldBeSameAs(gradual.On);
    }

    [Fact]
    public void WithStatus_CapsACanaryAtTheDefinitionsCanaryMaximum()
    {
        // canary_max is 2%: a canary at 50% serves the bucket range of 2%, as a fresh compilation does.
        var sut = new CompiledFlag(Flag, new FlagStatus(FlagState.Gradual, 50_000)).WithStatus(new FlagStatus(FlagState.Canary, 50_000));

        var served = Enumerable.Range(0, 20_000).Count(i => sut.Evaluate(Subject($"s-{i}")).Reason == EvaluationReason.Split);
        served.ShouldBeInRange(300, 500);
    }
}
