using System.Text.Json.Nodes;
using Bulwark.Response;

namespace Bulwark.Core.Tests.Response;

public sealed class PlaybookActionsTests
{
    [Fact]
    public void TheIssuesActions_AreAllKnown_WithTheConnectorTypeTheyCall()
    {
        string[] builtIn = ["flag.kill", "flag.set_state", "throttle.tighten", "throttle.block", "mass_action.halt", "evidence.snapshot"];
        builtIn.ShouldAllBe(a => PlaybookActions.Find(a) != null && !PlaybookActions.Find(a)!.CallsOut);

        PlaybookActions.Find("platform.revoke_tokens")!.Connector.ShouldBe(ConnectorType.Platform);
        PlaybookActions.Find("platform.force_password_reset")!.Connector.ShouldBe(ConnectorType.Platform);
        PlaybookActions.Find("notify.slack")!.Connector.ShouldBe(ConnectorType.Slack);
        PlaybookActions.Find("notify.pagerduty")!.Connector.ShouldBe(ConnectorType.PagerDuty);
        PlaybookActions.Find("ticket.jira")!.Connector.ShouldBe(ConnectorType.Jira);
        PlaybookActions.Find("webhook.signed")!.Connector.ShouldBe(ConnectorType.Webhook);
        PlaybookActions.Find("http.request")!.Connector.ShouldBe(ConnectorType.Http);
        PlaybookActions.Find("platform.nuke").ShouldBeNull();
        PlaybookActions.Find(null).ShouldBeNull();
        PlaybookActions.All.Select(a => a.Name).ShouldBeUnique();
    }

    [Fact]
    public void Reverses_AreNaturalPairs_AndEveryReverseIsAnAction()
    {
        PlaybookActions.ReverseOf("platform.suspend").ShouldBe("platform.unsuspend");
        PlaybookActions.ReverseOf("platform.unsuspend").ShouldBe("platform.suspend");
        PlaybookActions.ReverseOf("flag.kill").ShouldBe("flag.set_state");
        PlaybookActions.ReverseOf("throttle.block").ShouldBe("throttle.unblock");
        PlaybookActions.ReverseOf("throttle.tighten").ShouldBe("throttle.relax");
        PlaybookActions.ReverseOf("notify.pagerduty").ShouldBe("notify.pagerduty_resolve");
        PlaybookActions.ReverseOf("platform.revoke_tokens").ShouldBeNull();
        PlaybookActions.ReverseOf("unknown").ShouldBeNull();
        foreach (var action in PlaybookActions.All.Where(a => a.Reverse is not null))
        {
            var reverse = PlaybookActions.Find(action.Reverse).ShouldNotBeNull();
            reverse.Connector.ShouldBe(action.Connector, $"{action.Name} and {reverse.Name} go through one connector");
        }
    }

    [Fact]
    public void CompiledPlaybook_CompilesEveryStepsConditionAndTemplates()
    {
        var playbook = PlaybookKind.Instance.Read(JsonNode.Parse("""
            {"name":"p","trigger":{},"steps":[
              {"id":"a","action":"notify.slack","connector":"s","with":{"text":"ATO {{incident.id}}"},"run_if":"incident.confidence >= 0.9"},
              {"id":"b","action":"throttle.block","for_each":"ips","with":{"key":"{{target}}"},"compensate":{"action":"throttle.unblock","with":{"key":"{{target}}"}}}]}
            """)!.AsObject()).Value!;
        var compiled = CompiledPlaybook.Compile(playbook);
        var context = ResponseContext.Create(RunPlannerTests.Incident(0.95), "run_1", "p", "corr", target: "203.0.113.7");

        compiled.Definition.ShouldBeSameAs(playbook);
        compiled.Step("a").RunIf!.Evaluate(context).ShouldBeTrue();
        compiled.Step("a").RunIf!.Evaluate(ResponseContext.Create(RunPlannerTests.Incident(0.5), "run_1", "p", "corr")).ShouldBeFalse();
        compiled.Step("a").With.Render(context)["text"]!.GetValue<string>().ShouldBe("ATO inc_1");
        compiled.Step("a").CompensateWith.ShouldBeNull();
        compiled.Step("b").RunIf.ShouldBeNull();
        compiled.Step("b").CompensateWith!.Render(context)["key"]!.GetValue<string>().ShouldBe("203.0.113.7");
        Should.Throw<KeyNotFoundException>(() => compiled.Step("ghost"));
    }
}
