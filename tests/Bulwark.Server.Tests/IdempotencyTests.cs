using System.Net;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

public sealed class IdempotencyTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private BulwarkTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await BulwarkTestServer.StartAsync(time: _time);

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task SameKeySameBody_ReplaysTheFirstResponseAndChangesNothingMore()
    {
        using var admin = _server.CreateAdminClient();
        var before = (await _server.Store.GetRecordedAuditHeadAsync(TestContext.Current.CancellationToken)).Seq;

        using var first = await SendAsync(admin, "key-1", """{"name":"dave","roles":["viewer"]}""");
        using var second = await SendAsync(admin, "key-1", """{"name":"dave","roles":["viewer"]}""");

        first.StatusCode.ShouldBe(HttpStatusCode.Created);
        second.StatusCode.ShouldBe(HttpStatusCode.Created);
        (await second.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).ShouldBe(await first.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        second.Headers.Location.ShouldBe(first.Headers.Location);
        second.Headers.GetValues("Idempotent-Replayed").ShouldBe(["true"]);
        first.Headers.Contains("Idempotent-Replayed").ShouldBeFalse();
        (await _server.Store.GetRecordedAuditHeadAsync(TestContext.Current.CancellationToken)).Seq.ShouldBe(before + 1);
    }

    [Fact]
    public async Task SameKeyDifferentBody_Is422AndChangesNothing()
    {
        using var admin = _server.CreateAdminClient();
        using var first = await SendAsync(admin, "key-2", """{"name":"erin","roles":["viewer"]}""");
        using var second = await SendAsync(admin, "key-2", """{"name":"frank","roles":["viewer"]}""");

        await Http.ReadProblemAsync(second, HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        (await _server.Store.GetIdentityAsync("frank", TestContext.Current.CancellationToken)).ShouldBeNull();
    }

    [Fact]
    public async Task ErrorAnswers_AreReplayedToo()
    {
        using var admin = _server.CreateAdminClient();
        using var first = await SendAsync(admin, "key-3", """{"name":"BAD","roles":["viewer"]}""");
        using var second = await SendAsync(admin, "key-3", """{"name":"BAD","roles":["viewer"]}""");

        first.StatusCode.ShouldBe(HttpStatusCode.UnprocessableEntity);
        second.StatusCode.ShouldBe(HttpStatusCode.UnprocessableEntity);
        second.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        second.Headers.GetValues("Idempotent-Replayed").ShouldBe(["true"]);
    }

    [Fact]
    public async Task RefusalsRaisedInsideTheStore_AreReplayedToo()
    {
        using var admin = _server.CreateAdminClient();
        using var create = await SendAsync(admin, "key-5", """{"name":"olga","roles":["viewer"]}""");
        using var first = await SendAsync(admin, "key-6", """{"name":"olga","roles":["viewer"]}""");
        using var second = await SendAsync(admin, "key-6", """{"name":"olga","roles":["viewer"]}""");

        await Http.ReadProblemAsync(first, HttpStatusCode.Conflict, "conflict");
        second.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        second.Headers.GetValues("Idempotent-Replayed").ShouldBe(["true"]);
        second.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
    }

    [Fact]
    public async Task KeysAreScopedPerIdentity()
    {
        var otherToken = await _server.CreateIdentityTokenAsync("other-admin", Bulwark.Identity.Role.Admin);
        using var admin = _server.CreateAdminClient();
        using var other = _server.CreateClient(otherToken);

        using var first = await SendAsync(admin, "shared-key", """{"name":"gina","roles":["viewer"]}""");
        using var second = await SendAsync(other, "shared-key", """{"name":"hank","roles":["viewer"]}""");

        first.StatusCode.ShouldBe(HttpStatusCode.Created);
        second.StatusCode.ShouldBe(HttpStatusCode.Created);
        (await _server.Store.GetIdentityAsync("hank", TestContext.Current.CancellationToken)).ShouldNotBeNull();
    }

    [Fact]
    public async Task AfterRetentionExpires_TheKeyRunsTheRequestAgain()
    {
        using var admin = _server.CreateAdminClient();
        using var first = await SendAsync(admin, "key-4", """{"name":"ivan","roles":["viewer"]}""");
        first.StatusCode.ShouldBe(HttpStatusCode.Created);

        _time.Advance(TimeSpan.FromHours(23));
        using var replay = await SendAsync(admin, "key-4", """{"name":"ivan","roles":["viewer"]}""");
        replay.StatusCode.ShouldBe(HttpStatusCode.Created);

        _time.Advance(TimeSpan.FromHours(2));
        using var rerun = await SendAsync(admin, "key-4", """{"name":"ivan","roles":["viewer"]}""");
        await Http.ReadProblemAsync(rerun, HttpStatusCode.Conflict, "conflict");
    }

    [Fact]
    public async Task InvalidKey_Is400()
    {
        using var admin = _server.CreateAdminClient();
        using var response = await SendAsync(admin, new string('k', 300), """{"name":"judy","roles":["viewer"]}""");

        await Http.ReadProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
        (await _server.Store.GetIdentityAsync("judy", TestContext.Current.CancellationToken)).ShouldBeNull();
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string key, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/identities") { Content = BulwarkTestServer.Json(body) };
        request.Headers.Add("Idempotency-Key", key);
        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
