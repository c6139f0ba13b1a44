using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Response;
using Bulwark.Server.Response.Connectors;
using Bulwark.TestUtils.Fakes;

namespace Bulwark.Server.Tests.Response.Connectors;

/// <summary><c>ticket.jira</c> against a loopback Jira Cloud: one issue per incident, whatever happens.</summary>
public sealed class JiraTicketHandlerTests : IAsyncLifetime
{
    private readonly ConnectorKit _kit = new();
    private FakeJira _jira = null!;

    public async ValueTask InitializeAsync() => _jira = await FakeJira.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _jira.DisposeAsync();
        await _kit.DisposeAsync();
    }

    [Fact]
    public async Task FirstTicket_SearchesByTheIncidentLabel_ThenCreatesAnAdfIssue()
    {
        var call = _kit.Call(JiraTicketHandler.Action, Jira(), parameters: new JsonObject { ["priority"] = "High", ["labels"] = new JsonArray("ato") });

        var outcome = await _kit.ExecuteAsync(call);

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        outcome.HttpStatus.ShouldBe(201);
        _jira.Requests.Count.ShouldBe(2);
        var search = _jira.Requests[0];
        (search.Method, search.Path).ShouldBe(("GET", "/rest/api/3/search/jql"));
        System.Web.HttpUtility.ParseQueryString(search.Query)["jql"].ShouldBe($"labels = \"bulwark-{call.Incident.Id}\"");
        var create = _jira.Requests[1];
        (create.Method, create.Path).ShouldBe(("POST", "/rest/api/3/issue"));
        var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(_jira.Secret));
        _jira.Requests.ShouldAllBe(r => r.Header("Authorization") == basic && r.Header("Idempotency-Key") == call.IdempotencyKey);
        var fields = create.Json["fields"]!;
        fields["project"]!["key"]!.GetValue<string>().ShouldBe("SEC");
        fields["issuetype"]!["name"]!.GetValue<string>().ShouldBe("Task");
        fields["priority"]!["name"]!.GetValue<string>().ShouldBe("High");
        fields["labels"]!.AsArray().Select(l => l!.GetValue<string>()).ShouldBe(["bulwark", "bulwark-" + call.Incident.Id, "ato"]);
        var description = fields["description"]!;
        (description["type"]!.GetValue<string>(), description["version"]!.GetValue<int>()).ShouldBe(("doc", 1));
        var text = description.ToJsonString();
        text.ShouldContain(call.Incident.Id);
        text.ShouldContain("acct-1001, acct-1002");
        text.ShouldContain($"{ConnectorKit.PublicUrl}v1/incidents/{call.Incident.Id}");
        var issue = _jira.Issues.ShouldHaveSingleItem();
        var output = outcome.Output.ShouldNotBeNull();
        output["key"]!.GetValue<string>().ShouldBe(issue.Key);
        output["id"]!.GetValue<string>().ShouldBe(issue.Id);
        output["url"]!.GetValue<string>().ShouldBe(new Uri(_jira.BaseAddress, "browse/" + issue.Key).AbsoluteUri);
        output["created"]!.GetValue<bool>().ShouldBeTrue();
    }

    [Fact]
    public async Task SecondTicket_ForTheSameIncident_ReusesTheIssue()
    {
        var first = await _kit.ExecuteAsync(_kit.Call(JiraTicketHandler.Action, Jira(), step: "ticket"));
        var second = await _kit.ExecuteAsync(_kit.Call(JiraTicketHandler.Action, Jira(), step: "ticket-escalation"));

        var issue = _jira.Issues.ShouldHaveSingleItem();
        first.Output!["key"]!.GetValue<string>().ShouldBe(issue.Key);
        second.Succeeded.ShouldBeTrue(second.Error);
        second.Output.ShouldNotBeNull()["key"]!.GetValue<string>().ShouldBe(issue.Key);
        second.Output["created"]!.GetValue<bool>().ShouldBeFalse();
    }

    [Fact]
    public async Task AfterARestart_TheSearchFindsTheIssue_AndNoSecondIsFiled()
    {
        await _kit.ExecuteAsync(_kit.Call(JiraTicketHandler.Action, Jira(), step: "ticket"));
        await using var restarted = new ConnectorKit(_kit.Time, _kit.Secrets, _kit.Connectors);

        var again = await restarted.ExecuteAsync(restarted.Call(JiraTicketHandler.Action, Jira(), step: "ticket"));

        again.Succeeded.ShouldBeTrue(again.Error);
        again.Output.ShouldNotBeNull()["created"]!.GetValue<bool>().ShouldBeFalse();
        _jira.Issues.ShouldHaveSingleItem();
        _jira.Requests.Select(r => r.Method).ShouldBe(["GET", "POST", "GET"]);
    }

    [Fact]
    public async Task SearchLagging_ConcurrentCallsOnOneNode_StillFileOneIssue()
    {
        _jira.SearchLags = true;
        var connector = Jira();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => _kit.ExecuteAsync(_kit.Call(JiraTicketHandler.Action, connector, step: "ticket-" + i))));

        outcomes.ShouldAllBe(o => o.Succeeded);
        var issue = _jira.Issues.ShouldHaveSingleItem();
        outcomes.Select(o => o.Output!["key"]!.GetValue<string>()).Distinct().ShouldHaveSingleItem().ShouldBe(issue.Key);
        outcomes.Count(o => o.Output!["created"]!.GetValue<bool>()).ShouldBe(1);
    }

    [Fact]
    public async Task PreviousHoldsTheKey_NothingIsCalled()
    {
        var previous = new JsonObject { ["key"] = "SEC-41", ["id"] = "10040" };

        var outcome = await _kit.ExecuteAsync(_kit.Call(JiraTicketHandler.Action, Jira(), previous: previous));

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        outcome.Output.ShouldNotBeNull()["key"]!.GetValue<string>().ShouldBe("SEC-41");
        _jira.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task WrongToken_IsPermanent_AndNeitherTheTokenNorTheCredentialLeaks()
    {
        const string secret = "secops@example.com:ATATT3x-not-the-right-token";
        var connector = _kit.Connector("jira-wrong", ConnectorType.Jira, _jira.BaseAddress, secret, c => c with { Project = "SEC" });

        var outcome = await _kit.ExecuteAsync(_kit.Call(JiraTicketHandler.Action, connector));

        outcome.Failure.ShouldBe(RetryOn.None);
        outcome.HttpStatus.ShouldBe(401);
        ConnectorKit.ShouldNotLeak(outcome, "ATATT3x-not-the-right-token");
        ConnectorKit.ShouldNotLeak(outcome, Convert.ToBase64String(Encoding.UTF8.GetBytes(secret)));
    }

    [Fact]
    public async Task SecretWithoutEmail_FailsWithoutCalling()
    {
        var connector = _kit.Connector("jira-token-only", ConnectorType.Jira, _jira.BaseAddress, "just-a-token", c => c with { Project = "SEC" });

        var outcome = await _kit.ExecuteAsync(_kit.Call(JiraTicketHandler.Action, connector));

        outcome.Failure.ShouldBe(RetryOn.None);
        outcome.Error.ShouldNotBeNull().ShouldContain("email:api-token");
        ConnectorKit.ShouldNotLeak(outcome, "just-a-token");
        _jira.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task UnknownProject_400_IsPermanent_WithJirasReason()
    {
        var connector = _kit.Connector("jira-ops", ConnectorType.Jira, _jira.BaseAddress, _jira.Secret, c => c with { Project = "OPS" });

        var outcome = await _kit.ExecuteAsync(_kit.Call(JiraTicketHandler.Action, connector));

        outcome.Failure.ShouldBe(RetryOn.None);
        outcome.HttpStatus.ShouldBe(400);
        outcome.Error.ShouldNotBeNull().ShouldContain("valid project");
    }

    [Fact]
    public async Task SearchUnavailable_IsRetryable_AndNothingIsFiled()
    {
        _jira.FailNext(1, 503, retryAfter: TimeSpan.FromSeconds(30));

        var outcome = await _kit.ExecuteAsync(_kit.Call(JiraTicketHandler.Action, Jira()));

        outcome.Failure.ShouldBe(RetryOn.ServerError);
        outcome.RetryAfter.ShouldBe(TimeSpan.FromSeconds(30));
        _jira.Issues.ShouldBeEmpty();
    }

    [Fact]
    public void Describe_ShowsTheSearchAndTheIssue_WithTheCredentialMasked()
    {
        var call = _kit.Call(JiraTicketHandler.Action, Jira());

        var described = _kit.Handler(call.Action).Describe(call);

        described["url"]!.GetValue<string>().ShouldBe(new Uri(_jira.BaseAddress, "rest/api/3/issue").AbsoluteUri);
        described["headers"]!["Authorization"]!.GetValue<string>().ShouldBe("Basic ***");
        described["search_first"]!["method"]!.GetValue<string>().ShouldBe("GET");
        described["body"]!["fields"]!["labels"]!.AsArray().Select(l => l!.GetValue<string>()).ShouldContain("bulwark-" + call.Incident.Id);
        var text = ConnectorKit.Raw(described);
        text.ShouldNotContain(_jira.Token);
        text.ShouldNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(_jira.Secret)));
        _jira.Requests.ShouldBeEmpty();
    }

    private ConnectorDefinition Jira() => _kit.Connector("jira", ConnectorType.Jira, _jira.BaseAddress, _jira.Secret, c => c with { Project = "SEC" });
}
