// Response under load (issue 7): how long after the acknowledgement of the first event of an account takeover the
// platform API has received the last containment call of the playbook that the takeover's incident runs by itself,
// with benign events at a fixed rate; against the floor, the same calls made by the client itself.
// Usage: dotnet run -c Release --project bench/Bulwark.Load -- response [OUT.json] [--incidents 600]
//          [--incident-rate 10] [--rate 2000] [--batch 50] [--accounts 1000000] [--gap 3] [--pack ato|default] [--shared-ips]
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.TestUtils.Fakes;
using static LoadTool;

internal static class ResponseLatency
{
    private const string AdminToken = "bwk_load-test-admin-token-0123456789";
    private const string SequenceRule = "contact-change-then-token-rotation";
    private const string PlaybookName = "bench-contain-account-takeover";
    private const string ConnectorName = "bench-platform";

    /// <summary>The variable that hands the fake platform API's token to the server (the connector's <c>secret: env:…</c>).</summary>
    private const string SecretVariable = "BULWARK_BENCH_PLATFORM_TOKEN";

    /// <summary>The platform API actions of the playbook's containment steps, one call each per account.</summary>
    private static readonly string[] Containment = ["revoke_tokens", "expire_sessions"];

    private static readonly double[] Percentiles = [0.5, 0.9, 0.99];

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new Options(
            args.FirstOrDefault(a => a.EndsWith(".json", StringComparison.Ordinal)) ?? "response-latency.json",
            Number(args, "--incidents", 600),
            Number(args, "--incident-rate", 10),
            Number(args, "--rate", 2000),
            Number(args, "--batch", 50),
            Number(args, "--accounts", 1_000_000),
            TimeSpan.FromSeconds(Number(args, "--gap", 3)),
            Option(args, "--pack") ?? "ato",
            args.Contains("--shared-ips"));
        if (options.Pack is not ("ato" or "default"))
        {
            Console.Error.WriteLine("--pack is ato (only the account takeover rule) or default (examples/manifests/rules.yaml and detectors.yaml)");
            return 2;
        }

