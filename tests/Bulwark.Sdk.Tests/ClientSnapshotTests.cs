using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Flags;

namespace Bulwark.Sdk.Tests;

public sealed class ClientSnapshotTests
{
    private static readonly EvaluationContext Staff = new("u-staff");

    private static string Status(string state, double percentage, long version, bool archived = false) =>
        $$"""{"state":"{{state}}","percentage":{{percentage}},"archived":{{(archived ? "true" : "false")}},"version":{{version}},"updated_at":"2026-11-21T09:00:00.000Z"}""";

    private static string FlagDocument(string key, string status, string purpose = "p") =>
        $$"""{"key":"{{key}}","type":"operational","owner":"o","purpose":"{{purpose}}","cohorts":[{"name":"staff","allow":["u-staff"]}],"status":{{status}}}""";

    private static ClientSnapshot Start() => ClientSnapshot.Parse(JsonNode.Parse($$"""
        {"version":3,"flags":[{{FlagDocument("a", Status("GRADUAL", 50, 2))}},{{FlagDocument("b", Status("GLOBAL", 100, 3))}}]}
        """)!.AsObject());

    private static string HashOf(string key, string purpose = "p") =>
        FlagKind.DefinitionHash(FlagKind.Instance.Read(JsonNode.Parse(FlagDocument(key, "null", purpose).Replace(",\"status\":null", "", StringComparison.Ordinal))!.AsObject()).Value!);

    private static ClientSnapshot Apply(ClientSnapshot snapshot, string json, out string key)
    {
        using var document = JsonDocument.Parse(json);
        return snapshot.WithEvent(document.RootElement, out key);
    }

    private static FlagEvaluation Evaluate(ClientSnapshot snapshot, string key) =>
        snapshot.TryGetFlag(key, out var flag) ? flag.Evaluate(Staff) : throw new KeyNotFoundException(key);

    [Fact]
    public void AStatusOnlyEvent_ChangesThatFlagAlone_AndLeavesTheEarlierSnapshotAsItWas()
    {
        var before = Start();

        var after = Apply(before, $$"""{"version":4,"key":"b","definition_hash":"{{HashOf("b")}}","status":{{Status("EMERGENCY_OFF", 100, 4)}}}""", out var key);

        key.ShouldBe("b");
        after.Version.ShouldBe(4);
        Evaluate(after, "b").Reason.ShouldBe(EvaluationReason.Disabled);
        Evaluate(before, "b").Reason.ShouldBe(EvaluationReason.Static);
        before.TryGetFlag("a", out var a1).ShouldBeTrue();
        after.TryGetFlag("a", out var a2).ShouldBeTrue();
        a2.ShouldBeSameAs(a1);
        after.ChangedKeys(before).ShouldBe(["b"]);
    }

    [Fact]
    public void AFullEvent_AddsANewFlag_OrReplacesADefinitionThatChanged()
    {
        var before = Start();

        var added = Apply(before, $$"""{"version":4,"key":"c","definition_hash":"{{HashOf("c")}}","status":{{Status("GLOBAL", 100, 4)}},"flag":{{FlagDocument("c", Status("GLOBAL", 100, 4))}}}""", out _);
        var redefined = Apply(added, $$"""{"version":5,"key":"a","definition_hash":"{{HashOf("a", "new")}}","status":{{Status("GRADUAL", 50, 5)}},"flag":{{FlagDocument("a", Status("GRADUAL", 50, 5), "new")}}}""", out _);

        Evaluate(added, "c").Reason.ShouldBe(EvaluationReason.Static);
        redefined.TryGetFlag("a", out var a).ShouldBeTrue();
        a.Definition.Purpose.ShouldBe("new");
        redefined.TryGetFlag("c", out _).ShouldBeTrue();
        redefined.ChangedKeys(before).Order(StringComparer.Ordinal).ShouldBe(["a", "c"]);
    }

    [Fact]
    public void AnArchivedFlag_IsRemoved()
    {
        var after = Apply(Start(), $$"""{"version":4,"key":"a","definition_hash":"{{HashOf("a")}}","status":{{Status("OFF", 0, 4, archived: true)}}}""", out _);

        after.TryGetFlag("a", out _).ShouldBeFalse();
        after.TryGetFlag("b", out _).ShouldBeTrue();
        after.ChangedKeys(Start()).ShouldBe(["a"]);
    }

    [Fact]
    public void AStatusOnlyEventForADefinitionNotHeld_AsksForAResynchronization()
    {
        Should.Throw<InvalidDataException>(() =>
            Apply(Start(), $$"""{"version":4,"key":"a","definition_hash":"{{HashOf("a", "other")}}","status":{{Status("OFF", 0, 4)}}}""", out _));
        Should.Throw<InvalidDataException>(() =>
            Apply(Start(), $$$"""{"version":4,"key":"a","definition_hash":"{{{HashOf("a")}}}","status":{"state":"SIDEWAYS","percentage":1}}""", out _));
    }

    [Fact]
    public void ASavedDocument_ReadsBackToTheSameFlags_AndNoChangeIsSeenBetweenThem()
    {
        var snapshot = Apply(Start(), $$"""{"version":4,"key":"b","definition_hash":"{{HashOf("b")}}","status":{{Status("EMERGENCY_OFF", 100, 4)}}}""", out _);

        var saved = snapshot.ToDocument();
        var read = ClientSnapshot.Parse(JsonNode.Parse(saved.ToJsonString())!.AsObject());

        read.Version.ShouldBe(4);
        saved["scheme"]!.GetValue<string>().ShouldBe(Bucketing.Scheme);
        read.ChangedKeys(snapshot).ShouldBeEmpty();
        Evaluate(read, "b").Reason.ShouldBe(EvaluationReason.Disabled);
        Evaluate(read, "a").Reason.ShouldBe(EvaluationReason.TargetingMatch);
    }
}
