using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

public sealed class OfrepTests : IAsyncLifetime
{
    private BulwarkTestServer _server = null!;
    private string _sdk = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync();
        _sdk = await _server.CreateIdentityTokenAsync("sdk", Role.Viewer);
        using var admin = _server.CreateAdminClient();
        foreach (var key in new[] { "everyone", "staff-only", "kill-me" })
        {
            (await admin.PutAsync($"/v1/flags/{key}", BulwarkTestServer.Json("""{"type":"operational","owner":"o","purpose":"p","cohorts":[{"name":"staff","allow":["u-staff"]}]}"""))).EnsureSuccessStatusCode();
        }

        await admin.PostAsync("/v1/flags/everyone/state", BulwarkTestServer.Json("""{"state":"GRADUAL","percentage":100}"""));
        await admin.PostAsync("/v1/flags/staff-only/state", BulwarkTestServer.Json("""{"state":"CANARY","percentage":0}"""));
        await admin.PostAsync("/v1/flags/kill-me/state", BulwarkTestServer.Json("""{"state":"GRADUAL","percentage":100}"""));
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SingleFlag_AnswersTheOfrepShapes()
    {
        using var client = _server.CreateClient(_sdk);
        var ok = await Http.ReadJsonAsync(await client.PostAsync("/ofrep/v1/evaluate/flags/everyone", BulwarkTestServer.Json("""{"context":{"targetingKey":"u-1"}}"""), Ct));
        (ok["key"]!.GetValue<string>(), ok["value"]!.GetValue<bool>(), ok["reason"]!.GetValue<string>(), ok["variant"]!.GetValue<string>()).ShouldBe(("everyone", true, "SPLIT", "on"));
        ok["metadata"]!["version"]!.GetValue<long>().ShouldBeGreaterThan(0);

        using var missing = await client.PostAsync("/ofrep/v1/evaluate/flags/nope", BulwarkTestServer.Json("""{"context":{"targetingKey":"u-1"}}"""), Ct);
        var notFound = await Http.ReadJsonAsync(missing, HttpStatusCode.NotFound);
        (notFound["key"]!.GetValue<string>(), notFound["errorCode"]!.GetValue<string>()).ShouldBe(("nope", "FLAG_NOT_FOUND"));

        using var noKey = await client.PostAsync("/ofrep/v1/evaluate/flags/everyone", BulwarkTestServer.Json("""{"context":{}}"""), Ct);
        (await Http.ReadJsonAsync(noKey, HttpStatusCode.BadRequest))["errorCode"]!.GetValue<string>().ShouldBe("TARGETING_KEY_MISSING");

        using var broken = await client.PostAsync("/ofrep/v1/evaluate/flags/everyone", BulwarkTestServer.Json("{not json"), Ct);
        (await Http.ReadJsonAsync(broken, HttpStatusCode.BadRequest))["errorCode"]!.GetValue<string>().ShouldBe("PARSE_ERROR");
    }

    [Fact]
    public async Task Bulk_HasAnETagPerSnapshotAndContext()
    {
        using var client = _server.CreateClient(_sdk);
        using var first = await client.PostAsync("/ofrep/v1/evaluate/flags", BulwarkTestServer.Json("""{"context":{"targetingKey":"u-staff"}}"""), Ct);
        var flags = (await Http.ReadJsonAsync(first))["flags"]!.AsArray();
        flags.Select(f => f!["key"]!.GetValue<string>()).ShouldBe(["everyone", "kill-me", "staff-only"]);
        flags[2]!["reason"]!.GetValue<string>().ShouldBe("TARGETING_MATCH");
        var etag = first.Headers.ETag!;

        using var same = new HttpRequestMessage(HttpMethod.Post, "/ofrep/v1/evaluate/flags") { Content = BulwarkTestServer.Json("""{"context":{"targetingKey":"u-staff"}}""") };
        same.Headers.IfNoneMatch.Add(etag);
        (await client.SendAsync(same, Ct)).StatusCode.ShouldBe(HttpStatusCode.NotModified);

        using var otherSubject = new HttpRequestMessage(HttpMethod.Post, "/ofrep/v1/evaluate/flags") { Content = BulwarkTestServer.Json("""{"context":{"targetingKey":"u-2"}}""") };
        otherSubject.Headers.IfNoneMatch.Add(etag);
        (await client.SendAsync(otherSubject, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    /// <summary>The official OpenFeature JS server SDK with the OFREP provider evaluates flags on a live server, a kill included.</summary>
    [Fact]
    public async Task OfficialOpenFeatureJsSdk_EvaluatesFlagsAndSeesAKill()
    {
        var before = await EvaluateWithJsSdkAsync("u-1", "everyone", "staff-only", "kill-me", "nope");
        before["everyone"].ShouldBe((true, "SPLIT", "on", null));
        before["staff-only"].ShouldBe((false, "DEFAULT", "off", null));
        before["kill-me"].ShouldBe((true, "SPLIT", "on", null));
        (await EvaluateWithJsSdkAsync("u-staff", "staff-only"))["staff-only"].ShouldBe((true, "TARGETING_MATCH", "on", null));
        before["nope"].Value.ShouldBeTrue("the caller's default");
        before["nope"].ErrorCode.ShouldBe("FLAG_NOT_FOUND");

        using var admin = _server.CreateAdminClient();
        (await admin.PostAsync("/v1/flags/kill-me/kill", BulwarkTestServer.Json("""{"reason":"interop"}"""), Ct)).EnsureSuccessStatusCode();

        var after = await EvaluateWithJsSdkAsync("u-staff", "kill-me");
        after["kill-me"].ShouldBe((false, "DISABLED", "off", null));
    }

    private async Task<Dictionary<string, (bool Value, string Reason, string? Variant, string? ErrorCode)>> EvaluateWithJsSdkAsync(string targetingKey, params string[] flags)
    {
        var output = await NodeInterop.RunAsync("ofrep-client.mjs", [_server.BaseAddress.ToString().TrimEnd('/'), _sdk, targetingKey, .. flags], Ct);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonNode.Parse(line)!)
            .ToDictionary(
                r => r["key"]!.GetValue<string>(),
                r => (r["value"]!.GetValue<bool>(), r["reason"]!.GetValue<string>(), r["variant"]?.GetValue<string>(), r["errorCode"]?.GetValue<string>()));
    }
}
