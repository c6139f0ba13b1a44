// Webhook ingest throughput and latency: signed Standard Webhooks deliveries to `POST /v1/webhooks/{source}` (throttle
// check, media type, bounded body, verification, dedupe and raw snapshot written durably in raw.db, 200) against
// `POST /bench/webhook-bare` of the same server (the same body read and the same verification, then 204, nothing
// stored), with the same client, connections and deliveries, each delivery with its own webhook-id and signed when sent.
// Open loop at fixed arrival rates (latency from the scheduled send time), then closed loop at high concurrency for the
// most each endpoint answers; per level R rounds of a bare run then a real run of S seconds. After each run the tool
// waits until the normalizer has caught up with every stored snapshot, so that no run pays for the one before.
// Usage: dotnet run -c Release --project bench/Bulwark.Load -- webhooks [OUT.json] [--rates 1000,2500,5000,7500,10000|none]
//          [--concurrency 64,128|none] [--seconds S=5] [--rounds R=3] [--warm-up 5] [--connections 512] [--body-bytes 500]
//          [--trace FILE] [--normalizer running|paused] [--ids counter|random] [--in-process]
// `--ids random` gives each delivery a random webhook-id and event id (as GitHub's GUIDs or Okta's UUIDs) instead of a
// counter (as Svix's time-ordered ids): every dedupe and event-id index entry then lands on a page of its own.
// `--normalizer paused` is a diagnostic: the normalizer waits while each run is measured and catches up after it
// (NormalizerGate.cs), which separates acknowledging deliveries from normalizing them alongside.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using static LoadTool;

internal static class WebhookIngest
{
    private const string AdminToken = "bwk_load-test-admin-token-0123456789";
    private const string Source = "bench-partner";
    private const string RealRoute = "/v1/webhooks/{source}";

    /// <summary>The target of issue 5: at 5,000 deliveries/s, p99 under 25 ms (and the real endpoint keeps up).</summary>
    private const int TargetRate = 5000;

    private const double TargetP99Ms = 25;

    /// <summary>A run keeps up when it answers at least this share of the offered rate, every request as expected.</summary>
    private const double KeptUpShare = 0.98;

    private static readonly Endpoint[] Endpoints =
    [
        new("bare", IngestBenchEndpoints.WebhookBarePath, IngestBenchEndpoints.WebhookBarePath, (int)HttpStatusCode.NoContent),
        new("real", $"/v1/webhooks/{Source}", RealRoute, (int)HttpStatusCode.OK),
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new Options(
            args.FirstOrDefault(a => a.EndsWith(".json", StringComparison.Ordinal)) ?? "webhook-ingest.json",
            Option(args, "--rates") == "none" ? [] : Numbers(args, "--rates", "1000,2500,5000,7500,10000"),
            Option(args, "--concurrency") == "none" ? [] : Numbers(args, "--concurrency", "64,128"),
            TimeSpan.FromSeconds(Number(args, "--seconds", 5)),
            Number(args, "--rounds", 3),
            TimeSpan.FromSeconds(Number(args, "--warm-up", 5)),
            Number(args, "--connections", 512),
            Number(args, "--body-bytes", 500),
            Option(args, "--trace"),
            (Option(args, "--normalizer") ?? "running") == "paused",
            (Option(args, "--ids") ?? "counter") switch
            {
                "counter" => false,
                "random" => true,
                var other => throw new ArgumentException($"--ids is counter or random, not '{other}'."),
            },
            args.Contains("--in-process"));
        return await InTempDirectoryAsync(work => MeasureAsync(options, work));
    }

