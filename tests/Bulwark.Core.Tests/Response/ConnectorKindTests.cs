using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Json;
using Bulwark.Manifests;
using Bulwark.Response;

namespace Bulwark.Core.Tests.Response;

public sealed class ConnectorKindTests
{
    private static ManifestResult<ConnectorDefinition> Read(string json) => ConnectorKind.Instance.Read(JsonNode.Parse(json)!.AsObject());

    private static IReadOnlyList<string> Paths(ManifestResult<ConnectorDefinition> result) => [.. result.Errors.Select(e => e.Path).Order(StringComparer.Ordinal)];

    [Fact]
    public void Read_APlatformConnector_WithMappingsAndATicketFallback()
    {
        var result = Read("""
            {"kind":"Connector","name":"instagram-api","type":"platform","url":"http://127.0.0.1:8089","secret":"env:IG_TOKEN",
             "platform":"instagram","timeout":"2s","breaker":{"failures":3,"open_for":"10s"},
             "actions":{"platform.expire_sessions":{"method":"POST","path":"/v2/users/{{target}}/logout","body":{"why":"{{incident.id}}"}},
                        "platform.force_password_reset":"ticket"},
             "ticket_connector":"jira"}
            """);

        result.Errors.ShouldBeEmpty();
        var connector = result.Value!;
        (connector.Type, connector.Url, connector.Secret!.ToString(), connector.Platform, connector.Timeout, connector.BreakerFailures, connector.BreakerOpenFor, connector.TicketConnector)
            .ShouldBe((ConnectorType.Platform, new Uri("http://127.0.0.1:8089"), "env:IG_TOKEN", "instagram", TimeSpan.FromSeconds(2), 3, TimeSpan.FromSeconds(10), "jira"));
        var expire = connector.MappingFor("platform.expire_sessions")!;
        (expire.Method, expire.Path, expire.Body!["why"]!.GetValue<string>()).ShouldBe(("POST", "/v2/users/{{target}}/logout", "{{incident.id}}"));
        connector.MappingFor("platform.force_password_reset")!.IsTicket.ShouldBeTrue();
        connector.MappingFor("platform.revoke_tokens").ShouldBeSameAs(ConnectorDefinition.DefaultPlatformMappings["platform.revoke_tokens"]);
        connector.MappingFor("notify.slack").ShouldBeNull();

        var document = ConnectorKind.Instance.ToDocument(connector);
        CanonicalJson.Serialize(ConnectorKind.Instance.ToDocument(ConnectorKind.Instance.Read(document).Value!)).ShouldBe(CanonicalJson.Serialize(document));
    }

    [Fact]
    public void Read_Defaults_PagerDutyUrlTimeoutBreakerAndIssueType()
    {
        var pagerDuty = Read("""{"name":"pd","type":"pagerduty","secret":"env:PD_ROUTING_KEY"}""").Value!;
        var jira = Read("""{"name":"jira","type":"jira","url":"https://example.atlassian.net","project":"SEC","secret":"file:/run/secrets/jira"}""").Value!;

        pagerDuty.Url.ShouldBe(new Uri("https://events.pagerduty.com/v2/enqueue"));
        (pagerDuty.Timeout, pagerDuty.BreakerFailures, pagerDuty.BreakerOpenFor).ShouldBe((TimeSpan.FromSeconds(5), 5, TimeSpan.FromSeconds(30)));
        pagerDuty.Actions.ShouldBeEmpty();
        (jira.Project, jira.IssueType, jira.Secret).ShouldBe(("SEC", "Task", new Bulwark.Ingest.SecretReference("file", "/run/secrets/jira")));
    }

