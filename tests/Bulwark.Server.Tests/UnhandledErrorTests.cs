using System.Net;
using Bulwark.TestUtils;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Bulwark.Server.Tests;

public sealed class UnhandledErrorTests : IAsyncLifetime
{
    private const string Secret = "connection string with password=hunter2";
    private BulwarkTestServer _server = null!;

    public async ValueTask InitializeAsync() =>
        _server = await BulwarkTestServer.StartAsync(mapExtraEndpoints: app =>
            app.MapGet("/test/explode", string () => throw new InvalidOperationException(Secret)).AllowAnonymous());

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task UnhandledException_Is500ProblemWithoutDetailsAndTheServerKeepsServing()
    {
        using var client = _server.CreateClient();
        using var response = await client.GetAsync("/test/explode", TestContext.Current.CancellationToken);

        var problem = await Http.ReadProblemAsync(response, HttpStatusCode.InternalServerError, "internal");
        problem.ToJsonString().ShouldNotContain("hunter2");
        problem["detail"]!.GetValue<string>().ShouldContain("correlation id");
        (await client.GetAsync("/healthz", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }
}
