using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

public sealed class CorrelationIdTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task GivenId_IsEchoedAndWrittenIntoTheAuditEntry()
    {
        using var admin = fixture.Server.CreateAdminClient();
        using var request = new HttpRequestMessage(HttpMethod.Put, "/v1/identities/corr") { Content = BulwarkTestServer.Json("""{"roles":["viewer"]}""") };
        request.Headers.Add("X-Correlation-ID", "incident-42:step.1");
        using var response = await admin.SendAsync(request, TestContext.Current.CancellationToken);

        response.Headers.GetValues("X-Correlation-ID").ShouldBe(["incident-42:step.1"]);
        var entries = await fixture.Server.Store.ReadAuditAsync(0, 1000, TestContext.Current.CancellationToken);
        entries.Single(e => e.Target == "identity/corr").CorrelationId.ShouldBe("incident-42:step.1");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("has spaces in it")]
    [InlineData("<script>")]
    public async Task MissingOrUnsafeId_IsReplacedByAGeneratedOne(string? given)
    {
        using var client = fixture.Server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/healthz");
        if (given is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Correlation-ID", given);
        }

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        var id = response.Headers.GetValues("X-Correlation-ID").Single();
        id.ShouldMatch("^[0-9a-f]{32}$");
    }
}
