using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Flags;
using Bulwark.Server.Flags;

namespace Bulwark.Server.Tests;

public sealed class FlagSnapshotTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);

    private static FlagRecord Flag(string key, long version, FlagState state = FlagState.Gradual, int millipercent = 50_000, string purpose = "p", bool archived = false) => new()
    {
        Definition = FlagKind.Instance.Read(JsonNode.Parse($$"""{"key":"{{key}}","type":"operational","owner":"o","purpose":"{{purpose}}","cohorts":[{"name":"staff","allow":["u-staff"]}]}""")!.AsObject()).Value!,
        Status = new FlagStatus(state, millipercent),
        Archived = archived,
        Version = version,
        CreatedAt = At,
        UpdatedAt = At,
    };

    private static string Text(byte[] frame) => Encoding.UTF8.GetString(frame);

    [Fact]
    public void Events_AreInVersionOrder_AndFirstEventAfter_FindsTheFirstNewerOne()
    {
        var sut = new FlagSnapshot(9, [Flag("c", 9), Flag("a", 2), Flag("b", 5)]);

        sut.Events.Select(e => (e.Key, e.Version)).ShouldBe([("a", 2L), ("b", 5L), ("c", 9L)]);
        foreach (var (version, first) in new[] { (0L, 0), (1L, 0), (2L, 1), (4L, 1), (5L, 2), (8L, 2), (9L, 3), (100L, 3) })
        {
            sut.FirstEventAfter(version).ShouldBe(first, $"after version {version}");
        }

        new FlagSnapshot(0, []).FirstEventAfter(0).ShouldBe(0);
    }

    [Fact]
    public void AStatusChange_ReusesEveryOtherFlagsEvent_AndTheChangedFlagsCompiledDefinition()
    {
        var before = new FlagSnapshot(3, [Flag("a", 2), Flag("b", 3)]);

        var after = new FlagSnapshot(4, [Flag("a", 2), Flag("b", 4, FlagState.EmergencyOff)], before);

        after.Events[0].ShouldBeSameAs(before.Events[0]);
        after.Compiled["a"].ShouldBeSameAs(before.Compiled["a"]);
        var killed = after.Compiled["b"];
        killed.Status.State.ShouldBe(FlagState.EmergencyOff);
        killed.On.ShouldBeSameAs(before.Compiled["b"].On);
        killed.Evaluate(new EvaluationContext("u-staff")).Reason.ShouldBe(EvaluationReason.Disabled);

        // The status-only frame goes to subscribers that saw version 3 or later; the full one to everyone else.
        var change = after.Events[1];
        (change.Key, change.Version, change.StatusOnlySince).ShouldBe(("b", 4L, 3L));
        Text(change.StatusOnlyFrame!).ShouldNotContain("\"flag\":");
        Text(change.Frame).ShouldContain("\"flag\":");
        Text(change.Frame).ShouldStartWith("id: 4\nevent: flag\ndata: ");
    }

    [Fact]
    public void ADefinitionChange_IsCompiledAfresh_AndHasNoStatusOnlyFrame()
    {
        var before = new FlagSnapshot(3, [Flag("a", 3)]);

        var after = new FlagSnapshot(4, [Flag("a", 4, purpose: "changed")], before);

        after.Compiled["a"].ShouldNotBeSameAs(before.Compiled["a"]);
        after.Compiled["a"].Definition.Purpose.ShouldBe("changed");
        after.Events[0].StatusOnlyFrame.ShouldBeNull();
        after.Events[0].StatusOnlySince.ShouldBe(long.MaxValue);
    }

    [Fact]
    public void AnArchivedFlag_HasAnEvent_ButNothingToEvaluate()
    {
        var before = new FlagSnapshot(3, [Flag("a", 3)]);

        var after = new FlagSnapshot(4, [Flag("a", 4, archived: true)], before);

        after.Compiled.ContainsKey("a").ShouldBeFalse();
        Text(after.Events.ShouldHaveSingleItem().Frame).ShouldContain("\"archived\":true");
    }
}
