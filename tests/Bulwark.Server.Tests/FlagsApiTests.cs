using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

public sealed class FlagsApiTests : IAsyncLifetime
{
    private const string Definition = """
        { "type": "operational", "owner": "identity-team", "purpose": "New password reset flow",
          "cohorts": [ { "name": "staff", "allow": ["u-staff"] } ] }
        """;

    private readonly FakeTimeProvider _time = new();
    private BulwarkTestServer _server = null!;
    private string _alice = null!;
    private string _aliceSecond = null!;
    private string _bob = null!;
    private string _carol = null!;
    private string _viewer = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(time: _time);
        _alice = await _server.CreateIdentityTokenAsync("alice", Role.Operator);
        using var admin = _server.CreateAdminClient();
        _aliceSecond = (await Http.ReadJsonAsync(await admin.PostAsync("/v1/identities/alice/tokens", BulwarkTestServer.Json("{}")), HttpStatusCode.Created))["token"]!.GetValue<string>();
        _bob = await _server.CreateIdentityTokenAsync("bob", Role.Approver);
        _carol = await _server.CreateIdentityTokenAsync("carol", Role.Responder);
        _viewer = await _server.CreateIdentityTokenAsync("val", Role.Viewer);
        using var alice = _server.CreateClient(_alice);
        (await alice.PutAsync("/v1/flags/reset-v2", BulwarkTestServer.Json(Definition))).StatusCode.ShouldBe(HttpStatusCode.Created);
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<HttpResponseMessage> PostAsync(string token, string path, string body)
    {
        using var client = _server.CreateClient(token);
        return await client.PostAsync(path, BulwarkTestServer.Json(body), Ct);
    }

    private async Task<JsonNode> FlagAsync()
    {
        using var client = _server.CreateClient(_viewer);
        return await Http.ReadJsonAsync(await client.GetAsync("/v1/flags/reset-v2", Ct));
    }

    [Fact]
    public async Task NewFlag_IsOff_AndItsGetAnswerCanBePutBackUnchanged()
    {
        var flag = await FlagAsync();
        flag["status"]!["state"]!.GetValue<string>().ShouldBe("OFF");

        using var alice = _server.CreateClient(_alice);
        using var again = await alice.PutAsync("/v1/flags/reset-v2", BulwarkTestServer.Json(flag), Ct);
        again.Headers.GetValues("Bulwark-Outcome").ShouldBe(["unchanged"]);
    }