    [Theory]
    [InlineData("""{"name":"c","type":"slack"}""", "/secret")]
    [InlineData("""{"name":"c","type":"slack","secret":"env:S","url":"https://hooks.slack.com/services/T/B/X"}""", "/url")]
    [InlineData("""{"name":"c","type":"pagerduty"}""", "/secret")]
    [InlineData("""{"name":"c","type":"jira","url":"https://x.atlassian.net","secret":"env:J"}""", "/project")]
    [InlineData("""{"name":"c","type":"jira","project":"SEC","secret":"env:J"}""", "/url")]
    [InlineData("""{"name":"c","type":"jira","project":"SEC","url":"https://x.atlassian.net"}""", "/secret")]
    [InlineData("""{"name":"c","type":"webhook","secret":"env:W"}""", "/url")]
    [InlineData("""{"name":"c","type":"webhook","url":"https://partner.example/hooks"}""", "/secret")]
    [InlineData("""{"name":"c","type":"platform","url":"https://api.example"}""", "/platform")]
    [InlineData("""{"name":"c","type":"platform","platform":"x"}""", "/url")]
    [InlineData("""{"name":"c","type":"http"}""", "/url")]
    [InlineData("""{"name":"c","type":"slack","secret":"env:S","platform":"x"}""", "/platform")]
    [InlineData("""{"name":"c","type":"http","url":"https://a.example","project":"SEC"}""", "/project")]
    [InlineData("""{"name":"c","type":"http","url":"https://a.example","issue_type":"Bug"}""", "/issue_type")]
    [InlineData("""{"name":"c","type":"http","url":"https://a.example","actions":{}}""", "/actions")]
    [InlineData("""{"name":"c","type":"http","url":"https://a.example","ticket_connector":"jira"}""", "/ticket_connector")]
    public void Read_WhatATypeNeedsOrRefuses_IsReportedAtTheField(string json, string path)
    {
        Paths(Read(json)).ShouldBe([path]);
    }

    [Fact]
    public void Read_ASecretValue_IsRefused_OnlyReferencesAreTaken()
    {
        var result = Read("""{"name":"pd","type":"pagerduty","secret":"R0UTINGKEY0123456789abcdef012345"}""");

        var error = result.Errors.ShouldHaveSingleItem();
        error.Path.ShouldBe("/secret");
        error.Message.ShouldContain("env:NAME");
    }

    [Fact]
    public void Read_EveryOtherProblem_IsReportedAtOnceWithItsPath()
    {
        var result = Read("""
            {"name":"ig","type":"platform","url":"ftp://user:pw@host","platform":"Insta Gram","timeout":"1h",
             "breaker":{"failures":0.5,"open_for":"1ms","extra":1},
             "actions":{"notify.slack":"ticket","platform.suspend":"later","platform.unsuspend":{"method":"YEET","path":"v1/x/{{nope}}","body":[1],"extra":1},
                        "platform.revoke_tokens":{"path":"/v1/{{target}}","body":{"a":"{{with}}"}}},
             "ticket_connector":"ig","project":"sec","issue_type":"","type2":1}
            """);

        Paths(result).ShouldBe(
            ["/actions/notify.slack", "/actions/platform.revoke_tokens/body/a", "/actions/platform.revoke_tokens/method", "/actions/platform.suspend",
             "/actions/platform.unsuspend/body", "/actions/platform.unsuspend/extra", "/actions/platform.unsuspend/method", "/actions/platform.unsuspend/path",
             "/breaker/extra", "/breaker/failures", "/breaker/open_for", "/issue_type", "/issue_type", "/platform", "/project", "/project", "/ticket_connector",
             "/timeout", "/type2", "/url"]);
    }

    [Fact]
    public void Read_ATicketMappingWithoutTicketConnector_IsRefused()
    {
        var result = Read("""{"name":"x","type":"platform","url":"https://api.x.example","platform":"x","actions":{"platform.suspend":"ticket"}}""");

        result.Errors.ShouldHaveSingleItem().Path.ShouldBe("/ticket_connector");
    }

    [Fact]
    public void MappingTemplates_MayReadTheStepsParameters_AndRenderThem()
    {
        var suspend = ConnectorDefinition.DefaultPlatformMappings["platform.suspend"];
        var context = ResponseContext.Create(RunPlannerTests.Incident(0.9), "run_1", "p", "corr", target: "acct_7", parameters: new JsonObject { ["until"] = "2026-12-01T00:00:00Z" });

        Templates.Compile(suspend.Path).RenderText(context).ShouldBe("/v1/accounts/acct_7");
        var body = Templates.Compile(suspend.Body!, parameters: true).Render(context);
        (body["suspended"]!.GetValue<bool>(), body["suspended_until"]!.GetValue<string>()).ShouldBe((true, "2026-12-01T00:00:00Z"));
        Should.Throw<FormatException>(() => Templates.Compile(suspend.Body!));
        Templates.TryCompile("{{with.until}}", out _, out var error).ShouldBeFalse();
        error.ShouldNotBeNull().ShouldContain("unknown name");
    }

