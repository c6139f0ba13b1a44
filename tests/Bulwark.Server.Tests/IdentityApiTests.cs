using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

public sealed class IdentityApiTests : IAsyncLifetime
{
    private BulwarkTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await BulwarkTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Put_CreateUpdateUnchanged_AuditsOnlyRealChangesWithBeforeAndAfter()
    {
        using var admin = _server.CreateAdminClient();
        var ct = TestContext.Current.CancellationToken;
        using var created = await admin.PutAsync("/v1/identities/kim", BulwarkTestServer.Json("""{"kind":"Identity","roles":["viewer"]}"""), ct);
        created.StatusCode.ShouldBe(HttpStatusCode.Created);
        created.Headers.GetValues("Bulwark-Outcome").ShouldBe(["created"]);

        using var same = await admin.PutAsync("/v1/identities/kim", BulwarkTestServer.Json("""{"roles":["viewer"]}"""), ct);
        same.Headers.GetValues("Bulwark-Outcome").ShouldBe(["unchanged"]);

        using var request = new HttpRequestMessage(HttpMethod.Put, "/v1/identities/kim") { Content = BulwarkTestServer.Json("""{"roles":["operator","viewer"],"description":"promoted"}""") };
        request.Headers.Add("X-Bulwark-Reason", "joined the on-call rota");
        request.Headers.Add("X-Correlation-ID", "change-4711");
        using var updated = await admin.SendAsync(request, ct);
        updated.Headers.GetValues("Bulwark-Outcome").ShouldBe(["updated"]);

        var entries = (await Http.ReadJsonAsync(await admin.GetAsync("/v1/audit?limit=1000", ct)))["items"]!.AsArray()
            .Where(e => e!["target"]!.GetValue<string>() == "identity/kim").ToList();
        entries.Select(e => e!["action"]!.GetValue<string>()).ShouldBe(["identity.create", "identity.update"]);
        var update = entries[1]!;
        update["actor"]!.GetValue<string>().ShouldBe("admin");
        update["reason"]!.GetValue<string>().ShouldBe("joined the on-call rota");
        update["correlation_id"]!.GetValue<string>().ShouldBe("change-4711");
        update["before"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()).ShouldBe(["viewer"]);
        update["after"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()).ShouldBe(["viewer", "operator"]);
    }

    [Fact]
    public async Task Get_AnswersTheManifestShape_ThatPutAcceptsBack()
    {
        using var admin = _server.CreateAdminClient();
        var ct = TestContext.Current.CancellationToken;
        await admin.PutAsync("/v1/identities/lee", BulwarkTestServer.Json("""{"roles":["approver"],"description":"security"}"""), ct);

        var document = await Http.ReadJsonAsync(await admin.GetAsync("/v1/identities/lee", ct));
        document.ToJsonString().ShouldBe("""{"kind":"Identity","name":"lee","roles":["approver"],"description":"security"}""");

        using var putBack = await admin.PutAsync("/v1/identities/lee", BulwarkTestServer.Json(document), ct);
        putBack.Headers.GetValues("Bulwark-Outcome").ShouldBe(["unchanged"]);
    }

    [Fact]
    public async Task Put_NameInBodyDifferentFromPath_Is422()
    {
        using var admin = _server.CreateAdminClient();
        using var response = await admin.PutAsync("/v1/identities/mia", BulwarkTestServer.Json("""{"name":"nia","roles":["viewer"]}"""), TestContext.Current.CancellationToken);

        var problem = await Http.ReadProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation");
        problem["errors"]![0]!["path"]!.GetValue<string>().ShouldBe("/name");
    }