    private static async Task<int> MeasureAsync(Options options, string work)
    {
        var loadAtStart = LoadAverage();
        var data = Directory.CreateDirectory(Path.Combine(work, "data")).FullName;
        var (tracePath, trace) = IngestWorkload.LoadTrace(options.Trace);
        var secret = WebhookDeliveries.NewSecret();
        var deliveries = new WebhookDeliveries(secret, Source, trace, options.BodyBytes, options.RandomIds);
        var flush = FlushProbe.Measure(data);
        var environment = new Dictionary<string, string> { [IngestBenchEndpoints.SecretVariable] = secret };
        if (options.PauseNormalizer)
        {
            environment[NormalizerGate.Variable] = "1";
        }

        await using var server = await CheckServer.StartAsync(data, AdminToken, options.InProcess, environment);
        using var admin = Client(server.BaseAddress, AdminToken);
        await SendAsync(admin, HttpMethod.Put, $"v1/sources/{Source}", $$"""
            {"description":"Bulwark.Load webhooks","scheme":"standard-webhooks","secrets":["env:{{IngestBenchEndpoints.SecretVariable}}"],"normalizer":"event-v1"}
            """);
        using var load = new RequestLoad(server.BaseAddress, options.Connections, TimeSpan.FromSeconds(30));
        await CheckEndpointsAsync(server.BaseAddress, deliveries);
        var context = new RunContext(server, admin, load, deliveries, options);

        var serverDescription = options.InProcess
            ? "in the load tool's process (workstation GC), with the load generator"
            : "the load tool's check-server host in its own process (composed as bulwark serve, server GC), SQLite stores (raw.db and events.db: WAL, synchronous=FULL, one writer each with group commit)";
        Console.WriteLine($"server: {serverDescription}; client: {load.Description}; {Environment.ProcessorCount} cores, load average {loadAtStart}");
        if (options.PauseNormalizer)
        {
            Console.WriteLine("normalizer: paused while each run is measured, then caught up (a diagnostic, not how bulwark serve runs)");
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"deliveries: {deliveries.MeanBodyBytes:F0} bytes on average, from {tracePath}; flush probe on the data directory: {flush.ToJsonString()}"));

        // Warm-up: each endpoint closed-loop at the highest concurrency (or 64), then open-loop at the highest rate, so
        // that the client's pool already holds the connections an open-loop round needs (a first round used to open
        // hundreds while it was measured, and its p99 with them); then the normalizer catches up.
        var warmUpConcurrency = options.Concurrencies.DefaultIfEmpty(64).Max();
        await PauseNormalizerAsync(admin, options.PauseNormalizer);
        foreach (var endpoint in Endpoints.Reverse())
        {
            var run = await load.RunClosedAsync(() => deliveries.Next(endpoint.Path), warmUpConcurrency, options.WarmUp);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm-up {endpoint.Name}: {run.Requests} deliveries, {run.RequestsPerSecond:F0}/s"));
            if (options.Rates.Length > 0)
            {
                var open = await load.RunOpenAsync(() => deliveries.Next(endpoint.Path), options.Rates.Max(), options.WarmUp);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm-up {endpoint.Name}: {open.Responses} deliveries at {options.Rates.Max()}/s, {open.ConnectionsOpened} connections opened, p99 {open.Latency.P99:F1} ms"));
            }
        }

        var drained = await DrainAsync(admin, options.PauseNormalizer);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm-up: the normalizer caught up in {drained:F1} s"));

