using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

public sealed class MassActionsApiTests : IAsyncLifetime, IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly TempDirectory _data = new();
    private BulwarkTestServer _server = null!;
    private string _alice = null!;
    private string _aliceSecond = null!;
    private string _bob = null!;
    private string _carol = null!;
    private string _viewer = null!;
    private string _worker = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(_data.Path, time: _time);
        _alice = await _server.CreateIdentityTokenAsync("alice", Role.Operator, Role.Approver);
        using (var admin = _server.CreateAdminClient())
        {
            _aliceSecond = (await Http.ReadJsonAsync(await admin.PostAsync("/v1/identities/alice/tokens", BulwarkTestServer.Json("{}"), Ct), HttpStatusCode.Created))["token"]!.GetValue<string>();
        }

        _bob = await _server.CreateIdentityTokenAsync("bob", Role.Approver);
        _carol = await _server.CreateIdentityTokenAsync("carol", Role.Responder);
        _viewer = await _server.CreateIdentityTokenAsync("val", Role.Viewer);
        _worker = await _server.CreateIdentityTokenAsync("reset-worker", Role.Viewer);
        using var alice = _server.CreateClient(_alice);
        (await alice.PutAsync("/v1/flags/bulk-reset", BulwarkTestServer.Json("""{"type":"kill-switch","owner":"sre","purpose":"bulk resets"}"""), Ct)).EnsureSuccessStatusCode();
        (await alice.PostAsync("/v1/flags/bulk-reset/state", BulwarkTestServer.Json("""{"state":"GRADUAL","percentage":100}"""), Ct)).EnsureSuccessStatusCode();
        (await alice.PutAsync("/v1/throttles/reset", BulwarkTestServer.Json("""{"layers":[{"key":"mass_action","limit":30,"per":"1m"}]}"""), Ct)).EnsureSuccessStatusCode();
        (await alice.PutAsync("/v1/throttles/per-ip", BulwarkTestServer.Json("""{"layers":[{"key":"ip","limit":30,"per":"1m"}]}"""), Ct)).EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _data.Dispose();

    private async Task<HttpResponseMessage> PostAsync(string token, string path, string body)
    {
        using var client = _server.CreateClient(token);
        return await client.PostAsync(path, BulwarkTestServer.Json(body), Ct);
    }

    private async Task<JsonNode> PostJsonAsync(string token, string path, string body, HttpStatusCode status = HttpStatusCode.OK)
    {
        using var response = await PostAsync(token, path, body);
        return await Http.ReadJsonAsync(response, status);
    }

    /// <summary>Declares a mass action as alice and returns its id.</summary>
    private async Task<string> CreateAsync(string name, long audience = 1_000, string extra = """, "max_per_minute": 600000000""", string? workers = """["reset-worker"]""")
    {
        var body = $$"""{ "name": "{{name}}", "kind": "password-reset", "flag": "bulk-reset", "audience_size": {{audience}}{{extra}}{{(workers is null ? string.Empty : $", \"workers\": {workers}")}} }""";
        var created = await PostJsonAsync(_alice, "/v1/mass-actions", body, HttpStatusCode.Created);
        return created["status"]!["id"]!.GetValue<string>();
    }

    private Task<JsonNode> PermitAsync(string id, long requested, string? token = null) =>
        PostJsonAsync(token ?? _worker, $"/v1/mass-actions/{id}/permits", $$"""{"requested":{{requested}}}""");

    private async Task<JsonNode> GetAsync(string id)
    {
        using var client = _server.CreateClient(_viewer);
        return await Http.ReadJsonAsync(await client.GetAsync($"/v1/mass-actions/{id}", Ct));
    }

    private async Task<List<Bulwark.Audit.AuditEntry>> AuditOfAsync(string id) =>
        [.. (await _server.Store.ReadAuditAsync(0, 1000, Ct)).Where(e => e.Target == "mass_action/" + id)];

    private static (long Granted, string State, string LimitedBy) Summary(JsonNode permit) =>
        (permit["granted"]!.GetValue<long>(), permit["state"]!.GetValue<string>(), permit["limited_by"]!.GetValue<string>());

    [Fact]
    public async Task Create_AnswersTheActionWithAnId_AndAuditsIt()
    {
        using var response = await PostAsync(_alice, "/v1/mass-actions", """
            { "name": "reset-nov", "kind": "password-reset", "flag": "bulk-reset", "throttle": "reset", "audience_size": 500,
              "max_per_minute": 600, "breaker": { "max_failure_ratio": 0.05, "min_samples": 200 } }
            """);

        var created = await Http.ReadJsonAsync(response, HttpStatusCode.Created);
        var id = created["status"]!["id"]!.GetValue<string>();
        id.ShouldMatch("^ma_[0-9a-f]{16}$");
        response.Headers.Location!.ToString().ShouldBe($"/v1/mass-actions/{id}");
        (created["kind"]!.GetValue<string>(), created["action"]!.GetValue<string>(), created["status"]!["state"]!.GetValue<string>()).ShouldBe(("MassAction", "password-reset", "running"));
        (await GetAsync("reset-nov"))["status"]!["id"]!.GetValue<string>().ShouldBe(id);
        var entry = (await AuditOfAsync(id)).ShouldHaveSingleItem();
        (entry.Actor, entry.Action).ShouldBe(("alice", "mass_action.create"));

        using var again = await PostAsync(_alice, "/v1/mass-actions", """{ "name": "reset-nov", "action": "x", "flag": "bulk-reset", "audience_size": 1, "max_per_minute": 1 }""");
        await Http.ReadProblemAsync(again, HttpStatusCode.Conflict, "conflict");
    }

    [Theory]
    [InlineData("""{ "name": "m", "action": "a", "flag": "no-such-flag", "audience_size": 10, "max_per_minute": 60 }""", "/flag")]
    [InlineData("""{ "name": "m", "action": "a", "flag": "killed", "audience_size": 10, "max_per_minute": 60 }""", "/flag")]
    [InlineData("""{ "name": "m", "action": "a", "flag": "bulk-reset", "audience_size": 10 }""", "/max_per_minute")]
    [InlineData("""{ "name": "m", "action": "a", "flag": "bulk-reset", "audience_size": 10, "throttle": "no-such-throttle" }""", "/throttle")]
    [InlineData("""{ "name": "m", "action": "a", "flag": "bulk-reset", "audience_size": 10, "throttle": "per-ip" }""", "/throttle")]
    [InlineData("""{ "name": "m", "action": "a", "flag": "bulk-reset", "audience_size": "many", "max_per_minute": 60 }""", "/audience_size")]
    [InlineData("""{ "name": "ma_0123", "action": "a", "flag": "bulk-reset", "audience_size": 10, "max_per_minute": 60 }""", "/name")]
    public async Task Create_Refused_Is422WithThePath(string body, string path)
    {
        using (var alice = _server.CreateClient(_alice))
        {
            (await alice.PutAsync("/v1/flags/killed", BulwarkTestServer.Json("""{"type":"kill-switch","owner":"o","purpose":"p"}"""), Ct)).EnsureSuccessStatusCode();
        }

        (await PostAsync(_carol, "/v1/flags/killed/kill", """{"reason":"incident"}""")).EnsureSuccessStatusCode();

        using var response = await PostAsync(_alice, "/v1/mass-actions", body);

        var problem = await Http.ReadProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation");
        problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ShouldBe([path]);
        (await _server.Store.ListMassActionsAsync(Ct)).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("/v1/mass-actions", "not json", HttpStatusCode.BadRequest, "malformed-request")]
    [InlineData("/v1/mass-actions", "[1,2]", HttpStatusCode.BadRequest, "malformed-request")]
    [InlineData("/v1/mass-actions/{id}/permits", "{\"requested\": 1", HttpStatusCode.BadRequest, "malformed-request")]
    [InlineData("/v1/mass-actions/{id}/permits", "{\"requested\": 0}", HttpStatusCode.UnprocessableEntity, "validation")]
    [InlineData("/v1/mass-actions/{id}/permits", "{\"requested\": 2.5}", HttpStatusCode.UnprocessableEntity, "validation")]
    [InlineData("/v1/mass-actions/{id}/permits", "{}", HttpStatusCode.UnprocessableEntity, "validation")]
    [InlineData("/v1/mass-actions/{id}/report", "{\"succeeded\": -1}", HttpStatusCode.UnprocessableEntity, "validation")]
    [InlineData("/v1/mass-actions/{id}/report", "{\"failed\": 1, \"errors\": {\"smtp\": 2}}", HttpStatusCode.UnprocessableEntity, "validation")]
    [InlineData("/v1/mass-actions/{id}/report", "{\"succeeded\": 1, \"extra\": 1}", HttpStatusCode.UnprocessableEntity, "validation")]
    [InlineData("/v1/mass-actions/{id}/halt", "{}", HttpStatusCode.UnprocessableEntity, "validation")]
    public async Task MalformedBodies_GetProblemJson(string path, string body, HttpStatusCode status, string slug)
    {
        var id = await CreateAsync("bodies");

        using var response = await PostAsync(BulwarkTestServer.AdminToken, path.Replace("{id}", id, StringComparison.Ordinal), body);

        await Http.ReadProblemAsync(response, status, slug);
    }

    [Fact]
    public async Task AboveTheThreshold_NothingIsGrantedUntilADifferentApproverApproves()
    {
        var id = await CreateAsync("big-reset", audience: 20_000);
        (await GetAsync(id))["status"]!["state"]!.GetValue<string>().ShouldBe("pending_approval");
        Summary(await PermitAsync(id, 100)).ShouldBe((0L, "pending_approval", "state"));

        // alice holds the approver role, but she asked: neither of her tokens is a second person.
        foreach (var token in new[] { _alice, _aliceSecond })
        {
            using var self = await PostAsync(token, $"/v1/mass-actions/{id}/approve", "{}");
            (await Http.ReadProblemAsync(self, HttpStatusCode.Forbidden, "forbidden"))["detail"]!.GetValue<string>().ShouldContain("second person");
        }

        using (var carol = await PostAsync(_carol, $"/v1/mass-actions/{id}/approve", "{}"))
        {
            await Http.ReadProblemAsync(carol, HttpStatusCode.Forbidden, "forbidden");
        }

        Summary(await PermitAsync(id, 100)).ShouldBe((0L, "pending_approval", "state"));
        var approved = await PostJsonAsync(_bob, $"/v1/mass-actions/{id}/approve", "{}");
        (approved["status"]!["state"]!.GetValue<string>(), approved["status"]!["approved_by"]!.GetValue<string>()).ShouldBe(("running", "bob"));
        Summary(await PermitAsync(id, 100)).ShouldBe((100L, "running", "none"));
        (await AuditOfAsync(id)).Select(e => (e.Actor, e.Action)).ShouldBe([("alice", "mass_action.create"), ("bob", "mass_action.approve")]);

        using var twice = await PostAsync(_bob, $"/v1/mass-actions/{id}/approve", "{}");
        await Http.ReadProblemAsync(twice, HttpStatusCode.Conflict, "conflict");
    }

    [Fact]
    public async Task AtTheThreshold_RunsAtOnce_AndTheThresholdIsAServerOption()
    {
        var id = await CreateAsync("exactly-threshold", audience: 10_000);
        (await GetAsync(id))["status"]!["state"]!.GetValue<string>().ShouldBe("running");

        await using var strict = await BulwarkTestServer.StartAsync(configure: o => o.MassActionApprovalThreshold = 10);
        using var admin = strict.CreateAdminClient();
        (await admin.PutAsync("/v1/flags/f", BulwarkTestServer.Json("""{"type":"operational","owner":"o","purpose":"p"}"""), Ct)).EnsureSuccessStatusCode();
        using var created = await admin.PostAsync("/v1/mass-actions", BulwarkTestServer.Json("""{"name":"m","action":"a","flag":"f","audience_size":11,"max_per_minute":60}"""), Ct);
        (await Http.ReadJsonAsync(created, HttpStatusCode.Created))["status"]!["state"]!.GetValue<string>().ShouldBe("pending_approval");
    }

    [Fact]
    public async Task Kill_NoPermitRequestStartedAfterTheKillReturnedIsGranted_AndTheHaltIsAudited()
    {
        var id = await CreateAsync("hammered", audience: 100_000_000);
        await PostJsonAsync(_bob, $"/v1/mass-actions/{id}/approve", "{}");
        var killReturned = 0L;
        var answers = new System.Collections.Concurrent.ConcurrentBag<(long Started, long Granted, string State)>();
        var firstGrant = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task WorkerAsync()
        {
            using var client = _server.CreateClient(_worker);
            var afterKill = 0;
            while (afterKill < 10)
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                using var response = await client.PostAsync($"/v1/mass-actions/{id}/permits", BulwarkTestServer.Json("""{"requested":7}"""), Ct);
                var permit = await Http.ReadJsonAsync(response);
                var granted = permit["granted"]!.GetValue<long>();
                permit["state"]!.GetValue<string>().ShouldBeOneOf("running", "halted");
                answers.Add((started, granted, permit["state"]!.GetValue<string>()));
                if (granted > 0)
                {
                    firstGrant.TrySetResult();
                }

                var returned = Interlocked.Read(ref killReturned);
                if (returned != 0 && started > returned)
                {
                    afterKill++;
                }
            }
        }

        var workers = Enumerable.Range(0, 8).Select(_ => Task.Run(WorkerAsync, Ct)).ToArray();
        var all = Task.WhenAll(workers);
        await Task.WhenAny(firstGrant.Task, all).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        all.IsFaulted.ShouldBeFalse(all.Exception?.ToString());
        using (var kill = await PostAsync(_carol, "/v1/flags/bulk-reset/kill", """{"reason":"reset wave from one botnet"}"""))
        {
            kill.EnsureSuccessStatusCode();
        }

        Interlocked.Exchange(ref killReturned, System.Diagnostics.Stopwatch.GetTimestamp());
        await all.WaitAsync(TimeSpan.FromSeconds(60), Ct);

        var after = answers.Where(a => a.Started > killReturned).ToList();
        after.Count.ShouldBeGreaterThanOrEqualTo(80);
        after.ShouldAllBe(a => a.Granted == 0 && a.State == "halted");
        answers.Where(a => a.Started < killReturned).Sum(a => a.Granted).ShouldBeGreaterThan(0);

        var action = await GetAsync(id);
        action["status"]!["state"]!.GetValue<string>().ShouldBe("halted");
        action["status"]!["halt"]!["cause"]!.GetValue<string>().ShouldBe("kill_switch");
        action["status"]!["halt"]!["reason"]!.GetValue<string>().ShouldContain("reset wave from one botnet");
        action["status"]!["granted"]!.GetValue<long>().ShouldBe(answers.Sum(a => a.Granted), "every granted unit acknowledged is counted, and nothing else");
        var halt = (await AuditOfAsync(id)).Where(e => e.Action == "mass_action.halt").ShouldHaveSingleItem();
        halt.Actor.ShouldBe("system:kill-switch");
        halt.Reason!.ShouldContain("reset wave from one botnet");
    }

    [Fact]
    public async Task Permit_AfterAKillCommittedByAnotherNode_IsRefusedByTheTransactionItself()
    {
        var id = await CreateAsync("other-node");
        Summary(await PermitAsync(id, 5)).Granted.ShouldBe(5);

        // Committed straight to the store, as another node would: nothing on this node is told, so only the permit's
        // own read of the flag inside its write transaction can see it.
        await _server.Store.WriteAsync(
            tx =>
            {
                var flag = tx.GetFlag("bulk-reset")!;
                tx.PutFlag(flag with { Status = new Bulwark.Flags.FlagStatus(Bulwark.Flags.FlagState.EmergencyOff, 0) });
                return tx.Append(new Bulwark.Audit.AuditDraft { Actor = "carol", Action = "flag.state", Target = "flag/bulk-reset", Reason = "killed on node 2" });
            },
            Ct);

        var permit = await PermitAsync(id, 5);

        Summary(permit).ShouldBe((0L, "halted", "state"));
        permit["retry_after_ms"].ShouldBeNull();
        permit["reason"]!.GetValue<string>().ShouldContain("killed on node 2");
        var halt = (await AuditOfAsync(id)).Single(e => e.Action == "mass_action.halt");
        (halt.Actor, halt.Reason).ShouldBe(("system:kill-switch", "flag 'bulk-reset' went EMERGENCY_OFF: killed on node 2"));
    }

    [Fact]
    public async Task Kill_HaltsAnIdleActionToo_WithoutAnyPermitRequest()
    {
        var id = await CreateAsync("idle");

        (await PostAsync(_carol, "/v1/flags/bulk-reset/kill", """{"reason":"stop everything"}""")).EnsureSuccessStatusCode();

        // The kill switch watcher halts it on the new flag snapshot: poll the audit log for it (no sleeping; 30 s at most).
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while ((await AuditOfAsync(id)).All(e => e.Action != "mass_action.halt") && waited.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Yield();
        }

        var halt = (await AuditOfAsync(id)).Single(e => e.Action == "mass_action.halt");
        (halt.Actor, halt.Reason).ShouldBe(("system:kill-switch", "flag 'bulk-reset' went EMERGENCY_OFF: stop everything"));
        (await _server.Store.GetMassActionAsync(id, Ct))!.State.ShouldBe(Bulwark.MassActions.MassActionState.Halted);
    }

    [Fact]
    public async Task Breaker_TripsAboveTheRatio_NotBeforeMinSamples()
    {
        const string Breaker = """, "max_per_minute": 600000000, "breaker": { "max_failure_ratio": 0.1, "min_samples": 20 }""";
        var early = await CreateAsync("early", extra: Breaker);
        await PermitAsync(early, 100);
        var failing = await PostJsonAsync(_worker, $"/v1/mass-actions/{early}/report", """{"failed":19,"errors":{"smtp_timeout":19}}""");
        failing["status"]!["state"]!.GetValue<string>().ShouldBe("running", "19 results are fewer than min_samples, all failures notwithstanding");

        var id = await CreateAsync("breaker", extra: Breaker);
        await PermitAsync(id, 100);
        (await PostJsonAsync(_worker, $"/v1/mass-actions/{id}/report", """{"succeeded":18,"failed":2,"errors":{"bounced":2}}"""))["status"]!["state"]!.GetValue<string>()
            .ShouldBe("running", "2 of 20 is exactly the ratio, not above it");

        var tripped = await PostJsonAsync(_worker, $"/v1/mass-actions/{id}/report", """{"failed":1}""");

        tripped["status"]!["state"]!.GetValue<string>().ShouldBe("halted");
        tripped["status"]!["halt"]!["cause"]!.GetValue<string>().ShouldBe("breaker");
        (tripped["status"]!["failed"]!.GetValue<long>(), tripped["status"]!["errors"]!["bounced"]!.GetValue<long>()).ShouldBe((3L, 2L));
        Summary(await PermitAsync(id, 10)).ShouldBe((0L, "halted", "state"));
        var halt = (await AuditOfAsync(id)).Single(e => e.Action == "mass_action.halt");
        halt.Actor.ShouldBe("system:breaker");
        halt.Reason!.ShouldContain("3 of 21");
    }

    [Fact]
    public async Task MaxPerMinute_GrantsTheBurstThenTheRate_OnTheFakeClock()
    {
        var id = await CreateAsync("capped", extra: """, "max_per_minute": 600""");

        var first = await PermitAsync(id, 500);
        var second = await PermitAsync(id, 500);
        _time.Advance(TimeSpan.FromSeconds(1));
        var third = await PermitAsync(id, 500);

        // 600 a minute is one every 100 ms, with a burst of ten seconds' worth.
        Summary(first).ShouldBe((100L, "running", "max_per_minute"));
        Summary(second).ShouldBe((0L, "running", "max_per_minute"));
        second["retry_after_ms"]!.GetValue<long>().ShouldBe(100);
        Summary(third).ShouldBe((10L, "running", "max_per_minute"));
        (await GetAsync(id))["status"]!["granted"]!.GetValue<long>().ShouldBe(110);
    }

    [Fact]
    public async Task Throttle_IsTakenPerMassAction_OnTheFakeClock()
    {
        var id = await CreateAsync("throttled", extra: """, "throttle": "reset" """);
        var other = await CreateAsync("throttled-too", extra: """, "throttle": "reset" """);

        var first = await PermitAsync(id, 500);
        var second = await PermitAsync(id, 5);
        var otherFirst = await PermitAsync(other, 500);
        _time.Advance(TimeSpan.FromSeconds(4));
        var later = await PermitAsync(id, 500);

        // 30 a minute per mass_action key: a burst of 30, then one every 2 s; each action has its own bucket.
        Summary(first).ShouldBe((30L, "running", "throttle"));
        Summary(second).ShouldBe((0L, "running", "throttle"));
        second["retry_after_ms"]!.GetValue<long>().ShouldBe(2000);
        Summary(otherFirst).ShouldBe((30L, "running", "throttle"));
        Summary(later).ShouldBe((2L, "running", "throttle"));
    }

    [Fact]
    public async Task Audience_IsNeverExceeded_AndReportingItAllCompletes()
    {
        var id = await CreateAsync("small", audience: 50);

        Summary(await PermitAsync(id, 30)).ShouldBe((30L, "running", "none"));
        Summary(await PermitAsync(id, 30)).ShouldBe((20L, "running", "audience"));
        Summary(await PermitAsync(id, 30)).ShouldBe((0L, "running", "audience"));
        using (var tooMany = await PostAsync(_worker, $"/v1/mass-actions/{id}/report", """{"succeeded":51}"""))
        {
            await Http.ReadProblemAsync(tooMany, HttpStatusCode.Conflict, "conflict");
        }

        await PostJsonAsync(_worker, $"/v1/mass-actions/{id}/report", """{"succeeded":40}""");
        var done = await PostJsonAsync(_worker, $"/v1/mass-actions/{id}/report", """{"succeeded":9,"failed":1,"errors":{"gone":1}}""");

        done["status"]!["state"]!.GetValue<string>().ShouldBe("completed");
        Summary(await PermitAsync(id, 1)).ShouldBe((0L, "completed", "state"));
        (await AuditOfAsync(id)).Select(e => (e.Actor, e.Action)).ShouldBe([("alice", "mass_action.create"), ("reset-worker", "mass_action.complete")]);
    }

    [Fact]
    public async Task Flag_Off_PausesTheAction_AndOnAgainResumesIt()
    {
        var id = await CreateAsync("pausable");
        (await PostAsync(_alice, "/v1/flags/bulk-reset/state", """{"state":"OFF"}""")).EnsureSuccessStatusCode();

        var paused = await PermitAsync(id, 10);
        (await GetAsync(id))["status"]!["state"]!.GetValue<string>().ShouldBe("paused");
        (await PostAsync(_alice, "/v1/flags/bulk-reset/state", """{"state":"GRADUAL","percentage":50}""")).EnsureSuccessStatusCode();

        Summary(paused).ShouldBe((0L, "paused", "state"));
        Summary(await PermitAsync(id, 10)).ShouldBe((10L, "running", "none"));
    }

    [Fact]
    public async Task HaltAndResume_ResumeNeedsASecondPerson_AndTheBreakerStartsAfresh()
    {
        var id = await CreateAsync("resumable", extra: """, "max_per_minute": 600000000, "breaker": { "max_failure_ratio": 0.5, "min_samples": 4 }""");
        await PermitAsync(id, 10);
        await PostJsonAsync(_worker, $"/v1/mass-actions/{id}/report", """{"failed":3}""");
        using (var viewer = await PostAsync(_viewer, $"/v1/mass-actions/{id}/halt", """{"reason":"x"}"""))
        {
            await Http.ReadProblemAsync(viewer, HttpStatusCode.Forbidden, "forbidden");
        }

        var halted = await PostJsonAsync(_carol, $"/v1/mass-actions/{id}/halt", """{"reason":"complaints from support"}""");
        (halted["status"]!["state"]!.GetValue<string>(), halted["status"]!["halt"]!["by"]!.GetValue<string>()).ShouldBe(("halted", "carol"));
        using (var again = await PostAsync(_carol, $"/v1/mass-actions/{id}/halt", """{"reason":"twice"}"""))
        {
            await Http.ReadProblemAsync(again, HttpStatusCode.Conflict, "conflict");
        }

        var requested = await PostJsonAsync(_alice, $"/v1/mass-actions/{id}/resume", """{"reason":"fixed the template"}""", HttpStatusCode.Accepted);
        requested["status"]!.GetValue<string>().ShouldBe("pending_approval");
        Summary(await PermitAsync(id, 1)).ShouldBe((0L, "halted", "state"));
        using (var self = await PostAsync(_aliceSecond, $"/v1/mass-actions/{id}/approve", "{}"))
        {
            await Http.ReadProblemAsync(self, HttpStatusCode.Forbidden, "forbidden");
        }

        var resumed = await PostJsonAsync(_bob, $"/v1/mass-actions/{id}/approve", "{}");

        resumed["status"]!["state"]!.GetValue<string>().ShouldBe("running");
        resumed["status"]!["breaker"]!["results"]!.GetValue<long>().ShouldBe(0);
        resumed["status"]!["failed"]!.GetValue<long>().ShouldBe(3);
        (await PostJsonAsync(_worker, $"/v1/mass-actions/{id}/report", """{"failed":1}"""))["status"]!["state"]!.GetValue<string>()
            .ShouldBe("running", "one result since the resume is fewer than min_samples");
        (await AuditOfAsync(id)).Select(e => (e.Actor, e.Action)).ShouldBe([
            ("alice", "mass_action.create"), ("carol", "mass_action.halt"), ("alice", "mass_action.resume.request"), ("bob", "mass_action.resume")]);
    }

    [Fact]
    public async Task Resume_WhileTheFlagIsKilled_IsRefused()
    {
        var id = await CreateAsync("killed-resume");
        (await PostAsync(_carol, "/v1/flags/bulk-reset/kill", """{"reason":"incident"}""")).EnsureSuccessStatusCode();
        Summary(await PermitAsync(id, 1)).ShouldBe((0L, "halted", "state"));

        using var resume = await PostAsync(_carol, $"/v1/mass-actions/{id}/resume", """{"reason":"go on"}""");

        (await Http.ReadProblemAsync(resume, HttpStatusCode.Conflict, "conflict"))["detail"]!.GetValue<string>().ShouldContain("EMERGENCY_OFF");
    }

    [Fact]
    public async Task Workers_OnlyNamedIdentitiesAskForPermits_OrOperatorsWhenNoneIsNamed()
    {
        var named = await CreateAsync("named");
        var open = await CreateAsync("open", workers: null);

        using (var viewer = await PostAsync(_viewer, $"/v1/mass-actions/{named}/permits", """{"requested":1}"""))
        {
            await Http.ReadProblemAsync(viewer, HttpStatusCode.Forbidden, "forbidden");
        }

        using (var operatorOnNamed = await PostAsync(_alice, $"/v1/mass-actions/{named}/report", """{"succeeded":0}"""))
        {
            await Http.ReadProblemAsync(operatorOnNamed, HttpStatusCode.Forbidden, "forbidden");
        }

        using (var workerOnOpen = await PostAsync(_worker, $"/v1/mass-actions/{open}/permits", """{"requested":1}"""))
        {
            await Http.ReadProblemAsync(workerOnOpen, HttpStatusCode.Forbidden, "forbidden");
        }

        Summary(await PermitAsync(named, 1)).Granted.ShouldBe(1);
        Summary(await PermitAsync(open, 1, _alice)).Granted.ShouldBe(1);
    }

    [Fact]
    public async Task Put_CreatesOnce_IsUnchangedAfter_AndAGetAnswerCanBePutBack()
    {
        using var alice = _server.CreateClient(_alice);
        const string Declaration = """{"action":"notify","flag":"bulk-reset","audience_size":100,"max_per_minute":60}""";
        using var created = await alice.PutAsync("/v1/mass-actions/notify-all", BulwarkTestServer.Json(Declaration), Ct);
        await Http.ReadJsonAsync(created, HttpStatusCode.Created);

        var document = await GetAsync("notify-all");
        using var back = await alice.PutAsync("/v1/mass-actions/notify-all", BulwarkTestServer.Json(document), Ct);
        await Http.ReadJsonAsync(back);
        back.Headers.GetValues("Bulwark-Outcome").ShouldBe(["unchanged"]);
        using var changed = await alice.PutAsync("/v1/mass-actions/notify-all", BulwarkTestServer.Json(Declaration.Replace("100", "200", StringComparison.Ordinal)), Ct);
        await Http.ReadProblemAsync(changed, HttpStatusCode.Conflict, "conflict");
        (await AuditOfAsync(document["status"]!["id"]!.GetValue<string>())).Count.ShouldBe(1);
    }

    [Fact]
    public async Task Manifests_AppliedAtStart_DeclareTheActionAfterItsFlag_AndAgainChangeNothing()
    {
        Bulwark.Manifests.ManifestDocument Document(string json) => new() { Source = "start.yaml", Line = 1, Body = JsonNode.Parse(json)!.AsObject() };
        Bulwark.Manifests.ManifestDocument[] manifests =
        [
            Document("""{"kind":"MassAction","name":"from-manifest","action":"notify","flag":"notify-all","audience_size":100,"max_per_minute":60}"""),
            Document("""{"kind":"Flag","key":"notify-all","type":"operational","owner":"growth","purpose":"mass notifications"}"""),
        ];
        using var data = new TempDirectory();

        await using (var first = await BulwarkTestServer.StartAsync(data.Path, manifests: manifests))
        {
            first.Startup.AppliedManifests.Select(a => (a.Kind, a.Outcome)).ShouldBe([("Flag", "created"), ("MassAction", "created")]);
            var action = (await first.Store.GetMassActionAsync("from-manifest", Ct))!;
            (action.CreatedBy, action.State).ShouldBe(("system:manifests", Bulwark.MassActions.MassActionState.Running));
        }

        await using var second = await BulwarkTestServer.StartAsync(data.Path, manifests: manifests);
        second.Startup.AppliedManifests.Select(a => a.Outcome).ShouldBe(["unchanged", "unchanged"]);
    }

    [Fact]
    public async Task List_FiltersByState()
    {
        var running = await CreateAsync("listed-running");
        var pending = await CreateAsync("listed-pending", audience: 50_000);
        using var client = _server.CreateClient(_viewer);

        var all = await Http.ReadJsonAsync(await client.GetAsync("/v1/mass-actions", Ct));
        var onlyPending = await Http.ReadJsonAsync(await client.GetAsync("/v1/mass-actions?state=pending_approval", Ct));
        using var wrong = await client.GetAsync("/v1/mass-actions?state=sleeping", Ct);

        all["items"]!.AsArray().Select(i => i!["status"]!["id"]!.GetValue<string>()).ShouldBe([pending, running], ignoreOrder: true);
        onlyPending["items"]!.AsArray().Select(i => i!["status"]!["id"]!.GetValue<string>()).ShouldBe([pending]);
        await Http.ReadProblemAsync(wrong, HttpStatusCode.UnprocessableEntity, "validation");
    }

    [Fact]
    public async Task Counters_AcknowledgedBeforeARestart_AreStillThereAfterIt()
    {
        var id = await CreateAsync("durable");
        var granted = Summary(await PermitAsync(id, 40)).Granted;
        await PostJsonAsync(_worker, $"/v1/mass-actions/{id}/report", """{"succeeded":30,"failed":2,"errors":{"smtp":2}}""");

        await _server.DisposeAsync();
        _server = await BulwarkTestServer.StartAsync(_data.Path, time: _time);

        var status = (await GetAsync(id))["status"]!;
        (status["granted"]!.GetValue<long>(), status["succeeded"]!.GetValue<long>(), status["failed"]!.GetValue<long>(), status["errors"]!["smtp"]!.GetValue<long>())
            .ShouldBe((granted, 30L, 2L, 2L));
        Summary(await PermitAsync(id, 1_000)).Granted.ShouldBe(1_000 - granted);
    }
}