    [Fact]
    public async Task Operator_MovesToGradualAtOnce_AndTheAuditEntryHoldsBeforeAndAfter()
    {
        using var response = await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"GRADUAL","percentage":5.125,"reason":"ramp"}""");

        var flag = await Http.ReadJsonAsync(response);
        flag["status"]!["state"]!.GetValue<string>().ShouldBe("GRADUAL");
        flag["status"]!["percentage"]!.GetValue<double>().ShouldBe(5.125);
        var entry = (await _server.Store.ReadAuditAsync(0, 1000, Ct)).Last(e => e.Target == "flag/reset-v2");
        (entry.Actor, entry.Action, entry.Reason).ShouldBe(("alice", "flag.state", "ramp"));
        JsonNode.Parse(entry.Before!)!["status"]!["state"]!.GetValue<string>().ShouldBe("OFF");
        JsonNode.Parse(entry.After!)!["status"]!["state"]!.GetValue<string>().ShouldBe("GRADUAL");
    }

    [Fact]
    public async Task Global_NeedsASecondPerson_TheRequestersOtherTokenCannotApprove()
    {
        using var request = await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"GLOBAL","reason":"launch"}""");
        var pending = await Http.ReadJsonAsync(request, HttpStatusCode.Accepted);
        pending["status"]!.GetValue<string>().ShouldBe("pending_approval");
        var id = pending["change_id"]!.GetValue<string>();
        (await FlagAsync())["status"]!["state"]!.GetValue<string>().ShouldBe("OFF");

        using (var self = await PostAsync(_aliceSecond, $"/v1/changes/{id}/approve", "{}"))
        {
            self.StatusCode.ShouldBe(HttpStatusCode.Forbidden, "alice has no approver role");
        }

        using (var admin = _server.CreateAdminClient())
        {
            await admin.PutAsync("/v1/identities/alice", BulwarkTestServer.Json("""{"roles":["operator","approver"]}"""), Ct);
        }

        using (var selfAsApprover = await PostAsync(_aliceSecond, $"/v1/changes/{id}/approve", "{}"))
        {
            var problem = await Http.ReadProblemAsync(selfAsApprover, HttpStatusCode.Forbidden, "forbidden");
            problem["detail"]!.GetValue<string>().ShouldContain("second person");
        }

        using var approved = await PostAsync(_bob, $"/v1/changes/{id}/approve", "{}");
        var result = await Http.ReadJsonAsync(approved);
        result["change"]!["status"]!.GetValue<string>().ShouldBe("approved");
        result["change"]!["decided_by"]!.GetValue<string>().ShouldBe("bob");
        (await FlagAsync())["status"]!["state"]!.GetValue<string>().ShouldBe("GLOBAL");
    }

    [Fact]
    public async Task Kill_ByAResponder_AppliesAtOnceAndOverridesCohorts()
    {
        await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"GRADUAL","percentage":100}""");

        using var kill = await PostAsync(_carol, "/v1/flags/reset-v2/kill", """{"reason":"reset surge"}""");
        (await Http.ReadJsonAsync(kill))["status"]!["state"]!.GetValue<string>().ShouldBe("EMERGENCY_OFF");

        using var evaluate = await PostAsync(_viewer, "/v1/evaluate", """{"context":{"targetingKey":"u-staff"},"flags":["reset-v2"]}""");
        var result = (await Http.ReadJsonAsync(evaluate))["results"]![0]!;
        (result["value"]!.GetValue<bool>(), result["reason"]!.GetValue<string>()).ShouldBe((false, "DISABLED"));

        using var noReason = await PostAsync(_carol, "/v1/flags/reset-v2/kill", "{}");
        (await Http.ReadProblemAsync(noReason, HttpStatusCode.UnprocessableEntity, "validation"))["errors"]![0]!["path"]!.GetValue<string>().ShouldBe("/reason");
        using var byOperator = await PostAsync(_alice, "/v1/flags/reset-v2/kill", """{"reason":"x"}""");
        byOperator.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task LeavingEmergencyOff_NeedsApproval_OrAnAdminBreakingGlassWhichIsAudited()
    {
        await PostAsync(_carol, "/v1/flags/reset-v2/kill", """{"reason":"incident"}""");

        using var request = await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"OFF"}""");
        request.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        using var glassWithoutReason = await PostAsync(BulwarkTestServer.AdminToken, "/v1/flags/reset-v2/state", """{"state":"OFF","break_glass":true}""");
        glassWithoutReason.StatusCode.ShouldBe(HttpStatusCode.UnprocessableEntity);
        using var notAdmin = await PostAsync(_carol, "/v1/flags/reset-v2/state", """{"state":"OFF","break_glass":true,"reason":"x"}""");
        notAdmin.StatusCode.ShouldBe(HttpStatusCode.Forbidden);

        using var glass = await PostAsync(BulwarkTestServer.AdminToken, "/v1/flags/reset-v2/state", """{"state":"OFF","break_glass":true,"reason":"false alarm, verified"}""");
        (await Http.ReadJsonAsync(glass))["status"]!["state"]!.GetValue<string>().ShouldBe("OFF");
        var entry = (await _server.Store.ReadAuditAsync(0, 1000, Ct)).Last(e => e.Target == "flag/reset-v2");
        entry.Action.ShouldBe("flag.state.break_glass");
        JsonNode.Parse(entry.After!)!["break_glass"]!.GetValue<bool>().ShouldBeTrue();
    }

    [Fact]
    public async Task PendingChange_ExpiresAfter24Hours_IntoAnExplicitExpiredState()
    {
        using var request = await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"GLOBAL","reason":"launch"}""");
        var id = (await Http.ReadJsonAsync(request, HttpStatusCode.Accepted))["change_id"]!.GetValue<string>();

        _time.Advance(TimeSpan.FromHours(24));
        using var late = await PostAsync(_bob, $"/v1/changes/{id}/approve", "{}");

        (await Http.ReadProblemAsync(late, HttpStatusCode.Conflict, "conflict"))["detail"]!.GetValue<string>().ShouldContain("expired");
        (await FlagAsync())["status"]!["state"]!.GetValue<string>().ShouldBe("OFF");
        using var viewer = _server.CreateClient(_viewer);
        var expired = await Http.ReadJsonAsync(await viewer.GetAsync("/v1/changes?status=expired", Ct));
        expired["items"]!.AsArray().Select(c => c!["id"]!.GetValue<string>()).ShouldBe([id]);
        (await _server.Store.ReadAuditAsync(0, 1000, Ct)).ShouldContain(e => e.Action == "flag.change.expire" && e.Actor == "system:approvals");
    }

    [Fact]
    public async Task ApprovingAfterTheFlagMoved_SupersedesTheChangeInsteadOfOverridingAKill()
    {
        using var request = await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"GLOBAL","reason":"launch"}""");
        var id = (await Http.ReadJsonAsync(request, HttpStatusCode.Accepted))["change_id"]!.GetValue<string>();
        await PostAsync(_carol, "/v1/flags/reset-v2/kill", """{"reason":"incident"}""");

        using var approve = await PostAsync(_bob, $"/v1/changes/{id}/approve", "{}");

        (await Http.ReadJsonAsync(approve))["change"]!["status"]!.GetValue<string>().ShouldBe("superseded");
        (await FlagAsync())["status"]!["state"]!.GetValue<string>().ShouldBe("EMERGENCY_OFF");
    }

    [Fact]
    public async Task Reject_ByTheRequesterWithdraws_ByAViewerIsForbidden()
    {
        using var request = await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"GLOBAL"}""");
        var id = (await Http.ReadJsonAsync(request, HttpStatusCode.Accepted))["change_id"]!.GetValue<string>();

        (await PostAsync(_viewer, $"/v1/changes/{id}/reject", "{}")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using var withdrawn = await PostAsync(_aliceSecond, $"/v1/changes/{id}/reject", "{}");
        (await Http.ReadJsonAsync(withdrawn))["change"]!["status"]!.GetValue<string>().ShouldBe("rejected");
        (await PostAsync(_bob, $"/v1/changes/{id}/approve", "{}")).StatusCode.ShouldBe(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Snapshot_HasAnETagThatAnswers304UntilSomethingChanges()
    {
        using var viewer = _server.CreateClient(_viewer);
        using var first = await viewer.GetAsync("/v1/flags/snapshot", Ct);
        var etag = first.Headers.ETag!;
        (await Http.ReadJsonAsync(first))["scheme"]!.GetValue<string>().ShouldBe("bulwark-bucket-v1");

        using var same = new HttpRequestMessage(HttpMethod.Get, "/v1/flags/snapshot");
        same.Headers.IfNoneMatch.Add(etag);
        (await viewer.SendAsync(same, Ct)).StatusCode.ShouldBe(HttpStatusCode.NotModified);

        await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"CANARY","percentage":0.5}""");
        using var changed = new HttpRequestMessage(HttpMethod.Get, "/v1/flags/snapshot");
        changed.Headers.IfNoneMatch.Add(etag);
        using var fresh = await viewer.SendAsync(changed, Ct);
        fresh.StatusCode.ShouldBe(HttpStatusCode.OK);
        fresh.Headers.ETag!.Tag.ShouldNotBe(etag.Tag);
    }

    [Fact]
    public async Task Evaluate_ReportsReasonsAndMissingFlags()
    {
        await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"GRADUAL","percentage":100}""");

        using var response = await PostAsync(_viewer, "/v1/evaluate", """{"context":{"targetingKey":"u-1","plan":"pro","age":41,"beta":true},"flags":["reset-v2","nope"]}""");
        var results = (await Http.ReadJsonAsync(response))["results"]!.AsArray();

        (results[0]!["value"]!.GetValue<bool>(), results[0]!["reason"]!.GetValue<string>()).ShouldBe((true, "SPLIT"));
        (results[1]!["reason"]!.GetValue<string>(), results[1]!["error_code"]!.GetValue<string>()).ShouldBe(("ERROR", "FLAG_NOT_FOUND"));
        using var staff = await PostAsync(_viewer, "/v1/evaluate", """{"context":{"targetingKey":"u-staff"}}""");
        var all = (await Http.ReadJsonAsync(staff))["results"]!.AsArray();
        all.ShouldHaveSingleItem()!["cohort"]!.GetValue<string>().ShouldBe("staff");
        using var noKey = await PostAsync(_viewer, "/v1/evaluate", """{"context":{}}""");
        (await Http.ReadJsonAsync(noKey))["results"]![0]!["error_code"]!.GetValue<string>().ShouldBe("TARGETING_KEY_MISSING");
        using var nested = await PostAsync(_viewer, "/v1/evaluate", """{"context":{"targetingKey":"u-1","address":{"city":"Oslo"}}}""");
        (await Http.ReadProblemAsync(nested, HttpStatusCode.UnprocessableEntity, "validation"))["errors"]![0]!["path"]!.GetValue<string>().ShouldBe("/context/address");
    }

    [Fact]
    public async Task StateBody_Problems_Are422WithPaths()
    {
        using var response = await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"HALF","percentage":500,"extra":1}""");

        var problem = await Http.ReadProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation");
        problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ShouldBe(["/state", "/percentage", "/extra"], ignoreOrder: true);
        using var missing = await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"GRADUAL"}""");
        (await Http.ReadProblemAsync(missing, HttpStatusCode.UnprocessableEntity, "validation"))["errors"]![0]!["path"]!.GetValue<string>().ShouldBe("/percentage");
    }

    [Fact]
    public async Task History_ListsTheFlagsEntriesAndItsChanges()
    {
        using var request = await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"GLOBAL"}""");
        var id = (await Http.ReadJsonAsync(request, HttpStatusCode.Accepted))["change_id"]!.GetValue<string>();
        await PostAsync(_bob, $"/v1/changes/{id}/approve", "{}");

        using var viewer = _server.CreateClient(_viewer);
        var history = (await Http.ReadJsonAsync(await viewer.GetAsync("/v1/flags/reset-v2/history", Ct)))["items"]!.AsArray();

        history.Select(e => e!["action"]!.GetValue<string>()).ShouldBe(["flag.create", "flag.change.request", "flag.change.approve", "flag.state"]);
    }

    [Fact]
    public async Task StaleFlags_AreListed_PastExpiryOrGlobalUnchangedFor30Days()
    {
        using var alice = _server.CreateClient(_alice);
        (await alice.PutAsync("/v1/flags/old-release", BulwarkTestServer.Json("""{"type":"release","owner":"o","purpose":"p","expires":"2026-11-25"}"""), Ct)).EnsureSuccessStatusCode();
        using var request = await PostAsync(_alice, "/v1/flags/reset-v2/state", """{"state":"GLOBAL"}""");
        var id = (await Http.ReadJsonAsync(request, HttpStatusCode.Accepted))["change_id"]!.GetValue<string>();
        await PostAsync(_bob, $"/v1/changes/{id}/approve", "{}");
        using var viewer = _server.CreateClient(_viewer);

        (await Http.ReadJsonAsync(await viewer.GetAsync("/v1/flags?stale=true", Ct)))["items"]!.AsArray().ShouldBeEmpty();

        _time.Advance(TimeSpan.FromDays(5));
        var afterExpiry = (await Http.ReadJsonAsync(await viewer.GetAsync("/v1/flags?stale=true", Ct)))["items"]!.AsArray();
        afterExpiry.Select(f => f!["key"]!.GetValue<string>()).ShouldBe(["old-release"]);
        afterExpiry[0]!["status"]!["stale"]!.GetValue<string>().ShouldContain("expired on 2026-11-25");

        _time.Advance(TimeSpan.FromDays(26));
        var later = (await Http.ReadJsonAsync(await viewer.GetAsync("/v1/flags?stale=true", Ct)))["items"]!.AsArray();
        later.Select(f => f!["key"]!.GetValue<string>()).ShouldBe(["old-release", "reset-v2"]);
    }
}