        var runs = new JsonArray();
        var summaries = new JsonArray();
        var ratios = new JsonArray();
        foreach (var (mode, levels) in new[] { (Mode.Open, options.Rates), (Mode.Closed, options.Concurrencies) })
        {
            foreach (var level in levels)
            {
                await WaitForQuietJitAsync(admin);
                var rounds = Endpoints.ToDictionary(e => e.Name, _ => new List<JsonObject>());
                for (var round = 1; round <= options.Rounds; round++)
                {
                    foreach (var endpoint in Endpoints)
                    {
                        var row = await RunOnceAsync(context, endpoint, mode, level);
                        row["round"] = round;
                        runs.Add(row);
                        rounds[endpoint.Name].Add(row);
                    }
                }

                var (bare, real) = (Summarize(rounds["bare"]), Summarize(rounds["real"]));
                summaries.Add(bare);
                summaries.Add(real);
                var ratio = Ratio(mode, level, bare, real, rounds);
                ratios.Add(ratio);
                foreach (var summary in (JsonObject[])[bare, real])
                {
                    Console.WriteLine(string.Create(
                        CultureInfo.InvariantCulture,
                        $"=> {summary["endpoint"],-4} {Level(mode, level)} {summary["requests_per_second"],8}/s, median p50 {summary["p50_ms"]} ms, p90 {summary["p90_ms"]} ms, p99 {summary["p99_ms"]} ms (worst round {summary["p99_ms_worst_round"]} ms), CPU/delivery {summary["cpu_us_per_request"]} µs{(summary["kept_up_every_round"] is { } kept ? $", kept up: {kept}" : string.Empty)}"));
                }

                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"=> real/bare {Level(mode, level)}: throughput {ratio["throughput_real_over_bare"]} (by round {ratio["throughput_real_over_bare_by_round"]!.ToJsonString()}), p50 {ratio["p50_real_over_bare"]}, p99 {ratio["p99_real_over_bare"]}, CPU/delivery {ratio["cpu_per_request_real_over_bare"]}"));
            }
        }

        var targets = Targets(summaries);
        Console.WriteLine("targets: " + targets.ToJsonString());
        var errors = summaries.Sum(s => s!["errors"]!.GetValue<long>());
        var report = new JsonObject
        {
            ["measure"] = "signed Standard Webhooks deliveries to POST /v1/webhooks/{source} (durable raw snapshot, group commit, synchronous=FULL) against POST /bench/webhook-bare (same body read and verification, 204, nothing stored): open loop at fixed arrival rates, latency from the scheduled send time; closed loop for the most each answers",
            ["server"] = serverDescription,
            ["client"] = load.Description,
            ["normalizer"] = options.PauseNormalizer ? "paused while each run is measured (after at most the batch of 256 in hand), then caught up: a diagnostic" : "running, as in bulwark serve",
            ["cpu_us_per_request"] = options.InProcess ? "CPU of the whole tool process (server and load generator) per delivery, during the run" : "CPU of the server process per delivery, during the run",
            ["machine"] = Machine(),
            ["load_average_at_start"] = loadAtStart,
            ["flush_probe"] = flush,
            ["seconds_per_run"] = options.Seconds.TotalSeconds,
            ["rounds"] = options.Rounds,
            ["warm_up_seconds_per_endpoint"] = options.WarmUp.TotalSeconds,
            ["workload"] = new JsonObject
            {
                ["source"] = JsonNode.Parse(await admin.GetStringAsync($"v1/sources/{Source}")),
                ["trace"] = Path.GetFileName(Path.GetDirectoryName(tracePath)) + "/" + Path.GetFileName(tracePath),
                ["mean_body_bytes"] = Math.Round(deliveries.MeanBodyBytes, 1),
                ["ids"] = options.RandomIds
                    ? "random (webhook-id msg_ and event id evt_wh_, each with 10 random characters)"
                    : "counter (msg_ and evt_wh_ with the delivery's number)",
                ["example_body"] = System.Text.Encoding.UTF8.GetString(deliveries.Example),
            },
            ["targets"] = targets,
            ["summary"] = summaries,
            ["ratios"] = ratios,
            ["runs"] = runs,
        };
        return await WriteReportAsync(options.Output, report, errors, "deliveries failed or answered a status other than 204 (bare) or 200 (real): see errors and statuses");
    }

    /// <summary>One run on one endpoint, with what the server counted, the CPU it took, and how long normalization lagged.</summary>
    private static async Task<JsonObject> RunOnceAsync(RunContext context, Endpoint endpoint, Mode mode, int level)
    {
        var (server, admin, load, deliveries, options) = context;
        await PauseNormalizerAsync(admin, options.PauseNormalizer);
        var before = await ServerCounters.ScrapeAsync(admin);
        var statsBefore = await StatsAsync(admin);
        var serverCpu = server.ProcessorTime;
        var processCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var machine = MachineCpu.Read();
        OpenLoopRun? open = null;
        LoadRun? closed = null;
        if (mode == Mode.Open)
        {
            open = await load.RunOpenAsync(() => deliveries.Next(endpoint.Path), level, options.Seconds);
        }
        else
        {
            closed = await load.RunClosedAsync(() => deliveries.Next(endpoint.Path), level, options.Seconds);
        }

        var machineBusy = MachineCpu.Read() is { } end && machine is { } start ? end.BusyShareSince(start) : (double?)null;
        TimeSpan Cpu() => options.InProcess ? Process.GetCurrentProcess().TotalProcessorTime - processCpu : server.ProcessorTime - serverCpu;
        var cpu = Cpu();
        var statsAfter = await StatsAsync(admin);
        var counted = (await ServerCounters.ScrapeAsync(admin)).Since(before);
        var drainSeconds = await DrainAsync(admin, options.PauseNormalizer);
        var cpuWithNormalization = Cpu();

        var (requests, seconds, latency, transportErrors, statuses, clientCpu) = open is not null
            ? (open.Responses, open.Elapsed, open.Latency, open.TransportErrors, open.Statuses, open.ClientCpu)
            : (closed!.Requests, closed.Elapsed, closed.Latency, closed.TransportErrors, closed.Statuses, closed.ClientCpu);
        var unexpected = statuses.Where(s => s.Key != endpoint.Expected).Sum(s => s.Value);
        var serverStatuses = counted.Statuses(endpoint.Route);
        var served = Math.Max(1, serverStatuses.Values.Sum());
        long Delta(string name) => statsAfter[name]!.GetValue<long>() - statsBefore[name]!.GetValue<long>();
        var commits = Delta("commits");
        var accepted = (long)counted.Total("bulwark_webhook_deliveries_total", ("source", Source), ("outcome", "accepted"));
        var row = new JsonObject
        {
            ["endpoint"] = endpoint.Name,
            ["path"] = endpoint.Path,
            ["mode"] = mode == Mode.Open ? "open" : "closed",
            [mode == Mode.Open ? "rate" : "concurrency"] = level,
            ["seconds"] = Math.Round(seconds.TotalSeconds, 3),
            ["requests"] = requests,
            ["requests_per_second"] = Math.Round(requests / seconds.TotalSeconds, 1),
            ["p50_ms"] = Math.Round(latency.P50, 3),
            ["p90_ms"] = Math.Round(latency.P90, 3),
            ["p99_ms"] = Math.Round(latency.P99, 3),
            ["max_ms"] = Math.Round(latency.Max, 3),
            ["mean_ms"] = Math.Round(latency.Mean, 3),
            ["statuses"] = Counts(statuses.OrderBy(s => s.Key).Select(s => (s.Key.ToString(CultureInfo.InvariantCulture), s.Value))),
            ["errors"] = transportErrors + unexpected,
            ["server_statuses"] = Counts(serverStatuses.OrderBy(s => s.Key).Select(s => (s.Key.ToString(CultureInfo.InvariantCulture), s.Value))),
            ["server_mean_ms"] = counted.MeanServerMilliseconds(endpoint.Route) is { } mean ? Math.Round(mean, 3) : null,
            ["cpu_us_per_request"] = Math.Round(cpu.TotalMicroseconds / served, 1),
            ["machine_cpu_busy"] = machineBusy is { } busy ? Math.Round(busy, 3) : null,
            ["load_average_1m"] = LoadAverage(),
        };
        if (!options.InProcess)
        {
            row["client_cpu_us_per_request"] = Math.Round(clientCpu.TotalMicroseconds / Math.Max(1, requests), 1);
        }

        if (open is not null)
        {
            row["offered_rate"] = open.Rate;
            row["scheduled"] = open.Scheduled;
            row["kept_up"] = open.ResponsesPerSecond >= KeptUpShare * open.Rate && transportErrors + unexpected == 0;
            row["service_p50_ms"] = Math.Round(open.Service.P50, 3);
            row["service_p99_ms"] = Math.Round(open.Service.P99, 3);
            row["send_lateness_p50_ms"] = Math.Round(open.Lateness.P50, 3);
            row["send_lateness_p99_ms"] = Math.Round(open.Lateness.P99, 3);
            row["send_lateness_max_ms"] = Math.Round(open.Lateness.Max, 3);
            row["max_in_flight"] = open.MaxInFlight;
            row["connections_opened"] = open.ConnectionsOpened;
        }

        row["store"] = new JsonObject
        {
            ["accepted"] = accepted,
            ["duplicates"] = (long)counted.Total("bulwark_webhook_deliveries_total", ("source", Source), ("outcome", "duplicate")),
            ["commits"] = commits,
            ["commits_per_second"] = Math.Round(commits / seconds.TotalSeconds, 1),
            ["event_log_commits"] = statsAfter["log_commits"] is { } logAfter && statsBefore["log_commits"] is { } logBefore ? logAfter.GetValue<long>() - logBefore.GetValue<long>() : null,
            ["deliveries_per_commit"] = commits > 0 ? Math.Round((double)accepted / commits, 2) : null,
            ["normalized_during_run"] = Delta("normalized_seq"),
            ["normalizer_backlog_at_end"] = statsAfter["last_snapshot_seq"]!.GetValue<long>() - statsAfter["normalized_seq"]!.GetValue<long>(),
            ["normalizer_drain_seconds"] = Math.Round(drainSeconds, 2),
            ["cpu_us_per_request_with_normalization"] = Math.Round(cpuWithNormalization.TotalMicroseconds / served, 1),
            ["quarantined"] = (long)counted.Total("bulwark_ingest_normalized_total", ("source", Source), ("outcome", "quarantined")),
        };
        row["runtime"] = new JsonObject
        {
            ["gen0"] = Delta("gen0"),
            ["gen1"] = Delta("gen1"),
            ["gen2"] = Delta("gen2"),
            ["gc_pause_ms"] = Math.Round(statsAfter["gc_pause_ms"]!.AsDouble() - statsBefore["gc_pause_ms"]!.AsDouble(), 1),
            ["allocated_kb_per_request"] = Math.Round(Delta("allocated_bytes") / 1024.0 / served, 1),
            ["lock_contentions"] = Delta("lock_contentions"),
            ["thread_pool_threads"] = statsAfter["thread_pool_threads"]!.GetValue<int>(),
        };

        var extra = open is not null
            ? string.Create(CultureInfo.InvariantCulture, $" service p99 {open.Service.P99:F2} ms, send late p99 {open.Lateness.P99:F2} ms, in flight ≤ {open.MaxInFlight}, +{open.ConnectionsOpened} conns;")
            : string.Empty;
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{endpoint.Name,-4} {Level(mode, level)} {requests / seconds.TotalSeconds,8:F0}/s, p50 {latency.P50:F3} ms, p90 {latency.P90:F3} ms, p99 {latency.P99:F3} ms, max {latency.Max:F1} ms;{extra} " +
            $"statuses {string.Join(" ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}"))}; errors {transportErrors + unexpected}; " +
            $"CPU/delivery {row["cpu_us_per_request"]} µs{(endpoint.Name == "real" ? $" ({row["store"]!["cpu_us_per_request_with_normalization"]} µs with normalization)" : string.Empty)}; " +
            $"commits {commits} ({row["store"]!["commits_per_second"]}/s), normalizer backlog {row["store"]!["normalizer_backlog_at_end"]} drained in {drainSeconds:F1} s; " +
            $"GC {row["runtime"]!["gen0"]}/{row["runtime"]!["gen1"]}/{row["runtime"]!["gen2"]}, {row["runtime"]!["allocated_kb_per_request"]} KB/delivery; machine busy {machineBusy:P0}, load {row["load_average_1m"]}"));
        return row;
    }

    private static string Level(Mode mode, int level) =>
        mode == Mode.Open ? string.Create(CultureInfo.InvariantCulture, $"rate={level,-6}") : string.Create(CultureInfo.InvariantCulture, $"c={level,-4}   ");

    /// <summary>
    /// One endpoint at one level over its rounds: throughput over all of them, the median round's percentiles and CPU,
    /// the worst round's p99, the largest maximum, and every status counted.
    /// </summary>
    private static JsonObject Summarize(List<JsonObject> rounds)
    {
        double MedianOf(string field) => Median(rounds.Select(r => r[field]!.AsDouble()));
        double MedianIn(string group, string field) => Median(rounds.Select(r => r[group]![field]!.AsDouble()));
        JsonObject Sum(string field) => Counts(rounds
            .SelectMany(r => r[field]?.AsObject().Select(p => (p.Key, p.Value!.GetValue<long>())) ?? [])
            .GroupBy(p => p.Key)
            .Select(g => (g.Key, g.Sum(p => p.Item2))));

        var first = rounds[0];
        var summary = new JsonObject
        {
            ["endpoint"] = first["endpoint"]!.GetValue<string>(),
            ["mode"] = first["mode"]!.GetValue<string>(),
        };
        foreach (var level in (string[])["rate", "concurrency"])
        {
            if (first.ContainsKey(level))
            {
                summary[level] = first[level]!.GetValue<int>();
            }
        }

        summary["rounds"] = rounds.Count;
        summary["requests"] = rounds.Sum(r => r["requests"]!.GetValue<long>());
        summary["requests_per_second"] = Math.Round(rounds.Sum(r => r["requests"]!.GetValue<long>()) / rounds.Sum(r => r["seconds"]!.AsDouble()), 1);
        summary["p50_ms"] = Math.Round(MedianOf("p50_ms"), 3);
        summary["p90_ms"] = Math.Round(MedianOf("p90_ms"), 3);
        summary["p99_ms"] = Math.Round(MedianOf("p99_ms"), 3);
        summary["p99_ms_worst_round"] = rounds.Max(r => r["p99_ms"]!.AsDouble());
        summary["max_ms"] = rounds.Max(r => r["max_ms"]!.AsDouble());
        summary["server_mean_ms"] = rounds.All(r => r["server_mean_ms"] is not null) ? Math.Round(MedianOf("server_mean_ms"), 3) : null;
        summary["cpu_us_per_request"] = Math.Round(MedianOf("cpu_us_per_request"), 1);
        summary["client_cpu_us_per_request"] = first.ContainsKey("client_cpu_us_per_request") ? Math.Round(MedianOf("client_cpu_us_per_request"), 1) : null;
        if (first.ContainsKey("kept_up"))
        {
            summary["kept_up_every_round"] = rounds.All(r => r["kept_up"]!.GetValue<bool>());
            summary["service_p99_ms"] = Math.Round(MedianOf("service_p99_ms"), 3);
            summary["send_lateness_p99_ms"] = Math.Round(MedianOf("send_lateness_p99_ms"), 3);
            summary["max_in_flight"] = rounds.Max(r => r["max_in_flight"]!.GetValue<int>());
        }

        summary["commits_per_second"] = Math.Round(MedianIn("store", "commits_per_second"), 1);
        summary["deliveries_per_commit"] = rounds.All(r => r["store"]!["deliveries_per_commit"] is not null) ? Math.Round(MedianIn("store", "deliveries_per_commit"), 2) : null;
        summary["normalizer_backlog_at_end"] = Math.Round(MedianIn("store", "normalizer_backlog_at_end"), 0);
        summary["normalizer_drain_seconds"] = Math.Round(MedianIn("store", "normalizer_drain_seconds"), 2);
        summary["cpu_us_per_request_with_normalization"] = Math.Round(MedianIn("store", "cpu_us_per_request_with_normalization"), 1);
        summary["allocated_kb_per_request"] = Math.Round(MedianIn("runtime", "allocated_kb_per_request"), 1);
        summary["statuses"] = Sum("statuses");
        summary["errors"] = rounds.Sum(r => r["errors"]!.GetValue<long>());
        summary["server_statuses"] = Sum("server_statuses");
        return summary;
    }

    private static JsonObject Ratio(Mode mode, int level, JsonObject bare, JsonObject real, Dictionary<string, List<JsonObject>> rounds)
    {
        double Of(string field) => Math.Round(real[field]!.AsDouble() / bare[field]!.AsDouble(), 3);
        return new JsonObject
        {
            ["mode"] = mode == Mode.Open ? "open" : "closed",
            [mode == Mode.Open ? "rate" : "concurrency"] = level,
            ["throughput_real_over_bare"] = Of("requests_per_second"),
            ["p50_real_over_bare"] = Of("p50_ms"),
            ["p99_real_over_bare"] = Of("p99_ms"),
            ["cpu_per_request_real_over_bare"] = Of("cpu_us_per_request"),
            ["throughput_real_over_bare_by_round"] = new JsonArray([.. rounds["real"].Zip(rounds["bare"], (r, b) => (JsonNode)Math.Round(r["requests_per_second"]!.AsDouble() / b["requests_per_second"]!.AsDouble(), 3))]),
        };
    }

    /// <summary>
    /// Issue 5's targets: the most the real endpoint answers (closed loop, best concurrency) at least half the bare
    /// endpoint's; and at 5,000 deliveries/s it keeps up in every round with p99 under 25 ms.
    /// </summary>
    private static JsonObject Targets(JsonArray summaries)
    {
        var all = summaries.Select(s => s!.AsObject()).ToList();
        double? Best(string endpoint) => all.Where(s => s["mode"]!.GetValue<string>() == "closed" && s["endpoint"]!.GetValue<string>() == endpoint)
            .Select(s => (double?)s["requests_per_second"]!.AsDouble()).Max();
        var (bestBare, bestReal) = (Best("bare"), Best("real"));
        var ratio = bestBare is { } b && bestReal is { } r ? Math.Round(r / b, 3) : (double?)null;
        var atTarget = all.FirstOrDefault(s => s["mode"]!.GetValue<string>() == "open" && s["endpoint"]!.GetValue<string>() == "real" && s["rate"]!.GetValue<int>() == TargetRate);
        double? HighestKeptUp(string endpoint) => all.Where(s => s["mode"]!.GetValue<string>() == "open" && s["endpoint"]!.GetValue<string>() == endpoint && s["kept_up_every_round"]!.GetValue<bool>())
            .Select(s => (double?)s["rate"]!.GetValue<int>()).Max();
        return new JsonObject
        {
            ["max_throughput_bare"] = bestBare,
            ["max_throughput_real"] = bestReal,
            ["max_throughput_real_over_bare"] = ratio,
            ["half_the_throughput_met"] = ratio is { } x ? x >= 0.5 : null,
            ["highest_rate_kept_up_bare"] = HighestKeptUp("bare"),
            ["highest_rate_kept_up_real"] = HighestKeptUp("real"),
            ["real_at_5000_kept_up_every_round"] = atTarget?["kept_up_every_round"]?.GetValue<bool>(),
            ["real_at_5000_p99_ms_median_round"] = atTarget?["p99_ms"]?.AsDouble(),
            ["real_at_5000_p99_ms_worst_round"] = atTarget?["p99_ms_worst_round"]?.AsDouble(),
            ["p99_under_25_ms_at_5000_met"] = atTarget is null ? null
                : atTarget["kept_up_every_round"]!.GetValue<bool>() && atTarget["p99_ms_worst_round"]!.AsDouble() < TargetP99Ms,
        };
    }

    /// <summary>
    /// Both endpoints take a signed delivery and refuse a tampered one alike; the real one stores it (a snapshot id),
    /// answers a resent delivery as a duplicate of the same snapshot, and its normalizer makes an event of it.
    /// </summary>
    private static async Task CheckEndpointsAsync(Uri baseAddress, WebhookDeliveries deliveries)
    {
        using var client = new HttpClient { BaseAddress = baseAddress };
        foreach (var endpoint in Endpoints)
        {
            foreach (var (tamper, expected) in new[] { (false, endpoint.Expected), (true, (int)HttpStatusCode.Unauthorized) })
            {
                using var request = deliveries.Next(endpoint.Path, tamper);
                using var response = await client.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                if ((int)response.StatusCode != expected)
                {
                    throw new InvalidOperationException($"POST {endpoint.Path}{(tamper ? " (tampered)" : string.Empty)} answered {(int)response.StatusCode}, expected {expected}: {text}");
                }

                if (endpoint.Name == "real" && !tamper)
                {
                    using var resent = new HttpRequestMessage(HttpMethod.Post, request.RequestUri) { Content = new ByteArrayContent(await request.Content!.ReadAsByteArrayAsync()) };
                    resent.Content.Headers.ContentType = request.Content.Headers.ContentType;
                    foreach (var header in request.Headers)
                    {
                        resent.Headers.TryAddWithoutValidation(header.Key, header.Value);
                    }

                    using var duplicate = await client.SendAsync(resent);
                    var first = JsonNode.Parse(text)!;
                    var second = JsonNode.Parse(await duplicate.Content.ReadAsStringAsync())!;
                    if (first["duplicate"]!.GetValue<bool>() || !second["duplicate"]!.GetValue<bool>() || first["snapshot"]!.GetValue<string>() != second["snapshot"]!.GetValue<string>())
                    {
                        throw new InvalidOperationException($"a resent delivery was not answered as a duplicate of the first: {text} then {second.ToJsonString()}");
                    }
                }
            }
        }
    }

    /// <summary>
    /// Opens the normalizer's gate when it was shut, and waits until the normalizer has recorded every stored snapshot;
    /// returns the seconds it took (at most 10 minutes).
    /// </summary>
    internal static async Task<double> DrainAsync(HttpClient admin, bool gated)
    {
        await PauseNormalizerAsync(admin, gated, paused: false);

        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromMinutes(10))
        {
            var stats = await StatsAsync(admin);
            if (stats["normalized_seq"]!.GetValue<long>() >= stats["last_snapshot_seq"]!.GetValue<long>())
            {
                return Stopwatch.GetElapsedTime(started).TotalSeconds;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("the normalizer did not catch up within 10 minutes");
    }

    /// <summary>Shuts (or opens) the normalizer's gate; does nothing unless the run asked for <c>--normalizer paused</c>.</summary>
    private static async Task PauseNormalizerAsync(HttpClient admin, bool gated, bool paused = true)
    {
        if (gated)
        {
            using var response = await admin.PostAsync($"{IngestBenchEndpoints.NormalizerPath.TrimStart('/')}?paused={(paused ? "true" : "false")}", null);
            response.EnsureSuccessStatusCode();
        }
    }

    private static async Task<JsonObject> StatsAsync(HttpClient client) =>
        JsonNode.Parse(await client.GetStringAsync(IngestBenchEndpoints.StatsPath.TrimStart('/')))!.AsObject();

    private enum Mode
    {
        Open,
        Closed,
    }

    private sealed record Options(
        string Output,
        int[] Rates,
        int[] Concurrencies,
        TimeSpan Seconds,
        int Rounds,
        TimeSpan WarmUp,
        int Connections,
        int BodyBytes,
        string? Trace,
        bool PauseNormalizer,
        bool RandomIds,
        bool InProcess);

    private sealed record Endpoint(string Name, string Path, string Route, int Expected);

    private sealed record RunContext(ILoadServer Server, HttpClient Admin, RequestLoad Load, WebhookDeliveries Deliveries, Options Options);
}
