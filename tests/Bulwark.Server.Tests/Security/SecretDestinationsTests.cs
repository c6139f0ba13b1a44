using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Server.Ingest;
using Bulwark.TestUtils;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Security;

/// <summary>
/// Where the server sends a secret or what it fetches takes the administer capability: an operator (configure) could
/// otherwise send the bootstrap token, or any secret the server resolves, to a host of their own.
/// </summary>
public sealed class SecretDestinationsTests : IAsyncLifetime
{
    private readonly TestSecrets _secrets = new();
    private BulwarkTestServer _server = null!;
    private HttpClient _operator = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _secrets["OKTA_HOOK"] = "okta-event-hook-authorization-value";
        _secrets["OKTA_API"] = "SSWS okta-api-token";
        _secrets["BULWARK_BOOTSTRAP_TOKEN"] = "bwk_the-admin-token";
        _server = await BulwarkTestServer.StartAsync(services: s => s.AddSingleton<ISecretResolver>(_secrets));
        _operator = _server.CreateClient(await _server.CreateIdentityTokenAsync("ops", Role.Operator));
    }

    public async ValueTask DisposeAsync()
    {
        _operator.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task PolledSource_OnlyAnAdministratorSetsItsUrlOrCredential_AnOperatorTheRest()
    {
        JsonObject Source(string url, string auth, string description = "audit log") => new()
        {
            ["scheme"] = "okta",
            ["secrets"] = new JsonArray("env:OKTA_HOOK"),
            ["description"] = description,
            ["poll"] = new JsonObject { ["url"] = url, ["auth"] = auth, ["interval"] = "1h" },
        };

        var stolen = await Http.ReadProblemAsync(
            await _operator.PutAsync("v1/sources/okta", BulwarkTestServer.Json(Source("http://127.0.0.1:9/x", "env:BULWARK_BOOTSTRAP_TOKEN")), Ct),
            HttpStatusCode.Forbidden,
            "forbidden");
        stolen["detail"]!.GetValue<string>().ShouldContain("poll.url, poll.auth");
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("v1/sources/okta", BulwarkTestServer.Json(Source("http://127.0.0.1:9/logs", "env:OKTA_API")), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);

        // The same poll block with another description: the operator's to change. Another URL or credential is not.
        (await _operator.PutAsync("v1/sources/okta", BulwarkTestServer.Json(Source("http://127.0.0.1:9/logs", "env:OKTA_API", "Okta audit log")), Ct))
            .StatusCode.ShouldBe(HttpStatusCode.OK);
        await Http.ReadProblemAsync(
            await _operator.PutAsync("v1/sources/okta", BulwarkTestServer.Json(Source("http://169.254.169.254/latest/meta-data/", "env:OKTA_API")), Ct),
            HttpStatusCode.Forbidden,
            "forbidden");
        await Http.ReadProblemAsync(
            await _operator.PutAsync("v1/sources/okta", BulwarkTestServer.Json(Source("http://127.0.0.1:9/logs", "env:BULWARK_BOOTSTRAP_TOKEN")), Ct),
            HttpStatusCode.Forbidden,
            "forbidden");
        await Http.ReadProblemAsync(
            await _operator.PutAsync("v1/sources/okta", BulwarkTestServer.Json(Source("http://user:pw@127.0.0.1:9/logs", "env:OKTA_API")), Ct),
            HttpStatusCode.Forbidden,
            "forbidden");

        // Even an administrator cannot send the credential in a header the poller sets itself.
        var header = Source("http://127.0.0.1:9/logs", "env:OKTA_API");
        header["poll"]!["auth_header"] = "Host";
        var refused = await Http.ReadProblemAsync(await admin.PutAsync("v1/sources/okta", BulwarkTestServer.Json(header), Ct), HttpStatusCode.UnprocessableEntity, "validation");
        refused["errors"]!.AsArray().ShouldHaveSingleItem()!["path"]!.GetValue<string>().ShouldBe("/poll/auth_header");

        var stored = await Http.ReadJsonAsync(await admin.GetAsync("v1/sources/okta", Ct));
        (stored["description"]!.GetValue<string>(), stored["poll"]!["url"]!.GetValue<string>(), stored["poll"]!["auth"]!.GetValue<string>())
            .ShouldBe(("Okta audit log", "http://127.0.0.1:9/logs", "env:OKTA_API"));
    }

    [Fact]
    public async Task PolledSource_AnOperatorsPutOfTheUrlItRead_IsRefusedWhenAnAdministratorChangedItMeanwhile()
    {
        // The operator's request read the source with the first URL (so the early check let it through); an
        // administrator then moved the source to another. Written now, the operator's put would move it back.
        JsonObject Source(string url) => new()
        {
            ["scheme"] = "okta",
            ["secrets"] = new JsonArray("env:OKTA_HOOK"),
            ["poll"] = new JsonObject { ["url"] = url, ["auth"] = "env:OKTA_API", ["interval"] = "1h" },
        };

        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("v1/sources/okta", BulwarkTestServer.Json(Source("http://127.0.0.1:9/old")), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        var read = Source("http://127.0.0.1:9/old");
        read["name"] = "okta";
        var operatorsPut = Bulwark.Ingest.SourceKind.Instance.Read(read).Value!;
        (await admin.PutAsync("v1/sources/okta", BulwarkTestServer.Json(Source("http://127.0.0.1:9/new")), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        var service = _server.Services.GetRequiredService<SourceService>();
        var refused = await Should.ThrowAsync<Bulwark.Server.Http.ProblemException>(() => service.PutAsync(
            operatorsPut,
            new Bulwark.Server.Hosting.ChangeContext("ops", null),
            Ct,
            replaced => SourcesApi.PollChanges(replaced?.Poll, operatorsPut.Poll) is { } changes ? Bulwark.Server.Security.SecretDestinations.Refusal(changes) : null));

        refused.Message.ShouldContain("administer");
        (await Http.ReadJsonAsync(await admin.GetAsync("v1/sources/okta", Ct)))["poll"]!["url"]!.GetValue<string>().ShouldBe("http://127.0.0.1:9/new");
    }

    [Fact]
    public async Task Connector_OnlyAnAdministratorSetsWhereItCallsOrItsSecret()
    {
        const string Platform = """{"type":"platform","platform":"instagram","url":"http://127.0.0.1:9/","secret":"env:BULWARK_BOOTSTRAP_TOKEN"}""";

        await Http.ReadProblemAsync(await _operator.PutAsync("v1/connectors/ig", BulwarkTestServer.Json(Platform), Ct), HttpStatusCode.Forbidden, "forbidden");
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("v1/connectors/ig", BulwarkTestServer.Json(Platform), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await _operator.PutAsync("v1/connectors/ig", BulwarkTestServer.Json(Platform), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        await Http.ReadProblemAsync(
            await _operator.PutAsync("v1/connectors/ig", BulwarkTestServer.Json(Platform.Replace("127.0.0.1:9", "attacker.example", StringComparison.Ordinal)), Ct),
            HttpStatusCode.Forbidden,
            "forbidden");
    }
}
