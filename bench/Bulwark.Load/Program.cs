// Kill propagation: time from `POST /v1/flags/{key}/kill` returning to each of N SDK clients (SSE) holding
// EMERGENCY_OFF for that flag, over several kills per N. Starts a real server (Kestrel on loopback, SQLite in a temp
// directory) in this process. Usage: dotnet run -c Release --project bench/Bulwark.Load -- [OUT.json] [N...]
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Flags;
using Bulwark.Sdk;
using Bulwark.Server.Hosting;
using Bulwark.Storage;
using Bulwark.Storage.Sqlite;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

const string Token = "bwk_load-test-admin-token-0123456789";
const int Kills = 20;
var output = args.FirstOrDefault(a => a.EndsWith(".json", StringComparison.Ordinal)) ?? "kill-propagation.json";
var sizes = args.Where(a => int.TryParse(a, out _)).Select(int.Parse).DefaultIfEmpty().ToArray();
if (sizes is [0])
{
    sizes = [1, 100, 1000];
}

var data = Path.Combine(Path.GetTempPath(), "bulwark-load-" + Guid.NewGuid().ToString("N"));
var builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Logging.ClearProviders();
builder.Services.AddBulwarkServer(o => o.BootstrapToken = Token).UseStore(sp => new SqliteControlStore(
    new SqliteStoreOptions { DataDirectory = data, Instruments = sp.GetRequiredService<StoreInstruments>() }, TimeProvider.System));
await using var app = builder.Build();
app.UseBulwark();
await app.PrepareBulwarkAsync([]);
await app.StartAsync();
var server = new Uri(app.Urls.First());
using var admin = new HttpClient { BaseAddress = server };
admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);

var results = new JsonArray();
foreach (var clients in sizes)
{
    var keys = Enumerable.Range(0, Kills).Select(i => $"kill-{clients}-{i}").ToArray();
    foreach (var key in keys)
    {
        await Send(HttpMethod.Put, $"v1/flags/{key}", """{"type":"kill-switch","owner":"load","purpose":"propagation"}""");
        await Send(HttpMethod.Post, $"v1/flags/{key}/state", """{"state":"GRADUAL","percentage":100}""");
    }

    var sdk = new List<BulwarkFlagClient>(clients);
    var seen = new ConcurrentDictionary<string, ConcurrentBag<long>>();
    var pending = new ConcurrentDictionary<string, CountdownEvent>();
    for (var c = 0; c < clients; c++)
    {
        var client = new BulwarkFlagClient(new BulwarkClientOptions { ServerUrl = server, Token = Token });
        client.Changed += (sender, e) =>
        {
            var now = Stopwatch.GetTimestamp();
            foreach (var key in e.Keys)
            {
                if (pending.TryGetValue(key, out var countdown) &&
                    ((BulwarkFlagClient)sender!).Evaluate(key, new EvaluationContext("probe")).Reason == EvaluationReason.Disabled)
                {
                    seen.GetOrAdd(key, _ => []).Add(now);
                    countdown.Signal();
                }
            }
        };
        sdk.Add(client);
    }

    await Task.WhenAll(sdk.Select(c => c.StartAsync()));
    await Task.WhenAll(sdk.Select(c => c.WaitUntilReadyAsync()));

    // Every client holds its stream open before the first kill: the server counts them as requests in flight.
    while (!(await admin.GetStringAsync("metrics")).Contains($"bulwark_http_requests_in_flight {clients + 1}", StringComparison.Ordinal))
    {
        await Task.Delay(20);
    }

    var latencies = new List<double>();
    foreach (var key in keys)
    {
        using var countdown = new CountdownEvent(clients);
        pending[key] = countdown;
        await Send(HttpMethod.Post, $"v1/flags/{key}/kill", """{"reason":"load test"}""");
        var returned = Stopwatch.GetTimestamp();
        if (!countdown.Wait(TimeSpan.FromSeconds(30)))
        {
            throw new TimeoutException($"{countdown.CurrentCount} of {clients} clients never saw {key}");
        }

        latencies.AddRange(seen[key].Select(t => Stopwatch.GetElapsedTime(returned, t).TotalMilliseconds));
        pending.TryRemove(key, out _);
    }

    await Task.WhenAll(sdk.Select(c => c.DisposeAsync().AsTask()));
    latencies.Sort();
    double Percentile(double p) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];
    var row = new JsonObject
    {
        ["clients"] = clients,
        ["kills"] = Kills,
        ["samples"] = latencies.Count,
        ["p50_ms"] = Math.Round(Percentile(0.50), 3),
        ["p90_ms"] = Math.Round(Percentile(0.90), 3),
        ["p99_ms"] = Math.Round(Percentile(0.99), 3),
        ["max_ms"] = Math.Round(latencies[^1], 3),
    };
    results.Add(row);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clients,5} clients: p50 {row["p50_ms"]} ms, p90 {row["p90_ms"]} ms, p99 {row["p99_ms"]} ms, max {row["max_ms"]} ms over {latencies.Count} observations"));
}

var report = new JsonObject
{
    ["measure"] = "time from POST /v1/flags/{key}/kill returning to each SDK client holding EMERGENCY_OFF (Changed event, evaluated DISABLED)",
    ["machine"] = $"{Environment.ProcessorCount} cores, .NET {Environment.Version}",
    ["results"] = results,
};
await File.WriteAllTextAsync(output, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine("wrote " + Path.GetFullPath(output));
await app.StopAsync();
Directory.Delete(data, recursive: true);

async Task Send(HttpMethod method, string path, string body)
{
    using var request = new HttpRequestMessage(method, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
    using var response = await admin.SendAsync(request);
    response.EnsureSuccessStatusCode();
}
