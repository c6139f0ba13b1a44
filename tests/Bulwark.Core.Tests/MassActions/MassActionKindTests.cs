using System.Text.Json.Nodes;
using Bulwark.Json;
using Bulwark.Manifests;
using Bulwark.MassActions;

namespace Bulwark.Core.Tests.MassActions;

public sealed class MassActionKindTests
{
    private static ManifestResult<MassActionDefinition> Read(string json) => MassActionKind.Instance.Read(JsonNode.Parse(json)!.AsObject());

    [Fact]
    public void Read_AFullDeclaration_AndItsDocumentReadsBackTheSame()
    {
        var definition = Read("""
            {"kind":"MassAction","name":"reset-nov","action":"password-reset","description":"Reset after the leak",
             "flag":"bulk-password-reset","throttle":"password-reset","audience_size":120000,"max_per_minute":600,
             "breaker":{"max_failure_ratio":0.02,"min_samples":500},"workers":["worker-b","worker-a","worker-b"]}
            """).Value!;

        (definition.Name, definition.Action, definition.Flag, definition.Throttle, definition.AudienceSize, definition.MaxPerMinute)
            .ShouldBe(("reset-nov", "password-reset", "bulk-password-reset", "password-reset", 120_000L, (long?)600));
        definition.Breaker.ShouldBe(new MassActionBreaker { MaxFailureRatio = 0.02, MinSamples = 500 });
        definition.Workers.ShouldBe(["worker-a", "worker-b"]);

        var document = MassActionKind.Instance.ToDocument(definition);
        document["kind"]!.GetValue<string>().ShouldBe("MassAction");
        var again = MassActionKind.Instance.Read(document).Value!;
        CanonicalJson.Serialize(MassActionKind.Instance.ToDocument(again)).ShouldBe(CanonicalJson.Serialize(document));
    }

    [Fact]
    public void Read_Defaults_TheBreakerIsOn_AndNoWorkersAreNamed()
    {
        var definition = Read("""{"name":"n","action":"notify","flag":"f","audience_size":10,"throttle":"t"}""").Value!;

        definition.Breaker.ShouldBe(new MassActionBreaker { MaxFailureRatio = 0.05, MinSamples = 200 });
        (definition.MaxPerMinute, definition.Workers.Count).ShouldBe(((long?)null, 0));
    }

    [Fact]
    public void Read_EveryProblem_IsReportedAtOnceWithItsPath()
    {
        var result = Read("""
            {"name":"ma_123","action":"Not A Name","flag":"f","audience_size":0,"max_per_minute":1.5,
             "breaker":{"max_failure_ratio":1.5,"extra":1},"workers":["ok","Bad Name"],"surprise":true}
            """);

        result.IsValid.ShouldBeFalse();
        result.Errors.Select(e => e.Path).Order(StringComparer.Ordinal).ShouldBe(
            ["/action", "/audience_size", "/breaker/extra", "/breaker/max_failure_ratio", "/max_per_minute", "/name", "/surprise", "/workers/1"]);
    }

    [Fact]
    public void Read_WithoutThrottleOrCap_IsRefused()
    {
        var result = Read("""{"name":"n","action":"notify","flag":"f","audience_size":10}""");

        result.Errors.ShouldHaveSingleItem().Path.ShouldBe("/max_per_minute");
        result.Errors[0].Message.ShouldContain("throttle");
    }

    [Fact]
    public void ManifestKinds_ListMassActionsAfterThrottles()
    {
        ManifestKinds.All.Select(k => k.Kind).ShouldBe(["Identity", "Flag", "Throttle", "MassAction", "Source", "Rule", "Detector", "Connector", "Playbook"]);
        ManifestKinds.Find("MassAction").ShouldBeSameAs(MassActionKind.Instance);
        MassActionKind.Instance.Plural.ShouldBe("mass-actions");
    }

    [Fact]
    public void PersistedEnums_KeepTheirNumbersAndNames()
    {
        ((int)MassActionState.PendingApproval, (int)MassActionState.Running, (int)MassActionState.Halted, (int)MassActionState.Completed, (int)MassActionState.Paused).ShouldBe((1, 2, 3, 4, 5));
        ((int)MassActionHaltCause.Manual, (int)MassActionHaltCause.KillSwitch, (int)MassActionHaltCause.Breaker).ShouldBe((1, 2, 3));
        ((int)MassActionApprovalKind.Start, (int)MassActionApprovalKind.Resume).ShouldBe((1, 2));
        ((int)PermitLimit.None, (int)PermitLimit.Cap, (int)PermitLimit.Throttle, (int)PermitLimit.Audience, (int)PermitLimit.State).ShouldBe((0, 1, 2, 3, 4));
        MassActionNames.States.Keys.ShouldBe(["pending_approval", "running", "halted", "completed", "paused"]);
        MassActionNames.HaltCauses.Keys.ShouldBe(["manual", "kill_switch", "breaker"]);
        MassActionNames.ApprovalKinds.Keys.ShouldBe(["start", "resume"]);
        MassActionNames.Limits.Keys.ShouldBe(["none", "max_per_minute", "throttle", "audience", "state"]);
    }
}
