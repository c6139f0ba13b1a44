using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

/// <summary>One running server shared by a test class, with a token for each role.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public BulwarkTestServer Server { get; private set; } = null!;

    public Dictionary<Role, string> RoleTokens { get; } = [];

    public async ValueTask InitializeAsync()
    {
        Server = await BulwarkTestServer.StartAsync();
        foreach (var role in Roles.All)
        {
            RoleTokens[role] = await Server.CreateIdentityTokenAsync("as-" + Roles.Name(role), role);
        }

        // The connector the authorization matrix puts again, unchanged, as a caller with the configure capability may: a
        // new URL or secret takes administer (SecretDestinationsTests).
        using var admin = Server.CreateAdminClient();
        using var connector = await admin.PutAsync("v1/connectors/matrix-connector", BulwarkTestServer.Json(AuthorizationMatrixTests.MatrixConnector));
        connector.EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

internal static class Http
{
    public static async Task<JsonObject> ReadProblemAsync(HttpResponseMessage response, HttpStatusCode status, string slug)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(status, text);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        var problem = JsonNode.Parse(text)!.AsObject();
        problem["type"]!.GetValue<string>().ShouldBe("urn:bulwark:problem:" + slug);
        problem["status"]!.GetValue<int>().ShouldBe((int)status);
        problem["title"]!.GetValue<string>().ShouldNotBeNullOrWhiteSpace();
        var correlation = response.Headers.GetValues("X-Correlation-ID").Single();
        problem["correlation_id"]!.GetValue<string>().ShouldBe(correlation);
        return problem;
    }

    public static async Task<JsonNode> ReadJsonAsync(HttpResponseMessage response, HttpStatusCode status = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(status, text);
        return JsonNode.Parse(text)!;
    }

    public static HttpRequestMessage Request(HttpMethod method, string path, string? token = null, string? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (json is not null)
        {
            request.Content = BulwarkTestServer.Json(json);
        }

        return request;
    }
}
