// HTTP check throughput and latency: `POST /v1/throttles/{name}/check` under closed-loop load at several
// concurrencies, each against `POST /bench/bare` of the same server (a constant 200 through the same middleware and
// authentication), in one run, with the same client, connections and bodies: per concurrency, R rounds of a bare run
// then a check run of S seconds each. By default the server runs in a child process of this tool (CheckServer) and the
// load comes from HttpClient in this process; `--client wrk` uses `wrk` instead (LoadGenerators.cs says when to prefer
// which), and `--in-process` hosts the server in this process as well.
// Usage: dotnet run -c Release --project bench/Bulwark.Load -- check [OUT.json] [--concurrency 1,16,64] [--seconds S=4]
//          [--rounds R=3] [--warm-up 5] [--client dotnet|wrk] [--in-process] [--seed 42]
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using static LoadTool;

internal static class ThrottleCheck
{
    private const string AdminToken = "bwk_load-test-admin-token-0123456789";
    private const string CheckRoute = "/v1/throttles/{name}/check";
    private const int BodyCount = 200_000;

    /// <summary>Both endpoints, bare first; only the check may deny (429).</summary>
    private static readonly Endpoint[] Endpoints =
    [
        new("bare", CheckServer.BarePath, CheckServer.BarePath, Denies: false),
        new("check", $"/v1/throttles/{CheckWorkload.Throttle}/check", CheckRoute, Denies: true),
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new Options(
            args.FirstOrDefault(a => a.EndsWith(".json", StringComparison.Ordinal)) ?? "throttle-check-http.json",
            [.. (Option(args, "--concurrency") ?? "1,16,64").Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture))],
            TimeSpan.FromSeconds(int.Parse(Option(args, "--seconds") ?? "4", CultureInfo.InvariantCulture)),
            int.Parse(Option(args, "--rounds") ?? "3", CultureInfo.InvariantCulture),
            TimeSpan.FromSeconds(int.Parse(Option(args, "--warm-up") ?? "5", CultureInfo.InvariantCulture)),
            int.Parse(Option(args, "--seed") ?? "42", CultureInfo.InvariantCulture),
            Option(args, "--client") ?? "dotnet",
            args.Contains("--in-process"));
        if (options.Client is not ("dotnet" or "wrk"))
        {
            Console.Error.WriteLine("--client is dotnet or wrk");
            return 2;
        }

        return await InTempDirectoryAsync(work => MeasureAsync(options, work));
    }

    private static async Task<int> MeasureAsync(Options options, string work)
    {
        // Other work on the machine shares its cores with the server and the client: say how busy it was.
        var loadAtStart = LoadAverage();
        var data = Directory.CreateDirectory(Path.Combine(work, "data")).FullName;
        await using var server = await CheckServer.StartAsync(data, AdminToken, options.InProcess);
        using var admin = Client(server.BaseAddress, AdminToken);
        await SendAsync(admin, HttpMethod.Put, $"v1/throttles/{CheckWorkload.Throttle}", CheckWorkload.Policy);

        // Applications check with a viewer token; the bare endpoint requires the same capability, so it gets the same.
        await SendAsync(admin, HttpMethod.Put, "v1/identities/load-app", """{"name":"load-app","roles":["viewer"]}""");
        var token = JsonNode.Parse(await SendAsync(admin, HttpMethod.Post, "v1/identities/load-app/tokens", "{}"))!["token"]!.GetValue<string>();
        using var viewer = Client(server.BaseAddress, token);
        var bodies = CheckWorkload.Bodies(options.Seed, BodyCount);
        await CheckEndpointsAsync(server.BaseAddress, viewer, bodies[0]);

        var bodiesFile = Path.Combine(work, "bodies.jsonl");
        await File.WriteAllLinesAsync(bodiesFile, bodies);
        ILoadGenerator generator = options.Client == "dotnet"
            ? new DotnetLoad(server.BaseAddress, token, [.. bodies.Select(Encoding.UTF8.GetBytes)])
            : await WrkLoad.CreateAsync(server.BaseAddress, token, bodiesFile)
                ?? throw new InvalidOperationException("wrk is not on the PATH: install it (Debian: apt-get install -y wrk) or leave out --client wrk");
        var serverDescription = options.InProcess
            ? "in the load tool's process (workstation GC), with the load generator"
            : "the load tool's check-server host in its own process (composed as bulwark serve, server GC), SQLite store";
        Console.WriteLine($"server: {serverDescription}; client: {generator.Description}; {Environment.ProcessorCount} cores, load average {loadAtStart}");

        // Warm-up at the highest concurrency on each endpoint; the throttle keeps the keys it saw, as a throttle in
        // service would.
        var offset = 0;
        foreach (var endpoint in Endpoints.Reverse())
        {
            var run = await generator.RunAsync(endpoint.Path, options.Concurrencies.Max(), options.WarmUp, offset);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm-up {endpoint.Name}: {run.Requests} requests"));
            offset = (int)((offset + run.Requests) % bodies.Length);
        }

        var runs = new JsonArray();
        var summaries = new JsonArray();
        var ratios = new JsonArray();
        foreach (var concurrency in options.Concurrencies)
        {
            // Wait until the server's runtime has stopped compiling, then alternate the endpoints round by round, so
            // that whatever else the machine does lands on both alike; a bare run takes the same bodies as the check
            // run after it.
            await WaitForQuietJitAsync(viewer);
            var rounds = Endpoints.ToDictionary(e => e.Name, _ => new List<JsonObject>());
            for (var round = 1; round <= options.Rounds; round++)
            {
                foreach (var endpoint in Endpoints)
                {
                    var row = await RunOnceAsync(server, admin, generator, endpoint, concurrency, options.Seconds, offset, options.InProcess);
                    row["round"] = round;
                    runs.Add(row);
                    rounds[endpoint.Name].Add(row);
                    if (endpoint.Name == "check")
                    {
                        offset = (int)((offset + row["requests"]!.GetValue<long>()) % bodies.Length);
                    }
                }
            }

            var (bare, check) = (Summarize(rounds["bare"]), Summarize(rounds["check"]));
            summaries.Add(bare);
            summaries.Add(check);
            double Ratio(string field) => Math.Round(check[field]!.GetValue<double>() / bare[field]!.GetValue<double>(), 3);
            var ratio = new JsonObject
            {
                ["concurrency"] = concurrency,
                ["throughput_check_over_bare"] = Ratio("requests_per_second"),
                ["p50_check_over_bare"] = Ratio("p50_ms"),
                ["p99_check_over_bare"] = Ratio("p99_ms"),
                ["cpu_per_request_check_over_bare"] = Ratio("cpu_us_per_request"),
                ["throughput_check_over_bare_by_round"] = new JsonArray([.. rounds["check"].Zip(rounds["bare"], (c, b) => (JsonNode)Math.Round(c["requests_per_second"]!.GetValue<double>() / b["requests_per_second"]!.GetValue<double>(), 3))]),
            };
            ratios.Add(ratio);
            foreach (var summary in (JsonObject[])[bare, check])
            {
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"=> {summary["endpoint"],-5} c={concurrency,-3} {summary["requests_per_second"],8} req/s, median p50 {summary["p50_ms"]} ms, p90 {summary["p90_ms"]} ms, p99 {summary["p99_ms"]} ms, CPU/request {summary["cpu_us_per_request"]} µs{(summary["client_cpu_us_per_request"] is { } client ? $" (client {client} µs)" : string.Empty)}"));
            }

            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"=> check/bare c={concurrency}: throughput {ratio["throughput_check_over_bare"]} (by round {ratio["throughput_check_over_bare_by_round"]!.ToJsonString()}), p50 {ratio["p50_check_over_bare"]}, p99 {ratio["p99_check_over_bare"]}, CPU/request {ratio["cpu_per_request_check_over_bare"]}"));
        }

        var errors = summaries.Sum(s => s!["errors"]!.GetValue<long>());
        var report = new JsonObject
        {
            ["measure"] = "closed-loop POST throughput and latency of /v1/throttles/{name}/check against /bench/bare (constant 200, same middleware and authentication), same client, connections and bodies",
            ["server"] = serverDescription,
            ["client"] = generator.Description,
            ["cpu_us_per_request"] = options.InProcess ? "CPU of the whole tool process (server and load generator) per request" : "CPU of the server process per request",
            ["machine"] = Machine(),
            ["load_average_at_start"] = loadAtStart,
            ["seconds_per_run"] = options.Seconds.TotalSeconds,
            ["rounds"] = options.Rounds,
            ["warm_up_seconds_per_endpoint"] = options.WarmUp.TotalSeconds,
            ["workload"] = new JsonObject
            {
                ["throttle"] = JsonNode.Parse(CheckWorkload.Policy),
                ["seed"] = options.Seed,
                ["bodies"] = BodyCount,
                ["users"] = CheckWorkload.Users,
                ["addresses"] = CheckWorkload.Addresses,
                ["hot_addresses"] = $"{CheckWorkload.HotAddressShare * 100:0}% of checks from {CheckWorkload.HotAddresses} addresses in 203.0.113.0/24",
                ["hot_users"] = $"{CheckWorkload.HotUserShare * 100:0}% of checks against {CheckWorkload.HotUsers} accounts",
                ["example_body"] = bodies[0],
            },
            ["summary"] = summaries,
            ["ratios"] = ratios,
            ["runs"] = runs,
        };
        return await WriteReportAsync(options.Output, report, errors, "requests failed or answered a status other than 200 (bare) or 200/429 (check): see errors and statuses");
    }

    /// <summary>One closed-loop run on one endpoint, with what the server counted and the CPU it took.</summary>
    private static async Task<JsonObject> RunOnceAsync(ILoadServer server, HttpClient admin, ILoadGenerator generator, Endpoint endpoint, int concurrency, TimeSpan duration, int firstBody, bool inProcess)
    {
        var before = await ServerCounters.ScrapeAsync(admin);
        var serverCpu = server.ProcessorTime;
        var processCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var machine = MachineCpu.Read();
        var run = await generator.RunAsync(endpoint.Path, concurrency, duration, firstBody);
        var machineBusy = MachineCpu.Read() is { } end && machine is { } start ? end.BusyShareSince(start) : (double?)null;
        var cpu = inProcess ? Process.GetCurrentProcess().TotalProcessorTime - processCpu : server.ProcessorTime - serverCpu;
        var counted = (await ServerCounters.ScrapeAsync(admin)).Since(before);

        // Errors are what the client saw. The server's own count may differ by the requests in flight when the client
        // stopped: answered to a closed connection, or, when the reset beat the body, counted as a 400.
        var statuses = run.Statuses;
        var unexpected = statuses.Where(s => s.Key != 200 && !(endpoint.Denies && s.Key == 429)).Sum(s => s.Value);
        var serverStatuses = counted.Statuses(endpoint.Route);
        var served = Math.Max(1, serverStatuses.Values.Sum());
        var row = new JsonObject
        {
            ["endpoint"] = endpoint.Name,
            ["path"] = endpoint.Path,
            ["concurrency"] = concurrency,
            ["seconds"] = Math.Round(run.Elapsed.TotalSeconds, 3),
            ["requests"] = run.Requests,
            ["requests_per_second"] = Math.Round(run.RequestsPerSecond, 1),
            ["p50_ms"] = Math.Round(run.Latency.P50, 3),
            ["p90_ms"] = Math.Round(run.Latency.P90, 3),
            ["p99_ms"] = Math.Round(run.Latency.P99, 3),
            ["max_ms"] = Math.Round(run.Latency.Max, 3),
            ["mean_ms"] = Math.Round(run.Latency.Mean, 3),
            ["statuses"] = Counts(statuses.OrderBy(s => s.Key).Select(s => (s.Key.ToString(CultureInfo.InvariantCulture), s.Value))),
            ["errors"] = run.TransportErrors + unexpected,
            ["server_statuses"] = Counts(serverStatuses.OrderBy(s => s.Key).Select(s => (s.Key.ToString(CultureInfo.InvariantCulture), s.Value))),
            ["cpu_us_per_request"] = Math.Round(cpu.TotalMicroseconds / served, 1),
            ["machine_cpu_busy"] = machineBusy is { } busy ? Math.Round(busy, 3) : null,
            ["load_average_1m"] = LoadAverage(),
        };
        if (!inProcess)
        {
            row["client_cpu_us_per_request"] = Math.Round(run.ClientCpu.TotalMicroseconds / Math.Max(1, run.Requests), 1);
        }

        if (endpoint.Denies)
        {
            row["decisions"] = Counts(counted.Decisions(CheckWorkload.Throttle).OrderByDescending(d => d.Value).Select(d => (d.Key, d.Value)));
        }

        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{endpoint.Name,-5} c={concurrency,-3} {run.RequestsPerSecond,8:F0} req/s, p50 {run.Latency.P50:F3} ms, p90 {run.Latency.P90:F3} ms, p99 {run.Latency.P99:F3} ms, max {run.Latency.Max:F1} ms; " +
            $"statuses {string.Join(" ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}"))}; errors {run.TransportErrors + unexpected}; " +
            $"CPU/request: {(inProcess ? "process" : "server")} {row["cpu_us_per_request"]} µs{(inProcess ? string.Empty : $", client {row["client_cpu_us_per_request"]} µs")}; machine busy {machineBusy:P0}, load {row["load_average_1m"]}"));
        return row;
    }

    /// <summary>
    /// One endpoint at one concurrency over its rounds: throughput over all of them, the median round's percentiles
    /// and CPU per request, the largest maximum, and every status and decision counted.
    /// </summary>
    private static JsonObject Summarize(List<JsonObject> rounds)
    {
        double Median(string field) => LoadTool.Median(rounds.Select(r => r[field]!.GetValue<double>()));

        JsonObject Sum(string field) => Counts(rounds
            .SelectMany(r => r[field]?.AsObject().Select(p => (p.Key, p.Value!.GetValue<long>())) ?? [])
            .GroupBy(p => p.Key)
            .Select(g => (g.Key, g.Sum(p => p.Item2))));

        var first = rounds[0];
        var summary = new JsonObject
        {
            ["endpoint"] = first["endpoint"]!.GetValue<string>(),
            ["concurrency"] = first["concurrency"]!.GetValue<int>(),
            ["rounds"] = rounds.Count,
            ["requests"] = rounds.Sum(r => r["requests"]!.GetValue<long>()),
            ["requests_per_second"] = Math.Round(rounds.Sum(r => r["requests"]!.GetValue<long>()) / rounds.Sum(r => r["seconds"]!.GetValue<double>()), 1),
            ["p50_ms"] = Math.Round(Median("p50_ms"), 3),
            ["p90_ms"] = Math.Round(Median("p90_ms"), 3),
            ["p99_ms"] = Math.Round(Median("p99_ms"), 3),
            ["max_ms"] = rounds.Max(r => r["max_ms"]!.GetValue<double>()),
            ["cpu_us_per_request"] = Math.Round(Median("cpu_us_per_request"), 1),
            ["client_cpu_us_per_request"] = first.ContainsKey("client_cpu_us_per_request") ? Math.Round(Median("client_cpu_us_per_request"), 1) : null,
            ["statuses"] = Sum("statuses"),
            ["errors"] = rounds.Sum(r => r["errors"]!.GetValue<long>()),
            ["server_statuses"] = Sum("server_statuses"),
        };
        if (first.ContainsKey("decisions"))
        {
            summary["decisions"] = Sum("decisions");
        }

        return summary;
    }

    /// <summary>Both endpoints answer a viewer as expected, and the bare one refuses a caller without a token.</summary>
    private static async Task CheckEndpointsAsync(Uri baseAddress, HttpClient viewer, string body)
    {
        using var anonymous = new HttpClient { BaseAddress = baseAddress };
        var (bare, check) = (Endpoints[0].Path, Endpoints[1].Path);
        foreach (var (client, path, expected) in new[] { (viewer, bare, HttpStatusCode.OK), (viewer, check, HttpStatusCode.OK), (anonymous, bare, HttpStatusCode.Unauthorized) })
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await client.PostAsync(path.TrimStart('/'), content);
            if (response.StatusCode != expected)
            {
                throw new InvalidOperationException($"POST {path} answered {(int)response.StatusCode}, expected {(int)expected}: {await response.Content.ReadAsStringAsync()}");
            }
        }
    }

    private sealed record Options(string Output, int[] Concurrencies, TimeSpan Seconds, int Rounds, TimeSpan WarmUp, int Seed, string Client, bool InProcess);

    private sealed record Endpoint(string Name, string Path, string Route, bool Denies);
}
