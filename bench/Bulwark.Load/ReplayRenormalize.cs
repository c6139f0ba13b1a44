// Replay with re-normalization: `POST /v1/events/replay {"since", "renormalize": true}` over every snapshot a closed loop
// of signed deliveries stored, timed from the request to its answer, in re-normalized snapshots per second. The
// deliveries are first quarantined (the source names the wrong normalizer); the first round follows the fix and adds
// every event, later rounds add none. Only the `metrics` consumer is rewound, so that the detection pipeline's second
// reading does not run into the next round.
// Usage: dotnet run -c Release --project bench/Bulwark.Load -- replay [OUT.json] [--seconds S=5] [--rounds R=3]
//          [--concurrency 128]
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using static LoadTool;

internal static class ReplayRenormalize
{
    private const string AdminToken = "bwk_load-test-admin-token-0123456789";
    private const string Source = "bench-partner";

    public static async Task<int> RunAsync(string[] args)
    {
        var output = args.FirstOrDefault(a => a.EndsWith(".json", StringComparison.Ordinal)) ?? "replay-renormalize.json";
        var seconds = Number(args, "--seconds", 5);
        var rounds = Number(args, "--rounds", 3);
        var concurrency = Number(args, "--concurrency", 128);
        return await InTempDirectoryAsync(async work =>
        {
            var data = Directory.CreateDirectory(Path.Combine(work, "data")).FullName;
            var (_, trace) = IngestWorkload.LoadTrace(null);
            var secret = WebhookDeliveries.NewSecret();
            var deliveries = new WebhookDeliveries(secret, Source, trace, 500, randomIds: false);
            var environment = new Dictionary<string, string> { [IngestBenchEndpoints.SecretVariable] = secret };
            await using var server = await CheckServer.StartAsync(data, AdminToken, inProcess: false, environment);
            using var admin = Client(server.BaseAddress, AdminToken);
            admin.Timeout = TimeSpan.FromMinutes(30);
            // The deliveries are v1 events, but the source first names the wrong normalizer, so each is quarantined; the
            // fix comes before the first replay, which adds every event, as after a real normalizer fix.
            async Task DefineAsync(string normalizer) => await SendAsync(admin, HttpMethod.Put, $"v1/sources/{Source}", $$"""
                {"description":"Bulwark.Load replay","scheme":"standard-webhooks","secrets":["env:{{IngestBenchEndpoints.SecretVariable}}"],"normalizer":"{{normalizer}}"}
                """);
            await DefineAsync("okta");

            var since = TimeProvider.System.GetUtcNow().AddSeconds(-1).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
            using var load = new RequestLoad(server.BaseAddress, concurrency, TimeSpan.FromSeconds(30));
            var stored = await load.RunClosedAsync(() => deliveries.Next($"/v1/webhooks/{Source}"), concurrency, TimeSpan.FromSeconds(seconds));
            var drained = await WebhookIngest.DrainAsync(admin, gated: false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"stored {stored.Requests} deliveries ({stored.RequestsPerSecond:F0}/s), normalized {drained:F1} s later"));

            await DefineAsync("event-v1");
            var runs = new JsonArray();
            for (var round = 1; round <= rounds; round++)
            {
                var started = Stopwatch.GetTimestamp();
                var answer = JsonNode.Parse(await SendAsync(admin, HttpMethod.Post, "v1/events/replay", $$"""
                    {"since":"{{since}}","renormalize":true,"consumers":["metrics"],"reason":"Bulwark.Load replay"}
                    """))!;
                var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
                var renormalized = answer["renormalized"]!.GetValue<int>();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round}: re-normalized {renormalized} snapshots in {elapsed:F2} s, {renormalized / elapsed:F0}/s, {answer["appended"]} new events"));
                runs.Add(new JsonObject
                {
                    ["round"] = round,
                    ["renormalized"] = renormalized,
                    ["appended"] = answer["appended"]!.GetValue<int>(),
                    ["seconds"] = Math.Round(elapsed, 3),
                    ["snapshots_per_second"] = Math.Round(renormalized / elapsed),
                });
            }

            var report = new JsonObject
            {
                ["measure"] = "POST /v1/events/replay with renormalize over every stored snapshot (rewinding only the metrics consumer), from the request to its answer; the snapshots were quarantined (wrong normalizer) and the source fixed before round 1, so round 1 adds every event and resolves every entry, later rounds add nothing",
                ["machine"] = Machine(),
                ["stored_deliveries"] = stored.Requests,
                ["rounds"] = runs,
            };
            var expected = stored.Requests;
            var wrong = runs.Count(r => r!["renormalized"]!.GetValue<int>() != expected);
            return await WriteReportAsync(output, report, wrong + stored.TransportErrors, "rounds did not re-normalize every stored snapshot, or deliveries failed");
        });
    }
}
