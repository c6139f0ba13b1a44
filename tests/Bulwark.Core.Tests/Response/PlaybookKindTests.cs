using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Identity;
using Bulwark.Json;
using Bulwark.Manifests;
using Bulwark.Response;

namespace Bulwark.Core.Tests.Response;

public sealed class PlaybookKindTests
{
    private const string Takeover = """
        {"kind":"Playbook","name":"contain-account-takeover",
         "trigger":{"rules":["contact-change-then-token-rotation"],"min_severity":"high","min_confidence":0.6},
         "auto_threshold":0.8,"irreversible_threshold":0.95,"dry_run":false,
         "steps":[
           {"id":"revoke","action":"platform.revoke_tokens","connector":"instagram-api","for_each":"accounts",
            "with":{"reason":"incident {{incident.id}}"},
            "retry":{"count":3,"initial":"500ms","max":"30s","on":["timeout","5xx","429"]},"timeout":"5s",
            "compensate":{"action":"platform.unsuspend","with":{}}},
           {"id":"page","action":"notify.pagerduty","connector":"pagerduty","depends_on":["revoke"],
            "run_if":"incident.severity == 'critical' || incident.confidence >= 0.9",
            "requires_approval":{"roles":["responder"],"ttl":"15m","on_expiry":"escalate","escalate_to":["admin"]}}]}
        """;

    private static ManifestResult<PlaybookDefinition> Read(string json) => PlaybookKind.Instance.Read(JsonNode.Parse(json)!.AsObject());

    private static ManifestResult<PlaybookDefinition> ReadSteps(string steps, string extra = "") =>
        Read($$"""{"name":"p","trigger":{}{{extra}},"steps":{{steps}}}""");

    private static IReadOnlyList<string> Paths(ManifestResult<PlaybookDefinition> result) => [.. result.Errors.Select(e => e.Path)];

    [Fact]
    public void Read_TheIssuesExample_GivesEveryField()
    {
        var result = Read(Takeover);

        result.Errors.ShouldBeEmpty();
        var playbook = result.Value!;
        (playbook.Name, playbook.AutoThreshold, playbook.IrreversibleThreshold, playbook.DryRun).ShouldBe(("contain-account-takeover", 0.8, 0.95, false));
        playbook.Trigger.ShouldBe(new PlaybookTrigger(playbook.Trigger.Rules, Severity.High, 0.6));
        playbook.Trigger.Rules.ShouldBe(["contact-change-then-token-rotation"]);
        playbook.Approval.ShouldBe(ApprovalRequirement.Default);

        var revoke = playbook.Steps[0];
        (revoke.Id, revoke.Action, revoke.Connector, revoke.ForEach, revoke.Timeout).ShouldBe(("revoke", "platform.revoke_tokens", "instagram-api", StepTargets.Accounts, TimeSpan.FromSeconds(5)));
        revoke.With["reason"]!.GetValue<string>().ShouldBe("incident {{incident.id}}");
        revoke.Retry.ShouldBe(new RetryPolicy(3, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), RetryOn.Timeout | RetryOn.ServerError | RetryOn.TooManyRequests));
        revoke.Compensate!.Action.ShouldBe("platform.unsuspend");
        revoke.Reversible.ShouldBeTrue();

