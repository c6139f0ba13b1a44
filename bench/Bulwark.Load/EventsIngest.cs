// Batch ingest through `POST /v1/events`: NDJSON pushes of B events (a scenario trace's events, each with a unique id),
// closed loop with P concurrent pushers holding an ingest-role token; per batch size R rounds of S seconds. Events per
// second are the events the server appended (its own counter), with the latency of each push.
// Usage: dotnet run -c Release --project bench/Bulwark.Load -- events [OUT.json] [--batches 100,1000,5000] [--pushers 4]
//          [--seconds S=5] [--rounds R=3] [--warm-up 3] [--trace FILE] [--in-process]
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using static LoadTool;

internal static class EventsIngest
{
    private const string AdminToken = "bwk_load-test-admin-token-0123456789";
    private const string Route = "/v1/events/";

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new Options(
            args.FirstOrDefault(a => a.EndsWith(".json", StringComparison.Ordinal)) ?? "events-ingest.json",
            Numbers(args, "--batches", "100,1000,5000"),
            Numbers(args, "--pushers", "4"),
            TimeSpan.FromSeconds(Number(args, "--seconds", 5)),
            Number(args, "--rounds", 3),
            TimeSpan.FromSeconds(Number(args, "--warm-up", 3)),
            Option(args, "--trace"),
            args.Contains("--in-process"));
        return await InTempDirectoryAsync(work => MeasureAsync(options, work));
    }

    private static async Task<int> MeasureAsync(Options options, string work)
    {
        var loadAtStart = LoadAverage();
        var data = Directory.CreateDirectory(Path.Combine(work, "data")).FullName;
        var (tracePath, trace) = IngestWorkload.LoadTrace(options.Trace);
        var batches = new EventBatches(trace);
        var flush = FlushProbe.Measure(data);
        await using var server = await CheckServer.StartAsync(data, AdminToken, options.InProcess);
        using var admin = Client(server.BaseAddress, AdminToken);

        // Services push with a token of the ingest role, which may do nothing else.
        await SendAsync(admin, HttpMethod.Put, "v1/identities/load-pusher", """{"name":"load-pusher","roles":["ingest"]}""");
        var token = JsonNode.Parse(await SendAsync(admin, HttpMethod.Post, "v1/identities/load-pusher/tokens", "{}"))!["token"]!.GetValue<string>();
        using var load = new RequestLoad(server.BaseAddress, options.Pushers.Max(), TimeSpan.FromSeconds(60));
        HttpRequestMessage Push(int size)
        {
            var request = batches.Next(size);
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            return request;
        }

        var serverDescription = options.InProcess
            ? "in the load tool's process (workstation GC), with the load generator"
            : "the load tool's check-server host in its own process (composed as bulwark serve, server GC), SQLite stores (raw.db and events.db: WAL, synchronous=FULL, one writer each with group commit)";
        Console.WriteLine($"server: {serverDescription}; client: {load.Description}; {Environment.ProcessorCount} cores, load average {loadAtStart}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"events: {batches.MeanEventBytes:F0} bytes a line on average, from {tracePath}; flush probe: {flush.ToJsonString()}"));

        var warmUp = await load.RunClosedAsync(() => Push(1000), options.Pushers.Max(), options.WarmUp);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm-up: {warmUp.Requests} pushes of 1,000 events, statuses {string.Join(" ", warmUp.Statuses.Select(s => $"{s.Key}×{s.Value}"))}"));

        var runs = new JsonArray();
        var summaries = new JsonArray();
        foreach (var pushers in options.Pushers)
        {
            foreach (var size in options.Batches)
            {
                await WaitForQuietJitAsync(admin);
                var rounds = new List<JsonObject>();
                for (var round = 1; round <= options.Rounds; round++)
                {
                    var row = await RunOnceAsync(server, admin, load, () => Push(size), size, pushers, options);
                    row["round"] = round;
                    runs.Add(row);
                    rounds.Add(row);
                }

                var summary = Summarize(rounds);
                summaries.Add(summary);
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"=> batch {size,-5} pushers {pushers}: {summary["events_per_second"],9} events/s ({summary["requests_per_second"]} pushes/s), median p50 {summary["p50_ms"]} ms, p90 {summary["p90_ms"]} ms, p99 {summary["p99_ms"]} ms, CPU/event {summary["cpu_us_per_event"]} µs"));
            }
        }

        var errors = summaries.Sum(s => s!["errors"]!.GetValue<long>());
        var report = new JsonObject
        {
            ["measure"] = "closed-loop NDJSON pushes to POST /v1/events (validated, appended durably before the answer: group commit, synchronous=FULL) with an ingest-role token; events/s from the server's appended counter",
            ["server"] = serverDescription,
            ["client"] = load.Description,
            ["cpu_us_per_event"] = options.InProcess ? "CPU of the whole tool process (server and load generator) per event appended" : "CPU of the server process per event appended",
            ["machine"] = Machine(),
            ["load_average_at_start"] = loadAtStart,
            ["flush_probe"] = flush,
            ["seconds_per_run"] = options.Seconds.TotalSeconds,
            ["rounds"] = options.Rounds,
            ["warm_up_seconds"] = options.WarmUp.TotalSeconds,
            ["workload"] = new JsonObject
            {
                ["trace"] = Path.GetFileName(Path.GetDirectoryName(tracePath)) + "/" + Path.GetFileName(tracePath),
                ["trace_events"] = trace.Length,
                ["mean_event_bytes"] = Math.Round(batches.MeanEventBytes, 1),
                ["ids"] = "evt_b and a 10-digit counter, unique over the run; every other member as in the trace",
            },
            ["summary"] = summaries,
            ["runs"] = runs,
        };
        return await WriteReportAsync(options.Output, report, errors, "pushes failed, answered other than 200, or had events rejected or deduped: see the runs");
    }

    private static async Task<JsonObject> RunOnceAsync(ILoadServer server, HttpClient admin, RequestLoad load, Func<HttpRequestMessage> push, int size, int pushers, Options options)
    {
        var before = await ServerCounters.ScrapeAsync(admin);
        var statsBefore = await StatsAsync(admin);
        var serverCpu = server.ProcessorTime;
        var processCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var machine = MachineCpu.Read();
        var run = await load.RunClosedAsync(push, pushers, options.Seconds);
        var machineBusy = MachineCpu.Read() is { } end && machine is { } start ? end.BusyShareSince(start) : (double?)null;
        var cpu = options.InProcess ? Process.GetCurrentProcess().TotalProcessorTime - processCpu : server.ProcessorTime - serverCpu;
        var statsAfter = await StatsAsync(admin);
        var counted = (await ServerCounters.ScrapeAsync(admin)).Since(before);

        long Delta(string name) => statsAfter[name]!.GetValue<long>() - statsBefore[name]!.GetValue<long>();
        long Events(string outcome) => (long)counted.Total("bulwark_ingest_events_total", ("path", "api"), ("outcome", outcome));
        var (appended, duplicates, rejected) = (Events("appended"), Events("duplicate"), Events("rejected"));
        // /v1/events appends to the event log (events.db), whose writer's commits these are; "commits" counts raw.db's.
        var commits = Delta("log_commits");
        var unexpected = run.Statuses.Where(s => s.Key != 200).Sum(s => s.Value);
        var row = new JsonObject
        {
            ["batch"] = size,
            ["pushers"] = pushers,
            ["seconds"] = Math.Round(run.Elapsed.TotalSeconds, 3),
            ["requests"] = run.Requests,
            ["requests_per_second"] = Math.Round(run.RequestsPerSecond, 1),
            ["events_appended"] = appended,
            ["events_per_second"] = Math.Round(appended / run.Elapsed.TotalSeconds, 0),
            ["p50_ms"] = Math.Round(run.Latency.P50, 3),
            ["p90_ms"] = Math.Round(run.Latency.P90, 3),
            ["p99_ms"] = Math.Round(run.Latency.P99, 3),
            ["max_ms"] = Math.Round(run.Latency.Max, 3),
            ["mean_ms"] = Math.Round(run.Latency.Mean, 3),
            ["server_mean_ms"] = counted.MeanServerMilliseconds(Route) is { } mean ? Math.Round(mean, 3) : null,
            ["statuses"] = Counts(run.Statuses.OrderBy(s => s.Key).Select(s => (s.Key.ToString(CultureInfo.InvariantCulture), s.Value))),
            ["duplicates"] = duplicates,
            ["rejected"] = rejected,
            ["errors"] = run.TransportErrors + unexpected + duplicates + rejected + (appended == run.Requests * size ? 0 : 1),
            ["cpu_us_per_event"] = Math.Round(cpu.TotalMicroseconds / Math.Max(1, appended), 2),
            ["cpu_us_per_request"] = Math.Round(cpu.TotalMicroseconds / Math.Max(1, run.Requests), 1),
            ["client_cpu_us_per_event"] = options.InProcess ? null : Math.Round(run.ClientCpu.TotalMicroseconds / Math.Max(1, appended), 2),
            ["commits"] = commits,
            ["commits_per_second"] = Math.Round(commits / run.Elapsed.TotalSeconds, 1),
            ["events_per_commit"] = commits > 0 ? Math.Round((double)appended / commits, 1) : null,
            ["gc"] = $"{Delta("gen0")}/{Delta("gen1")}/{Delta("gen2")}",
            ["gc_pause_ms"] = Math.Round(statsAfter["gc_pause_ms"]!.AsDouble() - statsBefore["gc_pause_ms"]!.AsDouble(), 1),
            ["allocated_kb_per_event"] = Math.Round(Delta("allocated_bytes") / 1024.0 / Math.Max(1, appended), 2),
            ["machine_cpu_busy"] = machineBusy is { } busy ? Math.Round(busy, 3) : null,
            ["load_average_1m"] = LoadAverage(),
        };
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"batch {size,-5} pushers {pushers}: {row["events_per_second"],8} events/s, {run.RequestsPerSecond,7:F1} pushes/s, p50 {run.Latency.P50:F1} ms, p90 {run.Latency.P90:F1} ms, p99 {run.Latency.P99:F1} ms, max {run.Latency.Max:F1} ms (server mean {row["server_mean_ms"]} ms); " +
            $"statuses {string.Join(" ", run.Statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}"))}; errors {row["errors"]}; CPU/event {row["cpu_us_per_event"]} µs, client {row["client_cpu_us_per_event"]} µs; " +
            $"commits {commits} ({row["events_per_commit"]} events each); GC {row["gc"]}, {row["allocated_kb_per_event"]} KB/event; machine busy {machineBusy:P0}, load {row["load_average_1m"]}"));
        return row;
    }

    private static JsonObject Summarize(List<JsonObject> rounds)
    {
        double MedianOf(string field) => Median(rounds.Select(r => r[field]!.AsDouble()));
        var seconds = rounds.Sum(r => r["seconds"]!.AsDouble());
        return new JsonObject
        {
            ["batch"] = rounds[0]["batch"]!.GetValue<int>(),
            ["pushers"] = rounds[0]["pushers"]!.GetValue<int>(),
            ["rounds"] = rounds.Count,
            ["requests"] = rounds.Sum(r => r["requests"]!.GetValue<long>()),
            ["requests_per_second"] = Math.Round(rounds.Sum(r => r["requests"]!.GetValue<long>()) / seconds, 1),
            ["events_appended"] = rounds.Sum(r => r["events_appended"]!.GetValue<long>()),
            ["events_per_second"] = Math.Round(rounds.Sum(r => r["events_appended"]!.GetValue<long>()) / seconds, 0),
            ["p50_ms"] = Math.Round(MedianOf("p50_ms"), 3),
            ["p90_ms"] = Math.Round(MedianOf("p90_ms"), 3),
            ["p99_ms"] = Math.Round(MedianOf("p99_ms"), 3),
            ["max_ms"] = rounds.Max(r => r["max_ms"]!.AsDouble()),
            ["server_mean_ms"] = rounds.All(r => r["server_mean_ms"] is not null) ? Math.Round(MedianOf("server_mean_ms"), 3) : null,
            ["cpu_us_per_event"] = Math.Round(MedianOf("cpu_us_per_event"), 2),
            ["client_cpu_us_per_event"] = rounds[0]["client_cpu_us_per_event"] is null ? null : Math.Round(MedianOf("client_cpu_us_per_event"), 2),
            ["commits_per_second"] = Math.Round(MedianOf("commits_per_second"), 1),
            ["events_per_commit"] = rounds.All(r => r["events_per_commit"] is not null) ? Math.Round(MedianOf("events_per_commit"), 1) : null,
            ["allocated_kb_per_event"] = Math.Round(MedianOf("allocated_kb_per_event"), 2),
            ["errors"] = rounds.Sum(r => r["errors"]!.GetValue<long>()),
        };
    }

    private static async Task<JsonObject> StatsAsync(HttpClient client) =>
        JsonNode.Parse(await client.GetStringAsync(IngestBenchEndpoints.StatsPath.TrimStart('/')))!.AsObject();

    private sealed record Options(string Output, int[] Batches, int[] Pushers, TimeSpan Seconds, int Rounds, TimeSpan WarmUp, string? Trace, bool InProcess);
}
