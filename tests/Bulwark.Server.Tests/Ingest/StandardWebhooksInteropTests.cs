using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests.Ingest;

/// <summary>Deliveries signed by the official npm <c>standardwebhooks</c> package (tests/interop) against a live server.</summary>
public sealed class StandardWebhooksInteropTests : IAsyncLifetime
{
    private IngestServer _ingest = null!;

    public async ValueTask InitializeAsync() => _ingest = await IngestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _ingest.DisposeAsync();

    [Fact]
    public async Task DeliveriesSignedByTheOfficialLibrary_AreAccepted_AndTamperedOnesRefused()
    {
        await _ingest.StandardSourceAsync("partner");
        var secret = _ingest.Secrets["SW_PARTNER"];
        var run = Guid.NewGuid().ToString("N")[..8];

        var output = await NodeInterop.RunAsync(
            "standardwebhooks-client.mjs", [_ingest.Server.BaseAddress.ToString().TrimEnd('/'), "partner", secret, run], TestContext.Current.CancellationToken);
        await _ingest.NormalizedAsync();

        var results = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToDictionary(r => r["case"]!.GetValue<string>());
        for (var i = 0; i < 5; i++)
        {
            results[$"signed-{i}"]["status"]!.GetValue<int>().ShouldBe(200, results[$"signed-{i}"].ToJsonString());
        }

        JsonNode.Parse(results["retry"]["body"]!.GetValue<string>())!["duplicate"]!.GetValue<bool>().ShouldBeTrue();
        foreach (var refused in new[] { "tampered-body", "tampered-id", "wrong-secret", "no-signature" })
        {
            results[refused]["status"]!.GetValue<int>().ShouldBe(401, refused);
            results[refused]["body"]!.GetValue<string>().ShouldContain("webhook-signature-invalid");
        }

        foreach (var stale in new[] { "stale", "future" })
        {
            results[stale]["status"]!.GetValue<int>().ShouldBe(401, stale);
            results[stale]["body"]!.GetValue<string>().ShouldContain("webhook-timestamp-outside-window");
        }

        var events = await _ingest.Events.QueryEventsAsync(new EventQuery(Source: "partner"), TestContext.Current.CancellationToken);
        events.Select(e => e.Event.Id).ShouldBe(Enumerable.Range(0, 5).Select(i => $"{run}_{i}"), ignoreOrder: true);
        events[0].Event.Details!["note"]!.GetValue<string>().ShouldBe("naïve — ünïcödé");
    }
}