        var page = playbook.Steps[1];
        (page.ForEach, page.RunIf, page.Reversible).ShouldBe((StepTargets.Incident, "incident.severity == 'critical' || incident.confidence >= 0.9", false));
        page.DependsOn.ShouldBe(["revoke"]);
        var approval = page.RequiresApproval!;
        (approval.Ttl, approval.OnExpiry).ShouldBe((TimeSpan.FromMinutes(15), ApprovalExpiry.Escalate));
        approval.Roles.ShouldBe([Role.Responder]);
        approval.EscalateTo.ShouldBe([Role.Admin]);
    }

    [Fact]
    public void ToDocument_ReadsBackToTheSameDocument()
    {
        var playbook = Read(Takeover).Value!;

        var document = PlaybookKind.Instance.ToDocument(playbook);

        document["kind"]!.GetValue<string>().ShouldBe("Playbook");
        var again = PlaybookKind.Instance.Read(document).Value!;
        CanonicalJson.Serialize(PlaybookKind.Instance.ToDocument(again)).ShouldBe(CanonicalJson.Serialize(document));
        playbook.Document.ContainsKey("kind").ShouldBeFalse();
    }

    [Fact]
    public void Read_Defaults_AreTheDocumentedOnes()
    {
        var playbook = ReadSteps("""[{"id":"snap","action":"evidence.snapshot"}]""").Value!;

        (playbook.AutoThreshold, playbook.IrreversibleThreshold, playbook.DryRun).ShouldBe((0.9, 0.95, false));
        playbook.Trigger.ShouldBe(new PlaybookTrigger(playbook.Trigger.Rules, Severity.Low, 0));
        playbook.Trigger.Rules.ShouldBeEmpty();
        var step = playbook.Steps.ShouldHaveSingleItem();
        (step.ForEach, step.Timeout, step.Retry, step.Connector, step.Compensate, step.RequiresApproval)
            .ShouldBe((StepTargets.Incident, TimeSpan.FromSeconds(10), RetryPolicy.Default, (string?)null, (StepCompensation?)null, (ApprovalRequirement?)null));
        step.With.ShouldBeEmpty();
    }

    [Fact]
    public void Read_AnIrreversibleStepBelowTheIrreversibleThreshold_IsValid()
    {
        // The executor asks for approval before it; the threshold is a gate, not a refusal.
        var result = ReadSteps("""[{"id":"reset","action":"platform.force_password_reset","connector":"ig","for_each":"accounts"}]""", ""","auto_threshold":0.5""");

        result.Errors.ShouldBeEmpty();
        result.Value!.Steps[0].Reversible.ShouldBeFalse();
    }

    [Fact]
    public void Read_EveryTopLevelProblem_IsReportedAtOnceWithItsPath()
    {
        var result = Read("""
            {"name":"Bad Name","trigger":{"rules":["Not A Rule"],"min_severity":"loud","min_confidence":2,"extra":1},
             "auto_threshold":1.5,"irreversible_threshold":"high","dry_run":"no","approval":{"roles":[],"on_expiry":"shrug"},
             "steps":[],"surprise":true}
            """);

        Paths(result).Order(StringComparer.Ordinal).ShouldBe(
            ["/approval/on_expiry", "/approval/roles", "/auto_threshold", "/dry_run", "/irreversible_threshold", "/name", "/steps", "/surprise",
             "/trigger/extra", "/trigger/min_confidence", "/trigger/min_severity", "/trigger/rules/0"]);
    }

    [Fact]
    public void Read_WithoutTriggerOrSteps_SaysTheyAreRequired()
    {
        var result = Read("""{"name":"p"}""");

        Paths(result).ShouldBe(["/trigger", "/steps"]);
        result.Errors.ShouldAllBe(e => e.Message.StartsWith("is required", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_IrreversibleThresholdBelowAutoThreshold_IsRefused()
    {
        var result = ReadSteps("""[{"id":"s","action":"evidence.snapshot"}]""", ""","auto_threshold":0.9,"irreversible_threshold":0.8""");

        result.Errors.ShouldHaveSingleItem().Path.ShouldBe("/irreversible_threshold");
        result.Errors[0].Message.ShouldContain("auto_threshold");
    }

    [Fact]
    public void Read_StepFieldProblems_AreReportedAtTheirPaths()
    {
        var result = ReadSteps("""
            [{"id":"Bad Id","action":"platform.nuke","connector":"Bad Name","for_each":"everyone","with":"x","depends_on":"a",
              "run_if":7,"retry":{"count":11,"initial":"soon","max":"1s","on":["teapot"],"extra":1},"timeout":"1h",
              "compensate":{"action":"flag.unkill"},"requires_approval":{"roles":["viewer","ingest","chief"],"ttl":"1s","on_expiry":"deny"},"extra":1}]
            """);

        Paths(result).Order(StringComparer.Ordinal).ShouldBe(
            ["/steps/0/action", "/steps/0/compensate/action", "/steps/0/connector", "/steps/0/depends_on", "/steps/0/extra", "/steps/0/for_each", "/steps/0/id",
             "/steps/0/requires_approval/roles/0", "/steps/0/requires_approval/roles/1", "/steps/0/requires_approval/roles/2", "/steps/0/requires_approval/ttl",
             "/steps/0/retry/count", "/steps/0/retry/extra", "/steps/0/retry/initial", "/steps/0/retry/on/0", "/steps/0/run_if", "/steps/0/timeout", "/steps/0/with"]);
    }

    [Fact]
    public void Read_RetryMaxBelowInitial_AndAFractionalCount_AreRefused()
    {
        var result = ReadSteps("""[{"id":"s","action":"evidence.snapshot","retry":{"count":1.5,"initial":"2s","max":"1s"}}]""");

        Paths(result).ShouldBe(["/steps/0/retry/count", "/steps/0/retry/max"]);
    }

    [Fact]
    public void Read_RetryWithSomeFields_TakesTheOthersFromTheDefault()
    {
        var step = ReadSteps("""[{"id":"s","action":"evidence.snapshot","retry":{"count":5,"on":["429"]}}]""").Value!.Steps[0];

        step.Retry.ShouldBe(RetryPolicy.Default with { Count = 5, On = RetryOn.TooManyRequests });
    }

    [Fact]
    public void Read_RetryOn_TakesABare429_AsYamlWritesIt()
    {
        var step = ReadSteps("""[{"id":"s","action":"evidence.snapshot","retry":{"on":["timeout",429]}}]""").Value!.Steps[0];

        step.Retry.On.ShouldBe(RetryOn.Timeout | RetryOn.TooManyRequests);
    }

    [Fact]
    public void Read_AStepWithAnError_StillCountsAsExisting_ForItsDependents()
    {
        var result = ReadSteps("""[{"id":"a","action":"platform.nuke"},{"id":"b","action":"evidence.snapshot","depends_on":["a"]}]""");

        result.Errors.ShouldHaveSingleItem().Path.ShouldBe("/steps/0/action");
    }

    [Fact]
    public void Read_DuplicateStepIds_NameTheFirst()
    {
        var result = ReadSteps("""[{"id":"a","action":"evidence.snapshot"},{"id":"a","action":"evidence.snapshot"}]""");

        var error = result.Errors.ShouldHaveSingleItem();
        (error.Path, error.Message).ShouldBe(("/steps/1/id", "'a' is also the id of step 0"));
    }

    [Fact]
    public void Read_DependsOnProblems_AreReportedPerItem()
    {
        var result = ReadSteps("""[{"id":"a","action":"evidence.snapshot","depends_on":["a","ghost","b","b"]},{"id":"b","action":"evidence.snapshot"}]""");

        Paths(result).ShouldBe(["/steps/0/depends_on/0", "/steps/0/depends_on/1", "/steps/0/depends_on/3"]);
        result.Errors[0].Message.ShouldContain("itself");
        result.Errors[1].Message.ShouldContain("no step 'ghost'");
        result.Errors[2].Message.ShouldContain("twice");
    }

    [Fact]
    public void Read_ADependsOnLaterStep_IsAllowed()
    {
        var result = ReadSteps("""[{"id":"a","action":"evidence.snapshot","depends_on":["b"]},{"id":"b","action":"evidence.snapshot"}]""");

        result.Errors.ShouldBeEmpty();
    }

    [Fact]
    public void Read_ACycle_IsReportedAtEveryStepOnIt()
    {
        var result = ReadSteps("""
            [{"id":"a","action":"evidence.snapshot","depends_on":["c"]},{"id":"b","action":"evidence.snapshot","depends_on":["a"]},
             {"id":"c","action":"evidence.snapshot","depends_on":["b"]},{"id":"d","action":"evidence.snapshot","depends_on":["a"]}]
            """);

        Paths(result).ShouldBe(["/steps/0/depends_on", "/steps/1/depends_on", "/steps/2/depends_on"]);
        result.Errors[0].Message.ShouldBe("forms a cycle: a → c → b → a");
    }

    [Fact]
    public void Read_AnActionThatCallsOut_NeedsAConnector_AndABuiltInOneTakesNone()
    {
        var result = ReadSteps("""
            [{"id":"a","action":"notify.slack"},{"id":"b","action":"flag.kill","connector":"slack"},
             {"id":"c","action":"flag.kill","connector":"pd","compensate":{"action":"notify.pagerduty_resolve"}}]
            """);

        Paths(result).ShouldBe(["/steps/0/connector", "/steps/1/connector"]);
        result.Errors[0].Message.ShouldBe("is required: notify.slack calls out through a slack connector");
        result.Errors[1].Message.ShouldContain("takes no connector");
    }

    [Fact]
    public void Read_ACompensationThatCallsAnotherConnectorType_IsRefused()
    {
        var result = ReadSteps("""[{"id":"a","action":"platform.suspend","connector":"ig","for_each":"accounts","compensate":{"action":"notify.slack"}}]""");

        result.Errors.ShouldHaveSingleItem().Path.ShouldBe("/steps/0/compensate");
    }

    [Theory]
    [InlineData("platform.revoke_tokens", "ips")]
    [InlineData("platform.suspend", "incident")]
    [InlineData("ticket.jira", "accounts")]
    [InlineData("flag.kill", "ips")]
    public void Read_ForEachAnActionCannotActOn_IsRefused(string action, string forEach)
    {
        var result = ReadSteps($$"""[{"id":"a","action":"{{action}}","connector":"c","for_each":"{{forEach}}"}]""".Replace("\"connector\":\"c\",", PlaybookActions.Find(action)!.CallsOut ? "\"connector\":\"c\"," : string.Empty, StringComparison.Ordinal));

        result.Errors.ShouldHaveSingleItem().Path.ShouldBe("/steps/0/for_each");
    }

    [Fact]
    public void Read_EscalateWithoutEscalateTo_AndDenyWithIt_AreRefused()
    {
        var result = ReadSteps("""
            [{"id":"a","action":"evidence.snapshot","requires_approval":{"roles":["approver"],"on_expiry":"escalate"}},
             {"id":"b","action":"evidence.snapshot","requires_approval":{"roles":["approver"],"on_expiry":"deny","escalate_to":["admin"]}},
             {"id":"c","action":"evidence.snapshot","requires_approval":{"roles":["approver"]}}]
            """);

        Paths(result).ShouldBe(["/steps/0/requires_approval/escalate_to", "/steps/1/requires_approval/escalate_to", "/steps/2/requires_approval/on_expiry"]);
    }

    [Fact]
    public void Read_APlaybookApproval_ReplacesTheDefault()
    {
        var playbook = ReadSteps("""[{"id":"a","action":"evidence.snapshot"}]""", ""","approval":{"roles":["approver","admin"],"ttl":"1h","on_expiry":"escalate","escalate_to":["admin"]}""").Value!;

        playbook.Approval.Roles.ShouldBe([Role.Approver, Role.Admin]);
        (playbook.Approval.Ttl, playbook.Approval.OnExpiry).ShouldBe((TimeSpan.FromHours(1), ApprovalExpiry.Escalate));
    }

    [Fact]
    public void Read_RunIfThatDoesNotParse_GivesThePosition()
    {
        var result = ReadSteps("""[{"id":"a","action":"evidence.snapshot","run_if":"incident.confidence >= "}]""");

        var error = result.Errors.ShouldHaveSingleItem();
        error.Path.ShouldBe("/steps/0/run_if");
        error.Message.ShouldStartWith("at 24:");
    }

    [Fact]
    public void Read_TemplatesThatDoNotParse_AreReportedAtTheirOwnPath()
    {
        var result = ReadSteps("""
            [{"id":"a","action":"http.request","connector":"h","with":{"path":"/x/{{target","body":{"who":["ok {{target}}","{{incident.owner}}"]}},
              "compensate":{"action":"http.request","with":{"note":"{{ nowhere.at.all }}"}}}]
            """);

        Paths(result).ShouldBe(["/steps/0/with/path", "/steps/0/with/body/who/1", "/steps/0/compensate/with/note"]);
    }

    [Fact]
    public void Read_AStepOutputIsReadable_OnlyFromStepsThatDependOnIt()
    {
        var result = ReadSteps("""
            [{"id":"ticket","action":"ticket.jira","connector":"j"},
             {"id":"tell","action":"notify.slack","connector":"s","depends_on":["ticket"],"with":{"text":"{{steps.ticket.output.key}}"}},
             {"id":"later","action":"notify.slack","connector":"s","depends_on":["tell"],"run_if":"steps.ticket.output.key != null"},
             {"id":"early","action":"notify.slack","connector":"s","with":{"text":"{{steps.ticket.output.key}}"}},
             {"id":"undo","action":"platform.suspend","connector":"p","for_each":"accounts","compensate":{"action":"platform.unsuspend","with":{"n":"{{steps.undo.output.n}}"}}}]
            """);

        var error = result.Errors.ShouldHaveSingleItem();
        error.Path.ShouldBe("/steps/3/with/text");
        error.Message.ShouldContain("depends_on");
    }

    [Fact]
    public void Trigger_Matches_OnRuleSeverityAndConfidence()
    {
        var trigger = new PlaybookTrigger(["ato"], Severity.High, 0.6);
        var incident = RunPlannerTests.Incident(0.7) with { Rules = ["other", "ato"], Severity = Severity.High };

        trigger.Matches(incident).ShouldBeTrue();
        trigger.Matches(incident with { Rules = ["other"] }).ShouldBeFalse();
        trigger.Matches(incident with { Severity = Severity.Medium }).ShouldBeFalse();
        trigger.Matches(incident with { Confidence = 0.59 }).ShouldBeFalse();
        (trigger with { Rules = [] }).Matches(incident with { Rules = ["other"] }).ShouldBeTrue();
    }
}
