using System.Net;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests.Response;

/// <summary><c>/v1/connectors</c> and <c>/v1/playbooks</c>: stored, versioned, audited; a playbook must name connectors in force.</summary>
public sealed class ResponseDefinitionsApiTests : IAsyncLifetime
{
    private const string Platform = """
        {"type":"platform","platform":"instagram","url":"http://127.0.0.1:9/","secret":"env:BULWARK_TEST_UNSET_PLATFORM_TOKEN"}
        """;

    private const string Playbook = """
        {"trigger":{"rules":["contact-change-then-token-rotation"],"min_severity":"high","min_confidence":0.5},"auto_threshold":0.8,
         "steps":[{"id":"revoke","action":"platform.revoke_tokens","connector":"instagram-api","for_each":"accounts"}]}
        """;

    private readonly TempDirectory _data = new();
    private BulwarkTestServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _server = await BulwarkTestServer.StartAsync(_data.Path);

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _data.Dispose();
    }

    [Fact]
    public async Task PutGet_ConnectorShowsItsSecretAsAReference_AndAPlaybookNeedsItsConnector()
    {
        using var admin = _server.CreateAdminClient();

        await Http.ReadProblemAsync(await admin.PutAsync("v1/playbooks/contain", BulwarkTestServer.Json(Playbook), Ct), HttpStatusCode.UnprocessableEntity, "validation");
        (await admin.PutAsync("v1/connectors/instagram-api", BulwarkTestServer.Json(Platform), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await admin.PutAsync("v1/playbooks/contain", BulwarkTestServer.Json(Playbook), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await admin.PutAsync("v1/playbooks/contain", BulwarkTestServer.Json(Playbook), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        var connector = await Http.ReadJsonAsync(await admin.GetAsync("v1/connectors/instagram-api", Ct));
        connector["secret"]!.GetValue<string>().ShouldBe("env:BULWARK_TEST_UNSET_PLATFORM_TOKEN");
        var playbook = await Http.ReadJsonAsync(await admin.GetAsync("v1/playbooks/contain", Ct));
        playbook["kind"]!.GetValue<string>().ShouldBe("Playbook");
        playbook["steps"]!.AsArray().ShouldHaveSingleItem()!["action"]!.GetValue<string>().ShouldBe("platform.revoke_tokens");
        (await Http.ReadJsonAsync(await admin.GetAsync("v1/playbooks", Ct)))["items"]!.AsArray().Count.ShouldBe(1);
        await Http.ReadProblemAsync(await admin.GetAsync("v1/playbooks/missing", Ct), HttpStatusCode.NotFound, "not-found");
        await Http.ReadProblemAsync(
            await admin.PutAsync("v1/connectors/bad", BulwarkTestServer.Json("""{"type":"slack","secret":"https://hooks.slack.com/services/T/B/x"}"""), Ct),
            HttpStatusCode.UnprocessableEntity,
            "validation");

        var audit = await admin.GetStringAsync("v1/audit?limit=1000", Ct);
        audit.ShouldContain("connector.create");
        audit.ShouldContain("playbook.create");
        audit.ShouldNotContain("hooks.slack.com");
    }
}
