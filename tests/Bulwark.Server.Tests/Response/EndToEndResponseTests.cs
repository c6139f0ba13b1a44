using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Response;
using Bulwark.Server.Detection;
using Bulwark.Server.Response;
using Bulwark.Server.Tests.Ingest;
using Bulwark.TestUtils;
using Bulwark.TestUtils.Fakes;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Response;

/// <summary>
/// The whole path on loopback: signed Standard Webhooks deliveries of an account takeover (an email change, then a
/// token rotation) → the sequence rule → an incident → its playbook, which waits for approval (the incident is below the
/// auto threshold) → a responder approves → the fake platform API, Slack, PagerDuty and Jira receive exactly the
/// documented requests → a rollback unsuspends the account and resolves the PagerDuty alert.
/// </summary>
public sealed class EndToEndResponseTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private IngestServer _ingest = null!;
    private FakePlatformApi _platform = null!;
    private FakeSlack _slack = null!;
    private FakePagerDuty _pagerDuty = null!;
    private FakeJira _jira = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private BulwarkTestServer Server => _ingest.Server;

    public async ValueTask InitializeAsync()
    {
        _platform = await FakePlatformApi.StartAsync();
        _slack = await FakeSlack.StartAsync();
        _pagerDuty = await FakePagerDuty.StartAsync();
        _jira = await FakeJira.StartAsync();
        _ingest = await IngestServer.StartAsync();
        _ingest.Secrets["PLATFORM_TOKEN"] = _platform.Token;
        _ingest.Secrets["SLACK_WEBHOOK_URL"] = _slack.WebhookUrl;
        _ingest.Secrets["PAGERDUTY_ROUTING_KEY"] = _pagerDuty.RoutingKey;
        _ingest.Secrets["JIRA_SECRET"] = _jira.Secret;
    }

    public async ValueTask DisposeAsync()
    {
        await _ingest.DisposeAsync();
        await _platform.DisposeAsync();
        await _slack.DisposeAsync();
        await _pagerDuty.DisposeAsync();
        await _jira.DisposeAsync();
    }

    private static async Task PutAsync(HttpClient admin, string path, string body)
    {
        using var response = await admin.PutAsync(path, BulwarkTestServer.Json(body), Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
    }

    /// <summary>The sequence rule, the four connectors and the playbook; then the two signed deliveries, detected.</summary>
    private async Task DeliverAccountTakeoverAsync(double autoThreshold, double irreversibleThreshold = 0.95)
    {
        using var admin = Server.CreateAdminClient();
        await PutAsync(admin, "v1/rules/contact-change-then-token-rotation", """
            {"type":"sequence","severity":"high","confidence":0.85,"group_by":["account_id"],"within":"60s","steps":[
              {"name":"contact-changed","match":{"all":[{"field":"event_type","equals":"account_changed"},{"field":"details.field","in":["email","phone"]}]}},
              {"name":"token-rotated","match":{"field":"event_type","equals":"token_rotated"}}]}
            """);
        await PutAsync(admin, "v1/connectors/instagram-api", $$"""{"type":"platform","platform":"instagram","url":"{{_platform.BaseAddress}}","secret":"env:PLATFORM_TOKEN"}""");
        await PutAsync(admin, "v1/connectors/slack-security", """{"type":"slack","secret":"env:SLACK_WEBHOOK_URL"}""");
        await PutAsync(admin, "v1/connectors/pagerduty", $$"""{"type":"pagerduty","url":"{{_pagerDuty.EnqueueUrl}}","secret":"env:PAGERDUTY_ROUTING_KEY"}""");
        await PutAsync(admin, "v1/connectors/jira", $$"""{"type":"jira","url":"{{_jira.BaseAddress}}","project":"{{_jira.Project}}","issue_type":"Task","secret":"env:JIRA_SECRET"}""");
        await PutAsync(admin, "v1/playbooks/contain-account-takeover", $$$"""
            {"trigger":{"rules":["contact-change-then-token-rotation"],"min_severity":"high","min_confidence":0.6},
             "auto_threshold":{{{autoThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture)}}},"irreversible_threshold":{{{irreversibleThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture)}}},"approval":{"roles":["responder"],"ttl":"30m","on_expiry":"deny"},
             "steps":[
              {"id":"revoke","action":"platform.revoke_tokens","connector":"instagram-api","for_each":"accounts"},
              {"id":"suspend","action":"platform.suspend","connector":"instagram-api","for_each":"accounts","depends_on":["revoke"],
               "with":{"until":"2026-03-03T00:00:00Z"},"compensate":{"action":"platform.unsuspend"}},
              {"id":"notify","action":"notify.slack","connector":"slack-security","depends_on":["revoke"],
               "with":{"text":"Account takeover contained: {{incident.accounts}} (incident {{incident.id}})"}},
              {"id":"page","action":"notify.pagerduty","connector":"pagerduty","depends_on":["revoke"],
               "with":{"summary":"{{incident.title}}","severity":"critical"},"compensate":{"action":"notify.pagerduty_resolve"}},
              {"id":"ticket","action":"ticket.jira","connector":"jira","depends_on":["revoke"],
               "with":{"summary":"Account takeover: {{incident.accounts}}","description":"Run {{run.id}} for incident {{incident.id}}","labels":["auto-response","account-takeover"]}}]}
            """);

        // The account takeover, delivered as two signed webhooks.
        var signer = await _ingest.StandardSourceAsync("idp");
        using var client = Server.CreateClient();
        var deliveries = new[]
        {
            TestEvents.Json("ato-1", "acct_ato", "198.51.100.23", "account_changed", "2026-03-02T01:00:00.000Z", new JsonObject { ["field"] = "email" }),
            TestEvents.Json("ato-2", "acct_ato", "198.51.100.23", "token_rotated", "2026-03-02T01:00:20.000Z"),
        };
        for (var i = 0; i < deliveries.Length; i++)
        {
            var body = deliveries[i].Replace("\"source\":\"svc\"", "\"source\":\"idp\"", StringComparison.Ordinal);
            using var request = signer.Request("idp", $"msg_ato_{i}", TimeProvider.System.GetUtcNow(), Encoding.UTF8.GetBytes(body));
            using var response = await client.SendAsync(request, Ct);
            response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Ct));
        }

        await _ingest.NormalizedAsync();
        (await _ingest.Events.QueryEventsAsync(new EventQuery(Account: "acct_ato"), Ct)).Count.ShouldBe(2);
        await Server.Services.GetRequiredService<DetectionPipeline>().WhenHandledAsync(_ingest.Events.LastOffset, Ct).WaitAsync(Patience, Ct);
    }

    [Fact]
    public async Task SignedDeliveriesOfAnAccountTakeover_AreContainedAfterApproval_WithTheDocumentedPayloads_AndRolledBack()
    {
        using var admin = Server.CreateAdminClient();
        await DeliverAccountTakeoverAsync(autoThreshold: 0.9);

        // Below the auto threshold: the run waits, and nothing has been called.
        var run = RunState.Read((await Server.Store.ListRunsAsync(new RunQuery(), Ct)).ShouldHaveSingleItem().Value.Document);
        run.Status.ShouldBe(RunStatus.WaitingApproval);
        var incident = (await Server.Store.GetIncidentAsync(run.IncidentId, Ct))!;
        incident.Accounts.ShouldBe(["acct_ato"]);
        (_platform.Requests.Count, _slack.Requests.Count, _pagerDuty.Requests.Count, _jira.Requests.Count).ShouldBe((0, 0, 0, 0));

        // A responder approves.
        using var responder = Server.CreateClient(await Server.CreateIdentityTokenAsync("rita", Role.Responder));
        (await responder.PostAsJsonAsync($"v1/approvals/{run.ApprovalId}/approve", new JsonObject { ["note"] = "owner confirmed" }, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var executor = Server.Services.GetRequiredService<RunExecutor>();
        var done = RunState.Read((await executor.WhenFinishedAsync(run.Id, Ct).WaitAsync(Patience, Ct)).Document);
        done.Status.ShouldBe(RunStatus.Succeeded, done.ToDocument().ToJsonString());

        // The platform API: POST …/revoke_tokens, then PATCH the account, each with its key and the incident's correlation id.
        var revoke = _platform.Requests.Single(r => r.Method == "POST");
        (revoke.Path, revoke.Header("Authorization")).ShouldBe(("/v1/accounts/acct_ato/revoke_tokens", "Bearer " + _platform.Token));
        revoke.Header("Idempotency-Key").ShouldBe(done.Step("revoke")!.Targets.Single().IdempotencyKey);
        revoke.Header("X-Correlation-ID").ShouldBe(incident.Id);
        revoke.Body.ShouldBeEmpty();
        var suspend = _platform.Requests.Single(r => r.Method == "PATCH");
        suspend.Path.ShouldBe("/v1/accounts/acct_ato");
        suspend.Json.ToJsonString().ShouldBe("""{"suspended":true,"suspended_until":"2026-03-03T00:00:00Z"}""");

        // Slack: an incoming-webhook message whose text is the fallback of its blocks.
        var message = _slack.Posted.ShouldHaveSingleItem();
        message["text"]!.GetValue<string>().ShouldBe($"Account takeover contained: acct_ato (incident {incident.Id})");
        message["blocks"]![0]!["type"]!.GetValue<string>().ShouldBe("section");
        message["blocks"]![0]!["text"]!["type"]!.GetValue<string>().ShouldBe("mrkdwn");

        // PagerDuty Events API v2: a trigger deduplicated by the incident.
        var trigger = _pagerDuty.Requests.Single().Json;
        (trigger["routing_key"]!.GetValue<string>(), trigger["event_action"]!.GetValue<string>(), trigger["dedup_key"]!.GetValue<string>())
            .ShouldBe((_pagerDuty.RoutingKey, "trigger", "bulwark-" + incident.Id));
        (trigger["payload"]!["summary"]!.GetValue<string>(), trigger["payload"]!["severity"]!.GetValue<string>()).ShouldBe((incident.Title, "critical"));
        trigger["payload"]!["source"]!.GetValue<string>().ShouldNotBeNullOrEmpty();

        // Jira REST v3: one issue, its description in the Atlassian Document Format.
        var issue = _jira.Issues.ShouldHaveSingleItem();
        issue.Fields["project"]!["key"]!.GetValue<string>().ShouldBe(_jira.Project);
        issue.Fields["issuetype"]!["name"]!.GetValue<string>().ShouldBe("Task");
        issue.Fields["summary"]!.GetValue<string>().ShouldBe("Account takeover: acct_ato");
        issue.Labels.ShouldBe(["bulwark", "bulwark-" + incident.Id, "auto-response", "account-takeover"]); // the first two find it again, never a second one
        var description = issue.Fields["description"]!;
        (description["type"]!.GetValue<string>(), description["version"]!.GetValue<int>()).ShouldBe(("doc", 1));
        description.ToJsonString().ShouldContain($"Run {run.Id} for incident {incident.Id}");

        // One click back: the account is unsuspended and the alert resolved; the revocation, message and ticket stay.
        (await responder.PostAsync($"v1/incidents/{incident.Id}/rollback", null, Ct)).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var rolledBack = RunState.Read((await executor.WhenFinishedAsync(run.Id, Ct).WaitAsync(Patience, Ct)).Document);
        rolledBack.Status.ShouldBe(RunStatus.RolledBack, rolledBack.ToDocument().ToJsonString());
        _platform.Account("acct_ato").Suspended.ShouldBeFalse();
        _platform.Requests[^1].Json.ToJsonString().ShouldBe("""{"suspended":false}""");
        var resolve = _pagerDuty.Requests[^1].Json;
        (resolve["event_action"]!.GetValue<string>(), resolve["dedup_key"]!.GetValue<string>()).ShouldBe(("resolve", "bulwark-" + incident.Id));
        _pagerDuty.Alerts.ShouldHaveSingleItem().Status.ShouldBe("resolved");
        (_slack.Requests.Count, _jira.Issues.Count).ShouldBe((1, 1));

        var audit = await admin.GetStringAsync("v1/audit?limit=1000", Ct);
        foreach (var action in new[] { "playbook.run.create", "approval.ask", "approval.approve", "playbook.run.succeeded", "incident.rollback", "playbook.run.rolled_back" })
        {
            audit.ShouldContain(action);
        }
    }

    [Fact]
    public async Task ResolvingTheIncident_ResolvesThePagerDutyAlertItsRunTriggered()
    {
        await DeliverAccountTakeoverAsync(autoThreshold: 0.8, irreversibleThreshold: 0.8);
        var run = (await Server.Store.ListRunsAsync(new RunQuery(), Ct)).ShouldHaveSingleItem().Value;
        var executor = Server.Services.GetRequiredService<RunExecutor>();
        (await executor.WhenFinishedAsync(run.Id, Ct).WaitAsync(Patience, Ct)).Status.ShouldBe("succeeded");
        _pagerDuty.Alerts.ShouldHaveSingleItem().Status.ShouldBe("triggered");

        using var responder = Server.CreateClient(await Server.CreateIdentityTokenAsync("rita", Role.Responder));
        (await responder.PostAsJsonAsync($"v1/incidents/{run.IncidentId}/resolve", new JsonObject { ["verdict"] = "true_positive" }, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        await executor.WhenSideWorkDoneAsync().WaitAsync(Patience, Ct);

        _pagerDuty.Alerts.ShouldHaveSingleItem().Status.ShouldBe("resolved");
        var resolve = _pagerDuty.Requests[^1];
        (resolve.Json["event_action"]!.GetValue<string>(), resolve.Json["dedup_key"]!.GetValue<string>()).ShouldBe(("resolve", "bulwark-" + run.IncidentId));
        resolve.Header("Idempotency-Key").ShouldBe(RunPlanner.IdempotencyKey(run.Id, "page.resolve", run.IncidentId));
        using var admin = Server.CreateAdminClient();
        (await admin.GetStringAsync("v1/audit?limit=1000", Ct)).ShouldContain("playbook.alert.resolve");
    }
}