    [Fact]
    public async Task Tokens_AreShownOnceStoredHashedAndRevocable()
    {
        using var admin = _server.CreateAdminClient();
        var ct = TestContext.Current.CancellationToken;
        await admin.PutAsync("/v1/identities/ops-bot", BulwarkTestServer.Json("""{"roles":["operator"]}"""), ct);

        using var created = await admin.PostAsync("/v1/identities/ops-bot/tokens", BulwarkTestServer.Json("""{"label":"ci"}"""), ct);
        var token = (await Http.ReadJsonAsync(created, HttpStatusCode.Created)).AsObject();
        var value = token["token"]!.GetValue<string>();
        value.ShouldStartWith("bwk_");
        Convert.FromBase64String(value[4..].Replace('-', '+').Replace('_', '/') + "=").Length.ShouldBe(32);
        created.Headers.CacheControl!.NoStore.ShouldBeTrue();

        var listing = (await Http.ReadJsonAsync(await admin.GetAsync("/v1/tokens?identity=ops-bot", ct))).ToJsonString();
        listing.ShouldContain(token["id"]!.GetValue<string>());
        listing.ShouldNotContain(value);
        var audit = (await Http.ReadJsonAsync(await admin.GetAsync("/v1/audit?limit=1000", ct))).ToJsonString();
        audit.ShouldNotContain(value);
        AssertNotInDataDirectory(value);
        var stored = SqliteFile.Query(_server.DatabasePath, $"SELECT hash FROM tokens WHERE id = '{token["id"]}'").Single();
        ((byte[])stored!).ShouldBe(Tokens.Hash(value));

        using var bot = _server.CreateClient(value);
        (await bot.GetAsync("/v1/whoami", ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await admin.DeleteAsync($"/v1/tokens/{token["id"]}", ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await bot.GetAsync("/v1/whoami", ct)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await admin.DeleteAsync($"/v1/tokens/{token["id"]}", ct)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await admin.DeleteAsync("/v1/tokens/tk_missing", ct)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task TokenCreatedWithIdempotencyKey_IsNeverStoredAndIsNullOnReplay()
    {
        using var admin = _server.CreateAdminClient();
        var ct = TestContext.Current.CancellationToken;
        await admin.PutAsync("/v1/identities/retrying-bot", BulwarkTestServer.Json("""{"roles":["viewer"]}"""), ct);

        async Task<HttpResponseMessage> CreateAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/identities/retrying-bot/tokens") { Content = BulwarkTestServer.Json("{}") };
            request.Headers.Add("Idempotency-Key", "token-once");
            return await admin.SendAsync(request, ct);
        }

        using var first = await CreateAsync();
        var created = await Http.ReadJsonAsync(first, HttpStatusCode.Created);
        var value = created["token"]!.GetValue<string>();
        using var replay = await CreateAsync();
        var replayed = await Http.ReadJsonAsync(replay, HttpStatusCode.Created);

        replay.Headers.GetValues("Idempotent-Replayed").ShouldBe(["true"]);
        replay.Headers.CacheControl!.NoStore.ShouldBeTrue();
        replayed["id"]!.GetValue<string>().ShouldBe(created["id"]!.GetValue<string>());
        replayed.AsObject().ContainsKey("token").ShouldBeTrue();
        replayed["token"].ShouldBeNull();
        (await _server.Store.ListTokensAsync("retrying-bot", ct)).Count.ShouldBe(1);
        AssertNotInDataDirectory(value);
    }

    [Fact]
    public async Task SeveralTokensOfOneIdentity_AllAuthenticateAsThatIdentity()
    {
        var first = await _server.CreateIdentityTokenAsync("pat", Role.Responder);
        using var admin = _server.CreateAdminClient();
        var second = (await Http.ReadJsonAsync(await admin.PostAsync("/v1/identities/pat/tokens", BulwarkTestServer.Json("{}"), TestContext.Current.CancellationToken), HttpStatusCode.Created))["token"]!.GetValue<string>();

        foreach (var token in new[] { first, second })
        {
            using var client = _server.CreateClient(token);
            var me = await Http.ReadJsonAsync(await client.GetAsync("/v1/whoami", TestContext.Current.CancellationToken));
            me["name"]!.GetValue<string>().ShouldBe("pat");
            me["roles"]!.AsArray().Select(r => r!.GetValue<string>()).ShouldBe(["responder"]);
        }
    }

    [Fact]
    public async Task DeleteIdentity_RevokesItsTokensAtOnce()
    {
        var token = await _server.CreateIdentityTokenAsync("quinn", Role.Viewer);
        using var user = _server.CreateClient(token);
        using var admin = _server.CreateAdminClient();
        (await user.GetAsync("/v1/whoami", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await admin.DeleteAsync("/v1/identities/quinn", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await user.GetAsync("/v1/whoami", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await admin.DeleteAsync("/v1/identities/quinn", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task LastAdmin_CannotBeDemotedOrDeleted_ButCanOnceAnotherAdminExists()
    {
        using var admin = _server.CreateAdminClient();
        var ct = TestContext.Current.CancellationToken;
        using (var demote = await admin.PutAsync("/v1/identities/admin", BulwarkTestServer.Json("""{"roles":["viewer"]}"""), ct))
        {
            await Http.ReadProblemAsync(demote, HttpStatusCode.Conflict, "conflict");
        }

        using (var delete = await admin.DeleteAsync("/v1/identities/admin", ct))
        {
            await Http.ReadProblemAsync(delete, HttpStatusCode.Conflict, "conflict");
        }

        await admin.PutAsync("/v1/identities/successor", BulwarkTestServer.Json("""{"roles":["admin"]}"""), ct);
        using var demoted = await admin.PutAsync("/v1/identities/admin", BulwarkTestServer.Json("""{"roles":["viewer"]}"""), ct);
        demoted.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Bootstrap_CreatedAdminOnceAndAuditedItAsSystem()
    {
        _server.Startup.Bootstrapped.ShouldBeTrue();
        _server.Startup.GeneratedAdminToken.ShouldBeNull();
        File.Exists(Path.Combine(_server.DataDirectory, "admin-token")).ShouldBeFalse();
        var entries = await _server.Store.ReadAuditAsync(0, 2, TestContext.Current.CancellationToken);
        entries.Select(e => (e.Actor, e.Action)).ShouldBe([("system:bootstrap", "identity.create"), ("system:bootstrap", "token.create")]);
        JsonNode.Parse(entries[1].After!)!["label"]!.GetValue<string>().ShouldBe("bootstrap");
    }

    /// <summary>Looks for the token's text in every file of the store, WAL included (where fresh rows live).</summary>
    private void AssertNotInDataDirectory(string secret)
    {
        var needle = System.Text.Encoding.UTF8.GetBytes(secret);
        foreach (var file in Directory.EnumerateFiles(_server.DataDirectory))
        {
            var bytes = File.ReadAllBytes(file);
            bytes.AsSpan().IndexOf(needle).ShouldBe(-1, $"the token is in {Path.GetFileName(file)}");
        }

        Directory.EnumerateFiles(_server.DataDirectory).ShouldContain(f => f.EndsWith("-wal", StringComparison.Ordinal));
    }
}