        var report = new JsonObject
        {
            ["machine"] = Machine(),
            ["load_average_at_start"] = LoadAverage(),
            ["placement"] = "the server (the check-server host, composed as bulwark serve) in its own process; the load client and the fake platform API in this one; all on the same cores",
            ["pack"] = options.Pack == "ato"
                ? $"only the rule {SequenceRule} of examples/manifests/rules.yaml"
                : "examples/manifests/rules.yaml and detectors.yaml (the default pack that --demo loads)",
            ["playbook"] = Playbook(),
        };
        var errors = await InTempDirectoryAsync(work => MeasureAsync(options, work, report));
        return await WriteReportAsync(options.Out, report, errors, "takeovers were not contained, or pushes failed");
    }

    /// <summary>
    /// The playbook in force: the two containment steps, independent of each other (so they run in parallel), once per
    /// account, through the platform connector. The rule's confidence is 0.85; both thresholds are 0.8, so its incidents
    /// run by themselves and their steps, which have no compensation (irreversible), need no approval either (the
    /// default irreversible threshold, 0.95, would make each wait for a person).
    /// </summary>
    private static JsonObject Playbook() => new()
    {
        ["kind"] = "Playbook",
        ["name"] = PlaybookName,
        ["description"] = "Bench: cut an account takeover's sessions at once",
        ["trigger"] = new JsonObject { ["rules"] = new JsonArray(SequenceRule), ["min_severity"] = "high", ["min_confidence"] = 0.6 },
        ["auto_threshold"] = 0.8,
        ["irreversible_threshold"] = 0.8,
        ["steps"] = new JsonArray([.. Containment.Select(action => (JsonNode)new JsonObject
        {
            ["id"] = action.Replace('_', '-'),
            ["action"] = "platform." + action,
            ["connector"] = ConnectorName,
            ["for_each"] = "accounts",
            ["with"] = new JsonObject { ["reason"] = "incident {{incident.id}}" },
        })]),
    };

    private static async Task<int> MeasureAsync(Options options, string work, JsonObject report)
    {
        var calls = new ReceivedCalls();
        await using var platform = await FakePlatformApi.StartAsync();
        platform.Received = calls.Record;
        var data = Directory.CreateDirectory(Path.Combine(work, "data")).FullName;
        var flush = FlushProbe.Measure(data);
        report["flush_probe"] = flush;
        await using var server = await CheckServer.StartAsync(data, AdminToken, inProcess: false, new Dictionary<string, string> { [SecretVariable] = platform.Token });
        using var admin = Client(server.BaseAddress, AdminToken);
        foreach (var (kind, body) in DetectionLatency.DefaultPack().Where(p => options.Pack == "default" || p.Body["name"]!.GetValue<string>() == SequenceRule))
        {
            await SendAsync(admin, HttpMethod.Put, $"v1/{(kind == "Rule" ? "rules" : "detectors")}/{body["name"]}", body.ToJsonString());
        }

        var connector = new JsonObject
        {
            ["kind"] = "Connector",
            ["name"] = ConnectorName,
            ["type"] = "platform",
            ["platform"] = "instagram",
            ["url"] = platform.BaseAddress.ToString(),
            ["secret"] = "env:" + SecretVariable,
        };
        await SendAsync(admin, HttpMethod.Put, "v1/connectors/" + ConnectorName, connector.ToJsonString());
        await SendAsync(admin, HttpMethod.Put, "v1/playbooks/" + PlaybookName, Playbook().ToJsonString());
        report["connector"] = connector;

        await SendAsync(admin, HttpMethod.Put, "v1/identities/load-pusher", """{"name":"load-pusher","roles":["ingest"]}""");
        var token = JsonNode.Parse(await SendAsync(admin, HttpMethod.Post, "v1/identities/load-pusher/tokens", "{}"))!["token"]!.GetValue<string>();
        using var pusher = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64, UseProxy = false }) { BaseAddress = server.BaseAddress };
        pusher.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var floor = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = platform.BaseAddress };
        floor.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", platform.Token);

        var traffic = new Traffic(options.Accounts, options.Batch, options.Gap);
        var batchesPerSecond = options.Rate / (double)options.Batch;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"server: the check-server host in its own process; fake platform API and load in this one; {options.Rate:N0} benign events/s as {batchesPerSecond:F0} pushes/s of {options.Batch}; {options.Incidents} takeovers at {options.IncidentRate}/s; {Environment.ProcessorCount} cores, load average {LoadAverage()}"));

        // Warm-up: the same traffic with takeovers of their own, so the server's ingest, detection and response code
        // (and this process's client and fake) are compiled before measuring.
        var warm = await PushAsync(pusher, floor, traffic, batchesPerSecond, options.IncidentRate, Math.Max(10, options.IncidentRate * 5), "acct_warm_");
        await WaitForContainmentAsync(calls, warm.Incidents, TimeSpan.FromSeconds(30));
        await WaitForQuietJitAsync(admin);

        if (options.SharedIps)
        {
            // Each measured takeover comes from the IP of a warm-up takeover, whose incident is open and has run.
            traffic.ReuseIps(warm.Incidents.Count);
        }

        var counters = await ServerCounters.ScrapeAsync(admin);
        var cpu = server.ProcessorTime;
        var own = Process.GetCurrentProcess().TotalProcessorTime;
        var machine = MachineCpu.Read();
        var load = LoadAverage();
        var run = await PushAsync(pusher, floor, traffic, batchesPerSecond, options.IncidentRate, options.Incidents, "acct_ato_");
        cpu = server.ProcessorTime - cpu;
        own = Process.GetCurrentProcess().TotalProcessorTime - own;
        var busy = machine is null ? (double?)null : MachineCpu.Read()!.BusyShareSince(machine);
        var waited = await WaitForContainmentAsync(calls, run.Incidents, TimeSpan.FromSeconds(30));
        var store = (await ServerCounters.ScrapeAsync(admin)).Since(counters);
        var runs = await ListRunsAsync(admin);
        var incidentOf = await IncidentsByAccountAsync(admin);
        var detected = run.Incidents.Count(i => incidentOf.ContainsKey(i.Account));

        var completed = run.Incidents.Where(i => i.CompletedAck is not null).ToList();
        var contained = completed.Where(i => calls.LastOf(i.Account, Containment) is not null).ToList();
        var total = Sorted(contained.Select(i => Milliseconds(i.FirstAck!.Value, calls.LastOf(i.Account, Containment)!.Value)));
        var fromCompleting = Sorted(contained.Select(i => Milliseconds(i.CompletedAck!.Value, calls.LastOf(i.Account, Containment)!.Value)));
        var sequenceGap = Sorted(completed.Select(i => Milliseconds(i.FirstAck!.Value, i.CompletedAck!.Value)));
        var floorLast = Sorted(completed.Where(i => calls.LastOf(Traffic.FloorAccount(i.Account), Containment) is not null)
            .Select(i => Milliseconds(i.CompletedAck!.Value, calls.LastOf(Traffic.FloorAccount(i.Account), Containment)!.Value)));
        var floorRoundTrip = Sorted(completed.Where(i => i.FloorRoundTripMs is not null).Select(i => i.FloorRoundTripMs!.Value));

        // Where the time goes, from the stored runs (server clock, same machine): completing ack → run stored with its
        // incident → the executor starts the steps → the last call arrives → the run is stored as finished.
        // An incident that grew has a follow-up run for the accounts that joined it: an account's run is the one that acts on it.
        var runsOf = runs.GroupBy(r => r["incident_id"]!.GetValue<string>()).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        static bool ActsOn(JsonNode run, string account) => run["accounts"] is JsonArray accounts && accounts.Any(a => a!.GetValue<string>() == account);
        var byAccount = run.Incidents.Where(i => incidentOf.ContainsKey(i.Account) && runsOf.ContainsKey(incidentOf[i.Account]))
            .ToDictionary(i => i.Account, i => runsOf[incidentOf[i.Account]].FirstOrDefault(r => ActsOn(r, i.Account)) ?? runsOf[incidentOf[i.Account]][0], StringComparer.Ordinal);
        var phases = new (string Name, List<double> Ms)[]
        {
            ("completing_ack_to_run_created", []), ("run_created_to_steps_started", []), ("steps_started_to_last_call", []), ("last_call_to_run_finished", []),
        };
        foreach (var incident in contained.Where(i => byAccount.ContainsKey(i.Account)))
        {
            var doc = byAccount[incident.Account];
            var created = Time(doc["created_at"]);
            var steps = doc["steps"]!.AsArray().Select(s => s!.AsObject()).ToList();
            var started = steps.Select(s => Time(s["started_at"])).Min();
            var finished = steps.Select(s => Time(s["finished_at"])).Max();
            var last = run.Wall(calls.LastOf(incident.Account, Containment)!.Value);
            phases[0].Ms.Add((created - run.Wall(incident.CompletedAck!.Value)).TotalMilliseconds);
            phases[1].Ms.Add((started - created).TotalMilliseconds);
            phases[2].Ms.Add((last - started).TotalMilliseconds);
            phases[3].Ms.Add((finished - last).TotalMilliseconds);
        }

        var statuses = byAccount.Values.DistinctBy(r => r["id"]!.GetValue<string>())
            .GroupBy(r => r["status"]!.GetValue<string>()).ToDictionary(g => g.Key, g => (long)g.Count());
        var notTargeted = byAccount.Count(p => !p.Value["steps"]!.AsArray().Any(s => s!["targets"]!.AsArray().Any(t => t!["target"]!.GetValue<string>() == p.Key)));
        if (byAccount.Values.FirstOrDefault(r => r["status"]!.GetValue<string>() != "succeeded") is { } unfinished)
        {
            Console.WriteLine("a run that did not succeed: " + unfinished.ToJsonString());
        }

        var repeated = calls.Repeated(completed.Select(i => i.Account), Containment);
        var push = Sorted(run.PushMs);
        var p99 = DetectionLatency.Percentile(total, 0.99);
        report["load"] = new JsonObject
        {
            ["rate_events_per_second"] = options.Rate,
            ["batch"] = options.Batch,
            ["seconds"] = Math.Round(run.Seconds, 1),
            ["accounts"] = options.Accounts,
            ["events_sent"] = run.Events,
            ["pushes"] = run.Pushes,
            ["pushes_failed"] = run.Failed,
            ["push_ms"] = DetectionLatency.Summary(push),
            ["server_cpu_seconds"] = Math.Round(cpu.TotalSeconds, 2),
            ["server_cpu_us_per_event"] = Math.Round(cpu.TotalMicroseconds / run.Events, 1),
            ["load_tool_cpu_seconds"] = Math.Round(own.TotalSeconds, 2),
            ["machine_busy_share"] = busy is { } share ? Math.Round(share, 3) : null,
            ["others_busy_share"] = busy is { } all ? Math.Round(Math.Max(0, all - ((cpu + own).TotalSeconds / (run.Seconds * Environment.ProcessorCount))), 3) : null,
            ["load_average_before"] = load,
            ["load_average_after"] = LoadAverage(),
        };
        report["incidents"] = new JsonObject
        {
            ["rate_per_second"] = options.IncidentRate,
            ["event_time_gap_seconds"] = options.Gap.TotalSeconds,
            ["expected"] = completed.Count,
            ["detected"] = detected,
            ["contained"] = contained.Count,
            ["runs_of_their_incidents"] = Counts(statuses.Select(s => (s.Key, s.Value))),
            ["accounts_their_incidents_run_does_not_target"] = notTargeted,
            ["repeated_calls"] = repeated,
            ["waited_after_load_seconds"] = Math.Round(waited.TotalSeconds, 2),
            ["first_ack_to_last_call_ms"] = DetectionLatency.Summary(total),
            ["completing_ack_to_last_call_ms"] = DetectionLatency.Summary(fromCompleting),
            ["first_ack_to_completing_ack_ms"] = DetectionLatency.Summary(sequenceGap),
            ["breakdown_ms"] = new JsonObject(phases.Select(p => KeyValuePair.Create(p.Name, (JsonNode?)DetectionLatency.Summary(Sorted(p.Ms))))),
        };

        // The control store (state and audit: incidents, runs, definitions) over the run and the wait after it.
        var commits = store.Total("bulwark_store_commits_total");
        var writes = store.Total("bulwark_store_writes_total", ("outcome", "committed"));
        report["control_store"] = new JsonObject
        {
            ["commits"] = (long)commits,
            ["writes"] = (long)writes,
            ["writes_per_commit"] = commits > 0 ? Math.Round(writes / commits, 2) : null,
            ["writes_per_takeover"] = completed.Count > 0 ? Math.Round(writes / completed.Count, 2) : null,
        };
        report["floor"] = new JsonObject
        {
            ["what"] = "at each completing ack the client itself makes the same two calls (POST /v1/accounts/floor_<account>/revoke_tokens and expire_sessions, in parallel, same headers) to the same fake",
            ["completing_ack_to_last_call_ms"] = DetectionLatency.Summary(floorLast),
            ["round_trip_ms"] = DetectionLatency.Summary(floorRoundTrip),
        };
        report["ratio_to_floor"] = new JsonObject(Percentiles.Select(p => KeyValuePair.Create(
            "p" + (p * 100).ToString(CultureInfo.InvariantCulture),
            (JsonNode?)(contained.Count == 0 ? null : Math.Round(DetectionLatency.Percentile(fromCompleting, p) / DetectionLatency.Percentile(floorLast, p), 1)))));
        report["shared_ips"] = options.SharedIps;
        report["target"] = new JsonObject
        {
            ["what"] = "first_ack_to_last_call_ms p99 below 1000 ms",
            ["p99_ms"] = contained.Count == 0 ? null : Math.Round(p99, 1),
            ["met"] = p99 < 1000 && contained.Count == completed.Count,
        };

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{run.Events:N0} events in {run.Pushes:N0} pushes ({run.Failed} failed) in {run.Seconds:F1} s, push p50 {DetectionLatency.Percentile(push, 0.5):F1} ms p99 {DetectionLatency.Percentile(push, 0.99):F1} ms; server CPU {cpu.TotalMicroseconds / run.Events:F1} µs/event, this tool's {own.TotalSeconds:F1} s; machine busy {busy:P0}, load average {load} → {LoadAverage()}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"takeovers: {contained.Count}/{completed.Count} contained, {detected} detected ({repeated} repeated calls); the runs of their incidents: {string.Join(", ", statuses.Select(s => $"{s.Key} {s.Value}"))}, {notTargeted} of the accounts not among their run's targets"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"control store: {writes:N0} writes in {commits:N0} commits ({writes / Math.Max(1, commits):F2} a commit, {writes / Math.Max(1, completed.Count):F2} a takeover); disk flush p50 {flush["p50_ms"]} ms, p99 {flush["p99_ms"]} ms"));
        Line("first ack → last call", total);
        Line("completing ack → last call", fromCompleting);
        Line("first ack → completing ack", sequenceGap);
        Line("floor: completing ack → last direct call", floorLast);
        foreach (var (name, ms) in phases)
        {
            Line("  " + name, Sorted(ms));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"target (p99 first ack → last call < 1 s): {(p99 < 1000 ? "met" : "missed")}, {p99:F1} ms"));
        return (int)Math.Min(int.MaxValue, completed.Count - contained.Count + (run.Incidents.Count - completed.Count) + run.Failed);
    }

    private static void Line(string name, double[] sorted) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: p50 {DetectionLatency.Percentile(sorted, 0.5):F1} ms, p90 {DetectionLatency.Percentile(sorted, 0.9):F1} ms, p99 {DetectionLatency.Percentile(sorted, 0.99):F1} ms, max {(sorted.Length > 0 ? sorted[^1] : double.NaN):F1} ms ({sorted.Length})"));

    private static double[] Sorted(IEnumerable<double> values) => [.. values.Order()];

    private static double Milliseconds(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;

    private static DateTimeOffset Time(JsonNode? node) => DateTimeOffset.Parse(node!.GetValue<string>(), CultureInfo.InvariantCulture);

    /// <summary>Waits until every acknowledged takeover's containment calls have arrived, or <paramref name="patience"/> has passed.</summary>
    private static async Task<TimeSpan> WaitForContainmentAsync(ReceivedCalls calls, IReadOnlyList<Incident> incidents, TimeSpan patience)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < patience && !incidents.Where(i => i.CompletedAck is not null).All(i => calls.LastOf(i.Account, Containment) is not null))
        {
            await Task.Delay(50);
        }

        return waited.Elapsed;
    }

    /// <summary>The incident of each account that the takeover rule detected (its group is the account).</summary>
    private static async Task<Dictionary<string, string>> IncidentsByAccountAsync(HttpClient admin)
    {
        var incidents = new Dictionary<string, string>(StringComparer.Ordinal);
        string? before = null;
        do
        {
            var page = JsonNode.Parse(await admin.GetStringAsync($"v1/detections?limit=1000&rule={SequenceRule}{(before is null ? "" : "&before=" + before)}"))!;
            foreach (var detection in page["items"]!.AsArray())
            {
                incidents.TryAdd(detection!["group"]!.GetValue<string>(), detection["incident_id"]!.GetValue<string>());
            }

            before = page["next_before"]?.GetValue<long>().ToString(CultureInfo.InvariantCulture);
        }
        while (before is not null);
        return incidents;
    }

    private static async Task<List<JsonObject>> ListRunsAsync(HttpClient admin)
    {
        var runs = new List<JsonObject>();
        string? before = null;
        while (true)
        {
            var page = JsonNode.Parse(await admin.GetStringAsync($"v1/runs?limit=1000{(before is null ? "" : "&before=" + before)}"))!;
            runs.AddRange(page["items"]!.AsArray().Select(r => r!.AsObject()));
            before = page["next_before"]?.GetValue<long>().ToString(CultureInfo.InvariantCulture);
            if (before is null)
            {
                return runs;
            }
        }
    }

    /// <summary>
    /// Pushes batches at a fixed rate (open loop: batch i at start + i / rate, whatever the answers do), with a takeover
    /// started every <c>rate / incidentRate</c> batches until <paramref name="incidents"/> have started: its email change
    /// (stamped <see cref="Traffic.Gap"/> earlier in event time) in that batch, its token rotation (stamped with the send
    /// time) in the first batch sent after the email change was acknowledged, so the two reach the event log in order.
    /// When the token rotation is acknowledged the client makes the floor's direct calls.
    /// </summary>
    private static async Task<PushRun> PushAsync(
        HttpClient client, HttpClient floor, Traffic traffic, double batchesPerSecond, int incidentRate, int incidents, string prefix)
    {
        var every = Math.Max(1, (int)Math.Round(batchesPerSecond / incidentRate));

        // A second of benign traffic after the last takeover starts, for its token rotation.
        var count = ((incidents - 1) * every) + (int)Math.Ceiling(batchesPerSecond);
        var pushMs = new List<double>(count);
        var failed = 0L;
        var events = 0L;
        var tasks = new List<Task>(count);
        var floors = new ConcurrentBag<Task>();
        var started = new List<Incident>(incidents);
        var ticksPerBatch = Stopwatch.Frequency / batchesPerSecond;
        var run = new PushRun(started, pushMs);
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < count || (traffic.Pending > 0 && i < count * 2); i++)
        {
            var due = start + (long)(i * ticksPerBatch);
            while (Stopwatch.GetTimestamp() < due)
            {
                await Task.Delay(1);
            }

            Incident? begins = null;
            if (i % every == 0 && started.Count < incidents)
            {
                begins = traffic.NewIncident(prefix + started.Count.ToString("D6", CultureInfo.InvariantCulture));
                started.Add(begins);
            }

            var (body, completes, size) = traffic.Next(begins);
            events += size;
            var index = i;
            tasks.Add(Task.Run(async () =>
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
                try
                {
                    using var response = await client.PostAsync("v1/events", content);
                    var acked = Stopwatch.GetTimestamp();
                    lock (pushMs)
                    {
                        pushMs.Add(Stopwatch.GetElapsedTime(due, acked).TotalMilliseconds);
                    }

                    if (!response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref failed);
                        Console.Error.WriteLine($"push {index}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                        return;
                    }

                    if (begins is not null)
                    {
                        begins.FirstAck = acked;
                        traffic.Complete(begins);
                    }

                    foreach (var incident in completes)
                    {
                        incident.CompletedAck = acked;
                        floors.Add(FloorAsync(floor, incident));
                    }
                }
                catch (HttpRequestException e)
                {
                    Interlocked.Increment(ref failed);
                    Console.Error.WriteLine($"push {index}: {e.Message}");
                }
            }));
        }

        await Task.WhenAll(tasks);
        await Task.WhenAll(floors);
        run.Pushes = tasks.Count;
        run.Events = events;
        run.Failed = failed;
        run.Seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return run;
    }

    /// <summary>The floor: the containment calls made directly by the client, in parallel, as the executor makes them.</summary>
    private static async Task FloorAsync(HttpClient floor, Incident incident)
    {
        var account = Traffic.FloorAccount(incident.Account);
        var sent = Stopwatch.GetTimestamp();
        await Task.WhenAll(Containment.Select(async action =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/accounts/{account}/{action}")
            {
                Content = new StringContent($$"""{"reason":"incident floor {{incident.Account}}"}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.TryAddWithoutValidation("Idempotency-Key", $"floor-{incident.Account}-{action}");
            request.Headers.TryAddWithoutValidation("X-Correlation-ID", "floor-" + incident.Account);
            using var response = await floor.SendAsync(request);
            response.EnsureSuccessStatusCode();
        }));
        incident.FloorRoundTripMs = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
    }

    private sealed record Options(string Out, int Incidents, int IncidentRate, int Rate, int Batch, int Accounts, TimeSpan Gap, string Pack, bool SharedIps);

    /// <summary>One push run: its takeovers, push latencies, and the wall clock at its start (to compare with the server's timestamps).</summary>
    private sealed class PushRun(List<Incident> incidents, List<double> pushMs)
    {
        private readonly long _startTimestamp = Stopwatch.GetTimestamp();
        private readonly DateTimeOffset _startWall = TimeProvider.System.GetUtcNow();

        public List<Incident> Incidents { get; } = incidents;

        public List<double> PushMs { get; } = pushMs;

        public int Pushes { get; set; }

        public long Events { get; set; }

        public long Failed { get; set; }

        public double Seconds { get; set; }

        /// <summary>The wall time of a <see cref="Stopwatch"/> timestamp of this process.</summary>
        public DateTimeOffset Wall(long timestamp) => _startWall + Stopwatch.GetElapsedTime(_startTimestamp, timestamp);
    }

    /// <summary>One takeover: its account and IP (of its own, so incidents never merge), and when its two pushes were acknowledged.</summary>
    private sealed class Incident(string account, string ip)
    {
        public string Account { get; } = account;

        public string Ip { get; } = ip;

        public long? FirstAck { get; set; }

        public long? CompletedAck { get; set; }

        public double? FloorRoundTripMs { get; set; }
    }

    /// <summary>The fake platform API's calls by account and action, with the <see cref="Stopwatch"/> timestamp of each arrival.</summary>
    private sealed class ReceivedCalls
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<string, List<(string Action, long At)>> _byAccount = new(StringComparer.Ordinal);

        public void Record(RecordedRequest request, long at)
        {
            // POST /v1/accounts/{account}/{action}
            var segments = request.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (segments is not ["v1", "accounts", var account, var action])
            {
                return;
            }

            lock (_gate)
            {
                if (!_byAccount.TryGetValue(account, out var list))
                {
                    _byAccount[account] = list = [];
                }

                list.Add((action, at));
            }
        }

        /// <summary>When the last of <paramref name="actions"/> first arrived for an account, or null while one has not.</summary>
        public long? LastOf(string account, IReadOnlyList<string> actions)
        {
            lock (_gate)
            {
                if (!_byAccount.TryGetValue(account, out var list))
                {
                    return null;
                }

                var last = 0L;
                foreach (var action in actions)
                {
                    var first = list.Where(c => c.Action == action).Select(c => (long?)c.At).Min();
                    if (first is null)
                    {
                        return null;
                    }

                    last = Math.Max(last, first.Value);
                }

                return last;
            }
        }

        /// <summary>Calls beyond the first of each action for these accounts (retries: the fake answers every call 200).</summary>
        public long Repeated(IEnumerable<string> accounts, IReadOnlyList<string> actions)
        {
            lock (_gate)
            {
                return accounts.Sum(a => _byAccount.TryGetValue(a, out var list)
                    ? actions.Sum(action => Math.Max(0, list.Count(c => c.Action == action) - 1))
                    : 0);
            }
        }
    }

    /// <summary>
    /// The events: benign traffic over a population of accounts and IPs (sessions, edits, failed logins, resets, as the
    /// detection mode sends it), stamped with the send time, and the takeovers' two events on instagram.
    /// </summary>
    private sealed class Traffic(int accounts, int batch, TimeSpan gap)
    {
        private static readonly string[] Platforms = ["instagram", "x", "linkedin", "okta"];
        private readonly Random _random = new(7);
        private readonly ConcurrentQueue<Incident> _completions = new();
        private long _id;
        private int _incidents;
        private int _ipCycle = int.MaxValue;

        /// <summary>How much earlier in event time a takeover's email change is stamped than its token rotation.</summary>
        public TimeSpan Gap { get; } = gap;

        /// <summary>Token rotations waiting for the next batch.</summary>
        public int Pending => _completions.Count;

        public static string FloorAccount(string account) => "floor_" + account;

        /// <summary>
        /// A takeover of <paramref name="account"/> from an IP no other takeover of this tool run uses: incidents that
        /// share an IP merge, and a merged incident's playbook has run already, so its new account would not be contained.
        /// </summary>
        public Incident NewIncident(string account)
        {
            var n = _incidents++ % _ipCycle;
            return new Incident(account, $"198.18.{n / 250 % 250}.{(n % 250) + 1}");
        }

        /// <summary>From now on, takeovers come from the IPs of the first <paramref name="count"/> takeovers again, in turn.</summary>
        public void ReuseIps(int count) => (_incidents, _ipCycle) = (0, count);

        /// <summary>Queues a takeover's token rotation for the next batch (its email change was acknowledged).</summary>
        public void Complete(Incident incident) => _completions.Enqueue(incident);

        public (byte[] Body, List<Incident> Completes, int Size) Next(Incident? begins)
        {
            var now = TimeProvider.System.GetUtcNow();
            var lines = new List<string>(batch);
            var completes = new List<Incident>();
            if (begins is not null)
            {
                lines.Add(Line(now - Gap, "instagram", "account_changed", begins.Account, begins.Ip, """{"field":"email"}"""));
            }

            while (_completions.TryDequeue(out var incident))
            {
                lines.Add(Line(now, "instagram", "token_rotated", incident.Account, incident.Ip, "{}"));
                completes.Add(incident);
            }

            while (lines.Count < batch)
            {
                var (type, details) = _random.Next(100) switch
                {
                    < 50 => ("session_new", "{}"),
                    < 75 => ("content_edit", "{}"),
                    < 85 => ("login_failed", "{}"),
                    < 95 => ("password_reset", """{"phase":"requested"}"""),
                    _ => ("password_reset", """{"phase":"completed"}"""),
                };
                var account = "acct_" + _random.Next(accounts).ToString("D7", CultureInfo.InvariantCulture);
                lines.Add(Line(now, Platforms[_id % Platforms.Length], type, account, $"10.{_random.Next(4)}.{_random.Next(256)}.{_random.Next(256)}", details));
            }

            return (Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"), completes, lines.Count);
        }

        private string Line(DateTimeOffset at, string platform, string type, string account, string ip, string details) =>
            string.Create(CultureInfo.InvariantCulture,
                $$"""{"schema_version":"v1","id":"evt_resp_{{++_id:D10}}","source":"bench-app","platform":"{{platform}}","event_type":"{{type}}","account_id":"{{account}}","actor":{"id":"{{account}}","ip":"{{ip}}","user_agent":"Mozilla/5.0","country":"DE"},"timestamp":"{{at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)}}","details":{{details}}}""");
    }
}
