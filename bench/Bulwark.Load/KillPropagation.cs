// Kill propagation: time from `POST /v1/flags/{key}/kill` returning to each of N SDK clients (SSE) holding
// EMERGENCY_OFF for that flag, over several kills per N. By default the server is the real `bulwark serve` in its own
// process (SQLite in a temp directory) and the clients share this one, as a deployment would split them; with
// --in-process the server runs inside this process too, every client's work and the server's on one heap. Before the
// kills of each round, W unmeasured percentage changes (status-only events, the same path) warm both runtimes up.
// Usage: dotnet run -c Release --project bench/Bulwark.Load -- [OUT.json] [N...] [--kills K] [--warm-up W] [--in-process] [--verbose] [--allocations | --jit]
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Flags;
using Bulwark.Sdk;

internal static class KillPropagation
{
    private const string Token = "bwk_load-test-admin-token-0123456789";

    public static async Task RunAsync(string[] args)
    {
        var output = args.FirstOrDefault(a => a.EndsWith(".json", StringComparison.Ordinal)) ?? "kill-propagation.json";
        var sizes = args.Where((a, i) => int.TryParse(a, out _) && (i == 0 || !args[i - 1].StartsWith("--", StringComparison.Ordinal))).Select(int.Parse).DefaultIfEmpty().ToArray();
        if (sizes is [0])
        {
            sizes = [1, 100, 1000];
        }

        var kills = Option("--kills", 20);
        var warmUps = Option("--warm-up", 40);
        var inProcess = args.Contains("--in-process");
        var verbose = args.Contains("--verbose");
        var data = Path.Combine(Path.GetTempPath(), "bulwark-load-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(data);
        var server = inProcess ? await InProcessServer.StartAsync(data, Token) : await ServerProcess.StartAsync(data, Token);
        using var admin = new HttpClient { BaseAddress = server.BaseAddress };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);

        var results = new JsonArray();
        var probe = new EvaluationContext("probe");
        foreach (var clients in sizes)
        {
            var keys = Enumerable.Range(0, kills).Select(i => $"kill-{clients}-{i}").ToArray();
            foreach (var key in keys)
            {
                await Send(HttpMethod.Put, $"v1/flags/{key}", """{"type":"kill-switch","owner":"load","purpose":"propagation"}""");
                await Send(HttpMethod.Post, $"v1/flags/{key}/state", """{"state":"GRADUAL","percentage":100}""");
            }

            // Warm-up: percentage changes on a flag of its own take the same path as a kill (a status-only event to every
            // client), so the runtime has tiered up the stream code on both sides before anything is measured.
            var warmKey = $"warm-{clients}";
            await Send(HttpMethod.Put, $"v1/flags/{warmKey}", """{"type":"operational","owner":"load","purpose":"warm-up"}""");
            await Send(HttpMethod.Post, $"v1/flags/{warmKey}/state", """{"state":"GRADUAL","percentage":100}""");

            var sdk = new List<BulwarkFlagClient>(clients);
            var seen = new ConcurrentDictionary<string, ConcurrentBag<long>>();
            var pending = new ConcurrentDictionary<string, CountdownEvent>();
            for (var c = 0; c < clients; c++)
            {
                var client = new BulwarkFlagClient(new BulwarkClientOptions { ServerUrl = server.BaseAddress, Token = Token });
                client.Changed += (sender, e) =>
                {
                    var now = Stopwatch.GetTimestamp();
                    foreach (var key in e.Keys)
                    {
                        if (pending.TryGetValue(key, out var countdown) &&
                            (key == warmKey || ((BulwarkFlagClient)sender!).Evaluate(key, probe).Reason == EvaluationReason.Disabled))
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

            for (var i = 0; i < warmUps; i++)
            {
                using var countdown = new CountdownEvent(clients);
                pending[warmKey] = countdown;
                await Send(HttpMethod.Post, $"v1/flags/{warmKey}/state", $$"""{"state":"GRADUAL","percentage":{{50 + i}}}""");
                if (!countdown.Wait(TimeSpan.FromSeconds(30)))
                {
                    throw new TimeoutException($"{countdown.CurrentCount} of {clients} clients never saw warm-up change {i}");
                }

                pending.TryRemove(warmKey, out _);
            }

            // The runtime recompiles hot methods in the background a while after they turn hot: let it finish (no method
            // compiled here for a second, at most ten) so that the kills are not measured against the compiler.
            for (var (count, quiet) = (System.Runtime.JitInfo.GetCompiledMethodCount(), 0); quiet < 10;)
            {
                await Task.Delay(100);
                var now = System.Runtime.JitInfo.GetCompiledMethodCount();
                (count, quiet) = now == count ? (count, quiet + 1) : (now, 0);
            }

            var latencies = new List<double>();
            var clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
            var serverCpu = server.ProcessorTime;
            using var sampler = args.Contains("--allocations") || args.Contains("--jit") ? new AllocationSampler(jit: args.Contains("--jit")) : null;
            if (sampler is not null)
            {
                sampler.On = true;
            }

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

                var mine = seen[key].Select(t => Stopwatch.GetElapsedTime(returned, t).TotalMilliseconds).Order().ToArray();
                if (verbose)
                {
                    // Per kill, with this process's collections so far (gen0/gen1/gen2) and its total GC pause.
                    var last = GC.GetGCMemoryInfo(GCKind.Any);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{key}: p50 {mine[mine.Length / 2]:F1} ms, max {mine[^1]:F1} ms; GCs {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}, paused {GC.GetTotalPauseDuration().TotalMilliseconds:F0} ms; JIT {System.Runtime.JitInfo.GetCompiledMethodCount()} methods in {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:F0} ms; last GC #{last.Index} gen{last.Generation} {last.PauseDurations[0].TotalMilliseconds:F1} ms, promoted {last.PromotedBytes / 1024} KB, heap {last.HeapSizeBytes / 1024 / 1024} MB, pinned {last.PinnedObjectsCount}"));
                }

                latencies.AddRange(mine);
                pending.TryRemove(key, out _);
            }

            if (verbose)
            {
                foreach (var line in (await admin.GetStringAsync("metrics")).Split('\n').Where(l => l.StartsWith("bulwark_http_requests_total", StringComparison.Ordinal) && (l.Contains("stream", StringComparison.Ordinal) || l.Contains("snapshot", StringComparison.Ordinal))))
                {
                    Console.WriteLine(line);
                }

                // CPU time of each side over all kills, per client per kill (in-process: both sides in the first figure).
                var perEvent = (double)clients * kills / 1000;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"CPU per client per kill: this process {(Process.GetCurrentProcess().TotalProcessorTime - clientCpu).TotalMilliseconds / perEvent:F1} µs, server process {(server.ProcessorTime - serverCpu).TotalMilliseconds / perEvent:F1} µs"));
            }

            if (sampler is not null)
            {
                sampler.On = false;
                foreach (var (type, count) in sampler.ByType.OrderByDescending(p => p.Value).Take(40))
                {
                    Console.WriteLine($"{count,6} {type}");
                }
            }

            await Task.WhenAll(sdk.Select(c => c.DisposeAsync().AsTask()));
            latencies.Sort();
            double Percentile(double p) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];
            var row = new JsonObject
            {
                ["clients"] = clients,
                ["kills"] = kills,
                ["warm_up_changes"] = warmUps,
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
            ["server"] = inProcess ? "in this process" : "bulwark serve, its own process",
            ["machine"] = $"{Environment.ProcessorCount} cores, .NET {Environment.Version}",
            ["results"] = results,
        };
        await File.WriteAllTextAsync(output, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine("wrote " + Path.GetFullPath(output));
        await server.DisposeAsync();
        Directory.Delete(data, recursive: true);

        int Option(string name, int fallback) => args.SkipWhile(a => a != name).Skip(1).Select(int.Parse).FirstOrDefault(fallback);

        async Task Send(HttpMethod method, string path, string body)
        {
            using var request = new HttpRequestMessage(method, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            using var response = await admin.SendAsync(request);
            response.EnsureSuccessStatusCode();
        }
    }
}
