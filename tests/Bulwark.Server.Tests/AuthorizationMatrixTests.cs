using System.Net;
using Bulwark.Identity;
using Bulwark.TestUtils;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests;

/// <summary>Every endpoint × no token / unknown token / each role: 401, 403 or through, as its capability says.</summary>
public sealed class AuthorizationMatrixTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    /// <summary>A connector stored by the fixture, put again unchanged by the matrix.</summary>
    public const string MatrixConnector = """{"type":"http","url":"http://127.0.0.1:9/"}""";

    /// <summary>Every endpoint: method, route template, a concrete path, a body, and the capability it needs (null: public).</summary>
    public static readonly (string Method, string Route, string Path, string? Body, Capability? Needs)[] Endpoints =
    [
        ("GET", "/healthz", "/healthz", null, null),
        ("GET", "/readyz", "/readyz", null, null),
        ("GET", "/metrics", "/metrics", null, null),
        ("GET", "/openapi/{documentName}.json", "/openapi/v1.json", null, null),
        ("GET", "/v1/whoami", "/v1/whoami", null, Capability.Read),
        ("GET", "/v1/audit/", "/v1/audit", null, Capability.Read),
        ("GET", "/v1/audit/verify", "/v1/audit/verify", null, Capability.Read),
        ("GET", "/v1/audit/head", "/v1/audit/head", null, Capability.Read),
        ("GET", "/v1/identities/", "/v1/identities", null, Capability.Administer),
        ("POST", "/v1/identities/", "/v1/identities", """{"name":"matrix-new","roles":["viewer"]}""", Capability.Administer),
        ("GET", "/v1/identities/{name}", "/v1/identities/as-viewer", null, Capability.Administer),
        ("PUT", "/v1/identities/{name}", "/v1/identities/matrix-put", """{"roles":["viewer"]}""", Capability.Administer),
        ("DELETE", "/v1/identities/{name}", "/v1/identities/matrix-absent", null, Capability.Administer),
        ("POST", "/v1/identities/{name}/tokens", "/v1/identities/matrix-absent/tokens", "{}", Capability.Administer),
        ("GET", "/v1/tokens/", "/v1/tokens", null, Capability.Administer),
        ("DELETE", "/v1/tokens/{id}", "/v1/tokens/tk_absent", null, Capability.Administer),
        ("GET", "/v1/flags/", "/v1/flags", null, Capability.Read),
        ("GET", "/v1/flags/snapshot", "/v1/flags/snapshot", null, Capability.Read),
        ("GET", "/v1/flags/{key}", "/v1/flags/matrix-absent", null, Capability.Read),
        ("PUT", "/v1/flags/{key}", "/v1/flags/matrix-flag", """{"type":"operational","owner":"o","purpose":"p"}""", Capability.Configure),
        ("POST", "/v1/flags/{key}/archive", "/v1/flags/matrix-absent/archive", null, Capability.Configure),
        ("GET", "/v1/flags/{key}/history", "/v1/flags/matrix-absent/history", null, Capability.Read),
        ("POST", "/v1/flags/{key}/state", "/v1/flags/matrix-absent/state", """{"state":"GRADUAL","percentage":5}""", Capability.Read),
        ("POST", "/v1/flags/{key}/kill", "/v1/flags/matrix-absent/kill", """{"reason":"matrix"}""", Capability.Respond),
        ("GET", "/v1/changes/", "/v1/changes", null, Capability.Read),
        ("POST", "/v1/changes/{id}/approve", "/v1/changes/ch_absent/approve", null, Capability.Approve),
        ("POST", "/v1/changes/{id}/reject", "/v1/changes/ch_absent/reject", null, Capability.Read),
        ("POST", "/v1/evaluate", "/v1/evaluate", """{"context":{"targetingKey":"u1"}}""", Capability.Read),
        ("GET", "/v1/stream", "/v1/stream", null, Capability.Read),
        ("POST", "/ofrep/v1/evaluate/flags/{key}", "/ofrep/v1/evaluate/flags/matrix-absent", """{"context":{"targetingKey":"u1"}}""", Capability.Read),
        ("POST", "/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags", """{"context":{"targetingKey":"u1"}}""", Capability.Read),
        ("GET", "/v1/throttles/", "/v1/throttles", null, Capability.Read),
        ("GET", "/v1/throttles/{name}", "/v1/throttles/matrix-absent", null, Capability.Read),
        ("PUT", "/v1/throttles/{name}", "/v1/throttles/matrix-throttle", """{"layers":[{"key":"ip","limit":1,"per":"1m"}]}""", Capability.Configure),
        ("POST", "/v1/throttles/{name}/check", "/v1/throttles/matrix-absent/check", """{"keys":{"ip":"192.0.2.1"}}""", Capability.Read),
        ("POST", "/v1/throttles/{name}/tighten", "/v1/throttles/matrix-absent/tighten", """{"factor":2,"ttl":"1m","reason":"matrix"}""", Capability.Respond),
        ("DELETE", "/v1/throttles/{name}/tighten", "/v1/throttles/matrix-absent/tighten", null, Capability.Respond),
        ("GET", "/v1/throttles/{name}/blocks", "/v1/throttles/matrix-absent/blocks", null, Capability.Read),
        ("PUT", "/v1/throttles/{name}/blocks/{**key}", "/v1/throttles/matrix-absent/blocks/192.0.2.1", """{"for":"1m","reason":"matrix"}""", Capability.Respond),
        ("DELETE", "/v1/throttles/{name}/blocks/{**key}", "/v1/throttles/matrix-absent/blocks/192.0.2.1", null, Capability.Respond),
        ("GET", "/v1/mass-actions/", "/v1/mass-actions", null, Capability.Read),
        ("POST", "/v1/mass-actions/", "/v1/mass-actions", """{"name":"matrix-new","action":"a","flag":"matrix-absent","audience_size":1,"max_per_minute":1}""", Capability.Configure),
        ("GET", "/v1/mass-actions/{id}", "/v1/mass-actions/ma_absent", null, Capability.Read),
        ("PUT", "/v1/mass-actions/{id}", "/v1/mass-actions/matrix-put", """{"action":"a","flag":"matrix-absent","audience_size":1,"max_per_minute":1}""", Capability.Configure),
        ("POST", "/v1/mass-actions/{id}/approve", "/v1/mass-actions/ma_absent/approve", null, Capability.Approve),
        ("POST", "/v1/mass-actions/{id}/halt", "/v1/mass-actions/ma_absent/halt", """{"reason":"matrix"}""", Capability.Read),
        ("POST", "/v1/mass-actions/{id}/resume", "/v1/mass-actions/ma_absent/resume", """{"reason":"matrix"}""", Capability.Read),
        ("POST", "/v1/mass-actions/{id}/permits", "/v1/mass-actions/ma_absent/permits", """{"requested":1}""", Capability.Read),
        ("POST", "/v1/mass-actions/{id}/report", "/v1/mass-actions/ma_absent/report", """{"succeeded":0}""", Capability.Read),
        ("GET", "/v1/sources/", "/v1/sources", null, Capability.Read),
        ("GET", "/v1/sources/{name}", "/v1/sources/matrix-absent", null, Capability.Read),
        ("PUT", "/v1/sources/{name}", "/v1/sources/matrix-source", """{"scheme":"github","secrets":["env:BULWARK_MATRIX_UNSET"]}""", Capability.Configure),
        ("POST", "/v1/webhooks/{source}", "/v1/webhooks/matrix-absent", "{}", null),
        ("GET", "/v1/webhooks/{source}", "/v1/webhooks/matrix-absent", null, null),
        ("POST", "/v1/events/", "/v1/events", "[]", Capability.Ingest),
        ("GET", "/v1/events/", "/v1/events", null, Capability.Read),
        ("POST", "/v1/events/replay", "/v1/events/replay", """{"since":"2026-01-01T00:00:00Z","consumers":["matrix-absent"]}""", Capability.Configure),
        ("GET", "/v1/events/replays", "/v1/events/replays", null, Capability.Read),
        ("GET", "/v1/events/replays/{id}", "/v1/events/replays/rpl_absent", null, Capability.Read),
        ("GET", "/v1/raw/{id}", "/v1/raw/raw_absent", null, Capability.Read),
        ("GET", "/v1/raw/{id}/body", "/v1/raw/raw_absent/body", null, Capability.Read),
        ("GET", "/v1/quarantine/", "/v1/quarantine", null, Capability.Read),
        ("GET", "/v1/quarantine/{id}", "/v1/quarantine/q_absent", null, Capability.Read),
        ("POST", "/v1/quarantine/{id}/retry", "/v1/quarantine/q_absent/retry", null, Capability.Configure),
        ("GET", "/v1/detections/", "/v1/detections", null, Capability.Read),
        ("GET", "/v1/incidents/", "/v1/incidents", null, Capability.Read),
        ("GET", "/v1/incidents/{id}", "/v1/incidents/inc_absent", null, Capability.Read),
        ("POST", "/v1/incidents/{id}/resolve", "/v1/incidents/inc_absent/resolve", """{"verdict":"benign"}""", Capability.Respond),
        ("GET", "/v1/rules/", "/v1/rules", null, Capability.Read),
        ("GET", "/v1/rules/{name}", "/v1/rules/matrix-absent", null, Capability.Read),
        ("PUT", "/v1/rules/{name}", "/v1/rules/matrix-rule", """{"type":"count","severity":"low","window":"1m","threshold":2,"group_by":["actor.ip"]}""", Capability.Configure),
        ("GET", "/v1/detectors/", "/v1/detectors", null, Capability.Read),
        ("GET", "/v1/detectors/{name}", "/v1/detectors/matrix-absent", null, Capability.Read),
        ("PUT", "/v1/detectors/{name}", "/v1/detectors/matrix-detector", """{"severity":"low"}""", Capability.Configure),
        ("GET", "/v1/connectors/", "/v1/connectors", null, Capability.Read),
        ("GET", "/v1/connectors/{name}", "/v1/connectors/matrix-absent", null, Capability.Read),
        ("PUT", "/v1/connectors/{name}", "/v1/connectors/matrix-connector", MatrixConnector, Capability.Configure),
        ("GET", "/v1/runs/", "/v1/runs", null, Capability.Read),
        ("GET", "/v1/runs/{id}", "/v1/runs/run_matrix-absent", null, Capability.Read),
        ("GET", "/v1/approvals/", "/v1/approvals", null, Capability.Read),
        ("GET", "/v1/approvals/{id}", "/v1/approvals/apr_matrix-absent", null, Capability.Read),
        ("POST", "/v1/approvals/{id}/approve", "/v1/approvals/apr_matrix-absent/approve", null, Capability.Read),
        ("POST", "/v1/approvals/{id}/deny", "/v1/approvals/apr_matrix-absent/deny", """{"note":"matrix"}""", Capability.Read),
        ("POST", "/v1/incidents/{id}/rollback", "/v1/incidents/inc_absent/rollback", null, Capability.Respond),
        ("POST", "/v1/incidents/{id}/runs", "/v1/incidents/inc_absent/runs", """{"playbook":"matrix-absent"}""", Capability.Respond),
        ("GET", "/v1/incidents/{id}/evidence", "/v1/incidents/inc_absent/evidence", null, Capability.Read),
        ("GET", "/v1/evidence/{id}", "/v1/evidence/evd_absent", null, Capability.Read),
        ("GET", "/v1/evidence/{id}/content", "/v1/evidence/evd_absent/content", null, Capability.Read),
        ("GET", "/v1/playbooks/", "/v1/playbooks", null, Capability.Read),
        ("GET", "/v1/playbooks/{name}", "/v1/playbooks/matrix-absent", null, Capability.Read),
        ("PUT", "/v1/playbooks/{name}", "/v1/playbooks/matrix-playbook", """{"trigger":{"min_severity":"low"},"steps":[{"id":"a","action":"flag.kill","with":{"flag":"f"}}]}""", Capability.Configure),
    ];

    public static TheoryData<string, string> EndpointCases() =>
        [.. Endpoints.Where(e => e.Needs is not null).Select(e => (e.Method, e.Path))];

    public static TheoryData<string, string, Role> RoleCases()
    {
        var cases = new TheoryData<string, string, Role>();
        foreach (var endpoint in Endpoints.Where(e => e.Needs is not null))
        {
            foreach (var role in Roles.All)
            {
                cases.Add(endpoint.Method, endpoint.Path, role);
            }
        }

        return cases;
    }

    [Fact]
    public void Matrix_CoversEveryMappedEndpoint()
    {
        var mapped = fixture.Server.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(m => $"{m} {e.RoutePattern.RawText}"))
            .Order()
            .ToList();

        mapped.ShouldBe(Endpoints.Select(e => $"{e.Method} {e.Route}").Order().ToList());
    }

    [Theory]
    [MemberData(nameof(EndpointCases))]
    public async Task Endpoint_WithoutToken_Is401(string method, string path)
    {
        using var client = fixture.Server.CreateClient();
        using var request = Http.Request(new HttpMethod(method), path, json: Body(method, path));
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.Unauthorized, "unauthenticated");
        response.Headers.WwwAuthenticate.ToString().ShouldStartWith("Bearer");
    }

    [Theory]
    [MemberData(nameof(EndpointCases))]
    public async Task Endpoint_WithUnknownToken_Is401(string method, string path)
    {
        using var client = fixture.Server.CreateClient();
        using var request = Http.Request(new HttpMethod(method), path, token: "bwk_not-a-real-token-at-all-0000000000", json: Body(method, path));
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Theory]
    [MemberData(nameof(RoleCases))]
    public async Task Endpoint_ForEachRole_IsForbiddenExactlyWhenTheRoleLacksTheCapability(string method, string path, Role role)
    {
        var needs = Endpoints.Single(e => e.Method == method && e.Path == path).Needs!.Value;
        using var client = fixture.Server.CreateClient(fixture.RoleTokens[role]);
        using var request = Http.Request(new HttpMethod(method), path, json: Body(method, path));

        // Headers only: the change stream never ends for an allowed caller.
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);

        if (Roles.Grants(role, needs))
        {
            response.StatusCode.ShouldNotBe(HttpStatusCode.Unauthorized);
            response.StatusCode.ShouldNotBe(HttpStatusCode.Forbidden);
            ((int)response.StatusCode).ShouldBeLessThan(500);
        }
        else
        {
            var problem = await Http.ReadProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
            problem["detail"]!.GetValue<string>().ShouldContain(needs.ToString().ToLowerInvariant());
        }
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    [InlineData("/metrics")]
    [InlineData("/openapi/v1.json")]
    public async Task PublicEndpoint_WithoutToken_Answers200(string path)
    {
        using var client = fixture.Server.CreateClient();
        using var response = await client.GetAsync(path, TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task RevokedToken_IsRefusedOnTheNextCall()
    {
        var token = await fixture.Server.CreateIdentityTokenAsync("to-revoke", Role.Viewer);
        using var user = fixture.Server.CreateClient(token);
        using var admin = fixture.Server.CreateAdminClient();
        (await user.GetAsync("/v1/whoami", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var tokenId = (await Http.ReadJsonAsync(await user.GetAsync("/v1/whoami", TestContext.Current.CancellationToken)))["token_id"]!.GetValue<string>();

        (await admin.DeleteAsync($"/v1/tokens/{tokenId}", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        using var after = await user.GetAsync("/v1/whoami", TestContext.Current.CancellationToken);
        await Http.ReadProblemAsync(after, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    private static string? Body(string method, string path) =>
        Endpoints.Single(e => e.Method == method && e.Path == path).Body;
}