    [Fact]
    public void CheckConnectors_FindsMissingAndMistypedConnectors()
    {
        var playbook = PlaybookKind.Instance.Read(JsonNode.Parse("""
            {"name":"p","trigger":{},"steps":[
              {"id":"a","action":"platform.suspend","connector":"ig","for_each":"accounts"},
              {"id":"b","action":"notify.slack","connector":"ig"},
              {"id":"c","action":"notify.pagerduty","connector":"ghost"},
              {"id":"d","action":"flag.kill"},
              {"id":"e","action":"platform.revoke_tokens","connector":"x","for_each":"accounts"}]}
            """)!.AsObject()).Value!;
        var connectors = new Dictionary<string, ConnectorDefinition>
        {
            ["ig"] = Read("""{"name":"ig","type":"platform","url":"https://api.ig.example","platform":"instagram"}""").Value!,
            ["x"] = Read("""{"name":"x","type":"platform","url":"https://api.x.example","platform":"x","actions":{"platform.revoke_tokens":"ticket"},"ticket_connector":"slack"}""").Value!,
            ["slack"] = Read("""{"name":"slack","type":"slack","secret":"env:SLACK_URL"}""").Value!,
        };

        var errors = PlaybookChecks.CheckConnectors(playbook, connectors.GetValueOrDefault);

        errors.Select(e => e.Path).ShouldBe(["/steps/1/connector", "/steps/2/connector", "/steps/4/connector"]);
        errors[0].Message.ShouldContain("needs a slack one");
        errors[1].Message.ShouldContain("no connector 'ghost'");
        errors[2].Message.ShouldContain("not a jira connector");
    }

    [Fact]
    public void PersistedEnums_KeepTheirNumbersAndNames()
    {
        ((int)ConnectorType.Platform, (int)ConnectorType.Slack, (int)ConnectorType.PagerDuty, (int)ConnectorType.Jira, (int)ConnectorType.Webhook, (int)ConnectorType.Http)
            .ShouldBe((1, 2, 3, 4, 5, 6));
        ResponseNames.ConnectorTypes.Keys.ShouldBe(["platform", "slack", "pagerduty", "jira", "webhook", "http"]);
        ((int)StepTargets.Incident, (int)StepTargets.Accounts, (int)StepTargets.Ips).ShouldBe((0, 1, 2));
        ResponseNames.Targets.Keys.ShouldBe(["incident", "accounts", "ips"]);
        ((int)ApprovalExpiry.Deny, (int)ApprovalExpiry.Escalate).ShouldBe((1, 2));
        ResponseNames.Expiries.Keys.ShouldBe(["deny", "escalate"]);
        ((int)RetryOn.None, (int)RetryOn.Timeout, (int)RetryOn.ServerError, (int)RetryOn.TooManyRequests).ShouldBe((0, 1, 2, 4));
        ResponseNames.RetryFailures.Keys.ShouldBe(["timeout", "5xx", "429"]);
        ((int)Severity.Low).ShouldBe(1);
    }

    [Fact]
    public void Kinds_AreRegistered_ConnectorsBeforePlaybooks()
    {
        ManifestKinds.Find("Playbook").ShouldBeSameAs(PlaybookKind.Instance);
        ManifestKinds.Find("Connector").ShouldBeSameAs(ConnectorKind.Instance);
        ManifestKinds.OrderOf(ConnectorKind.Instance).ShouldBeLessThan(ManifestKinds.OrderOf(PlaybookKind.Instance));
        ManifestKinds.OrderOf(Bulwark.Detection.Rules.RuleManifestKind.Instance).ShouldBeLessThan(ManifestKinds.OrderOf(PlaybookKind.Instance));
        (PlaybookKind.Instance.Plural, ConnectorKind.Instance.Plural).ShouldBe(("playbooks", "connectors"));
        (PlaybookKind.Instance.ChangeCapability, ConnectorKind.Instance.ChangeCapability).ShouldBe((Bulwark.Identity.Capability.Configure, Bulwark.Identity.Capability.Configure));
    }
}
