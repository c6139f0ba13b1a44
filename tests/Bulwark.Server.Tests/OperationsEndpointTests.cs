using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

public sealed class OperationsEndpointTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Metrics_PassPromtoolAndCountRequestsByRouteAndStatus()
    {
        var promtool = Infrastructure.RequireTool("promtool");
        using var client = fixture.Server.CreateClient();
        var ct = TestContext.Current.CancellationToken;
        await client.GetAsync("/v1/identities", ct);
        using var admin = fixture.Server.CreateAdminClient();
        await admin.PutAsync("/v1/identities/metered", BulwarkTestServer.Json("""{"roles":["viewer"]}"""), ct);

        var text = await client.GetStringAsync("/metrics", ct);

        text.ShouldContain("""bulwark_http_requests_total{method="GET",route="/v1/identities/",status="401"}""");
        text.ShouldContain("""bulwark_http_request_duration_seconds_bucket{method="PUT",route="/v1/identities/{name}",status="201",le="+Inf"}""");
        text.ShouldMatch(@"(?m)^bulwark_audit_appends_total [1-9][0-9]*$");
        var start = new ProcessStartInfo(promtool, ["check", "metrics"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(text);
        process.StandardInput.Close();
        var problems = await process.StandardOutput.ReadToEndAsync(ct) + await process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        process.ExitCode.ShouldBe(0, problems);
        problems.Trim().ShouldBeEmpty();
    }

    [Fact]
    public async Task Metrics_InventedMethods_AreCountedAsOtherSoLabelsStayBounded()
    {
        using var client = fixture.Server.CreateClient();
        var ct = TestContext.Current.CancellationToken;
        foreach (var method in new[] { "FOO1", "FOO2", "BREW" })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), "/x");
            using var response = await client.SendAsync(request, ct);
        }

        var text = await client.GetStringAsync("/metrics", ct);
        text.ShouldContain("method=\"_OTHER\"");
        text.ShouldNotContain("FOO1");
        text.ShouldNotContain("BREW");
    }

    [Fact]
    public async Task Metrics_AuditAppendsCounterGrowsWithEachAuditedChange()
    {
        using var admin = fixture.Server.CreateAdminClient();
        var ct = TestContext.Current.CancellationToken;
        var before = AppendCount(await admin.GetStringAsync("/metrics", ct));
        await admin.PutAsync("/v1/identities/counted-1", BulwarkTestServer.Json("""{"roles":["viewer"]}"""), ct);
        await admin.PutAsync("/v1/identities/counted-2", BulwarkTestServer.Json("""{"roles":["viewer"]}"""), ct);

        AppendCount(await admin.GetStringAsync("/metrics", ct)).ShouldBe(before + 2);
    }

    [Fact]
    public async Task OpenApiDocument_IsServedAndListsTheApi()
    {
        using var client = fixture.Server.CreateClient();
        var document = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json", TestContext.Current.CancellationToken))!;

        document["openapi"]!.GetValue<string>().ShouldStartWith("3.");
        var paths = document["paths"]!.AsObject().Select(p => p.Key).ToList();
        paths.ShouldContain("/v1/identities/{name}");
        paths.ShouldContain("/v1/audit/verify");
    }

    [Fact]
    public async Task Health_AndReadiness_Answer()
    {
        using var client = fixture.Server.CreateClient();
        var ready = await Http.ReadJsonAsync(await client.GetAsync("/readyz", TestContext.Current.CancellationToken));
        ready["status"]!.GetValue<string>().ShouldBe("ready");
        (await client.GetAsync("/healthz", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    private static long AppendCount(string metrics) =>
        long.Parse(metrics.Split('\n').Single(l => l.StartsWith("bulwark_audit_appends_total ", StringComparison.Ordinal)).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
}
