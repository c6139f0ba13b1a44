// Detection under load (issue 6): how long after the acknowledgement of the event that completes a pattern its
// detection is stored, with the default pack in force and benign events at a fixed rate; and how much memory the
// detection state of many active accounts takes.
// Usage: dotnet run -c Release --project bench/Bulwark.Load -- detection [OUT.json] [--rate 5000] [--seconds 30]
//          [--batch 50] [--accounts 1000000] [--memory-accounts 1000000] [--no-load] [--no-memory]
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Detection.Anomaly;
using Bulwark.Detection.Rules;
using Bulwark.Ingest;
using Bulwark.Manifests;
using static LoadTool;

internal static class DetectionLatency
{
    private const string AdminToken = "bwk_load-test-admin-token-0123456789";
    private const string SequenceRule = "contact-change-then-token-rotation";
    private const string CountRule = "reset-flood-per-ip";

    /// <summary>Batches between a contact change and the token rotation that completes the sequence (0.2 s at the default rate).</summary>
    private const int SequenceGap = 20;

    /// <summary>Resets from one IP that the count rule needs (threshold 21), one a batch.</summary>
    private const int FloodSize = 21;

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new Options(
            args.FirstOrDefault(a => a.EndsWith(".json", StringComparison.Ordinal)) ?? "detection-latency.json",
            Number(args, "--rate", 5000),
            TimeSpan.FromSeconds(Number(args, "--seconds", 30)),
            Number(args, "--batch", 50),
            Number(args, "--accounts", 1_000_000),
            Number(args, "--memory-accounts", 1_000_000),
            !args.Contains("--no-load"),
            !args.Contains("--no-memory"));
        var report = new JsonObject
        {
            ["machine"] = Machine(),
            ["load_average_at_start"] = LoadAverage(),
            ["pack"] = "examples/manifests/rules.yaml and detectors.yaml (the default pack that --demo loads)",
        };
        var errors = 0L;
        if (options.Load)
        {
            errors += await InTempDirectoryAsync(work => MeasureLoadAsync(options, work, report));
        }

        if (options.Memory)
        {
            report["memory"] = new JsonArray(MeasureMemory(options.MemoryAccounts, worst: false), MeasureMemory(options.MemoryAccounts, worst: true));
        }

        return await WriteReportAsync(options.Out, report, errors, "triggers were not detected or pushes failed");
    }

    private static async Task<int> MeasureLoadAsync(Options options, string work, JsonObject report)
    {
        var data = Directory.CreateDirectory(Path.Combine(work, "data")).FullName;
        await using var server = await CheckServer.StartAsync(data, AdminToken, inProcess: false);
        using var admin = Client(server.BaseAddress, AdminToken);
        foreach (var (kind, body) in DefaultPack())
        {
            await SendAsync(admin, HttpMethod.Put, $"v1/{(kind == "Rule" ? "rules" : "detectors")}/{body["name"]}", body.ToJsonString());
        }

        await SendAsync(admin, HttpMethod.Put, "v1/identities/load-pusher", """{"name":"load-pusher","roles":["ingest"]}""");
        var token = JsonNode.Parse(await SendAsync(admin, HttpMethod.Post, "v1/identities/load-pusher/tokens", "{}"))!["token"]!.GetValue<string>();
        using var pusher = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64, UseProxy = false }) { BaseAddress = server.BaseAddress };
        pusher.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var traffic = new Traffic(options.Accounts, options.Batch);
        var batchesPerSecond = options.Rate / (double)options.Batch;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"server: the check-server host in its own process (as bulwark serve, SQLite stores); {options.Rate:N0} events/s as {batchesPerSecond:F0} pushes/s of {options.Batch}; {Environment.ProcessorCount} cores, load average {LoadAverage()}"));

        // Warm-up: the same traffic without triggers, so the server's code is compiled before measuring.
        await PushAsync(pusher, traffic, batchesPerSecond, TimeSpan.FromSeconds(5), triggers: false);
        await WaitForQuietJitAsync(admin);
        using var poller = new DetectionPoller(admin, SequenceRule);
        var polling = poller.RunAsync();
        var cpu = server.ProcessorTime;
        var run = await PushAsync(pusher, traffic, batchesPerSecond, options.Duration, triggers: true);
        cpu = server.ProcessorTime - cpu;

        // Let the detection consumer finish, then read what it stored.
        var expected = run.Triggers.GroupBy(t => t.Rule).ToDictionary(g => g.Key, g => g.Count());
        var stored = new Dictionary<(string Rule, string Group), DateTimeOffset>();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            stored.Clear();
            foreach (var rule in expected.Keys)
            {
                foreach (var (group, createdAt) in await ListDetectionsAsync(admin, rule))
                {
                    stored.TryAdd((rule, group), createdAt);
                }
            }

            if (run.Triggers.All(t => stored.ContainsKey((t.Rule, t.Group))))
            {
                break;
            }

            await Task.Delay(200);
        }

        poller.Stop();
        await polling;
        var rows = new JsonArray();
        var missing = 0L;
        foreach (var (rule, triggers) in run.Triggers.GroupBy(t => t.Rule).Select(g => (g.Key, g.ToList())))
        {
            var found = triggers.Where(t => stored.ContainsKey((rule, t.Group)) && t.AckedAt is not null).ToList();
            missing += triggers.Count - found.Count;
            var storedMs = found.Select(t => (stored[(rule, t.Group)] - t.AckedAt!.Value).TotalMilliseconds).Order().ToArray();
            var row = new JsonObject
            {
                ["rule"] = rule,
                ["triggers"] = triggers.Count,
                ["detected"] = found.Count,
                ["ack_to_stored_ms"] = Summary(storedMs),
            };
            if (rule == SequenceRule)
            {
                var visibleMs = found.Where(t => poller.Seen.ContainsKey(t.Group))
                    .Select(t => (poller.Seen[t.Group] - t.AckedAt!.Value).TotalMilliseconds).Order().ToArray();
                row["ack_to_visible_ms"] = Summary(visibleMs);
                row["poll_interval_ms"] = DetectionPoller.Interval.TotalMilliseconds;
            }

            rows.Add(row);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{rule}: {found.Count}/{triggers.Count} detected; ack → stored p50 {Percentile(storedMs, 0.5):F2} ms, p99 {Percentile(storedMs, 0.99):F2} ms, max {(storedMs.Length > 0 ? storedMs[^1] : double.NaN):F2} ms"));
        }

        var push = run.PushMs.Order().ToArray();
        var all = (await ListDetectionsAsync(admin, null)).Count;
        report["load"] = new JsonObject
        {
            ["rate_events_per_second"] = options.Rate,
            ["batch"] = options.Batch,
            ["seconds"] = options.Duration.TotalSeconds,
            ["accounts"] = options.Accounts,
            ["events_sent"] = run.Events,
            ["pushes_failed"] = run.Failed,
            ["push_ms"] = Summary(push),
            ["server_cpu_seconds"] = Math.Round(cpu.TotalSeconds, 2),
            ["server_cpu_us_per_event"] = Math.Round(cpu.TotalMicroseconds / run.Events, 1),
            ["detections_stored"] = all,
            ["detections_of_benign_traffic"] = all - run.Triggers.Count,
            ["triggers"] = rows,
        };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{run.Events:N0} events in {run.Pushes:N0} pushes ({run.Failed} failed), push p50 {Percentile(push, 0.5):F2} ms p99 {Percentile(push, 0.99):F2} ms; server CPU {cpu.TotalMicroseconds / run.Events:F1} µs/event; {all} detections stored"));
        return (int)Math.Min(int.MaxValue, missing + run.Failed);
    }

    /// <summary>
    /// Pushes batches at a fixed rate (open loop: batch i at start + i / rate, whatever the answers do), recording when
    /// each batch that completes a trigger was acknowledged.
    /// </summary>
    private static async Task<PushRun> PushAsync(HttpClient client, Traffic traffic, double batchesPerSecond, TimeSpan duration, bool triggers)
    {
        var count = (int)Math.Round(batchesPerSecond * duration.TotalSeconds);
        var pushMs = new double[count];
        var failed = 0L;
        var events = 0L;
        var tasks = new List<Task>(count);
        var started = new List<Trigger>();
        var ticksPerBatch = Stopwatch.Frequency / batchesPerSecond;
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            var due = start + (long)(i * ticksPerBatch);
            while (Stopwatch.GetTimestamp() < due)
            {
                await Task.Delay(1);
            }

            var (body, completes, size) = traffic.Next(i, triggers, started);
            events += size;
            var index = i;
            tasks.Add(Task.Run(async () =>
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
                try
                {
                    using var response = await client.PostAsync("v1/events", content);
                    var acked = TimeProvider.System.GetUtcNow();
                    pushMs[index] = Stopwatch.GetElapsedTime(due).TotalMilliseconds;
                    if (!response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref failed);
                        Console.Error.WriteLine($"push {index}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                        return;
                    }

                    foreach (var trigger in completes)
                    {
                        trigger.AckedAt = acked;
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
        return new PushRun(count, events, failed, pushMs, started.Where(t => t.Completed).ToList());
    }

    private static async Task<List<(string Group, DateTimeOffset CreatedAt)>> ListDetectionsAsync(HttpClient admin, string? rule)
    {
        var found = new List<(string, DateTimeOffset)>();
        string? before = null;
        while (true)
        {
            var query = $"v1/detections?limit=1000{(rule is null ? "" : "&rule=" + rule)}{(before is null ? "" : "&before=" + before)}";
            var page = JsonNode.Parse(await admin.GetStringAsync(query))!;
            foreach (var item in page["items"]!.AsArray())
            {
                found.Add((item!["group"]!.GetValue<string>(), DateTimeOffset.Parse(item["created_at"]!.GetValue<string>(), CultureInfo.InvariantCulture)));
            }

            before = page["next_before"]?.GetValue<long>().ToString(CultureInfo.InvariantCulture);
            if (before is null)
            {
                return found;
            }
        }
    }

    /// <summary>
    /// State of the engines (rules and detectors of the default pack) for many active accounts, retained bytes after a
    /// full collection, for two workloads within four minutes of event time (inside every window of the pack):
    /// <c>worst</c>, where each account has a reset request, a failed login and an email change from an IP of its own,
    /// so every per-account and per-IP rule holds a group for it; and <c>mixed</c>, where each account has one event
    /// drawn from the dev traces' mix of types (mostly reset requests and sessions) from a pool of 250,000 IPs.
    /// Events go through JSON, as the event log hands them to the detection consumer (each has strings of its own).
    /// </summary>
    private static JsonObject MeasureMemory(int accounts, bool worst)
    {
        var pack = DefaultPack().ToList();
        var rules = pack.Where(p => p.Kind == "Rule").Select(p => RuleKind.Parse(p.Body).Value!).ToList();
        var detectors = pack.Where(p => p.Kind == "Detector").Select(p => DetectorKind.Instance.Read(p.Body).Value!).ToList();
        var start = new DateTimeOffset(2026, 11, 21, 0, 0, 0, TimeSpan.Zero);
        var perAccount = worst ? 3 : 1;
        var step = TimeSpan.FromMinutes(4) / (accounts * (double)perAccount);
        var random = new Random(6);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var engine = new RuleEngine(rules);
        var rates = new RateDetectorEngine(detectors);
        var requested = new JsonObject { ["phase"] = "requested" };
        var email = new JsonObject { ["field"] = "email" };
        var none = new JsonObject();
        (string Type, JsonObject Details)[] all = [("password_reset", requested), ("login_failed", none), ("account_changed", email)];
        (string Type, JsonObject Details) Mixed(int roll) => roll switch
        {
            < 550 => ("password_reset", requested),
            < 820 => ("session_new", none),
            < 920 => ("content_edit", none),
            < 980 => ("login_failed", none),
            < 987 => ("password_reset", new JsonObject { ["phase"] = "completed" }),
            < 992 => ("account_changed", email),
            < 997 => ("token_rotated", none),
            _ => ("policy_flag", none),
        };
        var clock = Stopwatch.StartNew();
        var n = 0L;
        var detections = 0L;
        for (var i = 0; i < accounts; i++)
        {
            var account = "acct_" + i.ToString("D7", CultureInfo.InvariantCulture);
            var host = worst ? i : random.Next(250_000);
            var ip = $"10.{host >> 16 & 255}.{host >> 8 & 255}.{host & 255}";
            foreach (var (type, details) in worst ? all : [Mixed(random.Next(1000))])
            {
                var json = EventJson.ToUtf8Bytes(new NormalizedEvent($"evt_{n:D10}", "bench-app", "instagram", type, account, start + (step * n), new EventActor(account, ip), Details: details));
                if (!EventJson.TryRead(json, out var e, out _))
                {
                    throw new InvalidDataException("the generated event is not v1");
                }

                detections += engine.Add(e).Count + rates.Add(e).Count;
                n++;
            }
        }

        var elapsed = clock.Elapsed;
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var bytes = after - before;
        var groups = engine.Statistics.ActiveGroups;
        GC.KeepAlive(engine);
        GC.KeepAlive(rates);
        var name = worst ? "worst" : "mixed";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"memory ({name}): {accounts:N0} active accounts, {n:N0} events in {elapsed.TotalSeconds:F1} s ({n / elapsed.TotalSeconds:N0} events/s on one thread, with JSON reads), {groups:N0} rule groups, {bytes / 1048576.0:F0} MiB retained = {bytes / (double)accounts:F0} bytes/account; {detections} detections"));
        return new JsonObject
        {
            ["workload"] = name,
            ["accounts"] = accounts,
            ["events"] = n,
            ["rule_groups"] = groups,
            ["detector_keys"] = rates.ActiveKeys,
            ["retained_bytes"] = bytes,
            ["retained_mib"] = Math.Round(bytes / 1048576.0, 1),
            ["bytes_per_account"] = Math.Round(bytes / (double)accounts, 1),
            ["events_per_second_one_thread"] = Math.Round(n / elapsed.TotalSeconds),
            ["detections"] = detections,
        };
    }

    /// <summary>The default pack's manifests as JSON: <c>examples/manifests/rules.yaml</c> and <c>detectors.yaml</c>, as the CLI embeds them for <c>--demo</c>.</summary>
    internal static IEnumerable<(string Kind, JsonObject Body)> DefaultPack()
    {
        var cli = typeof(Bulwark.Cli.Manifests.YamlManifestReader).Assembly;
        foreach (var file in new[] { "rules.yaml", "detectors.yaml" })
        {
            using var stream = cli.GetManifestResourceStream("demo/" + file) ?? throw new InvalidDataException($"the CLI embeds no demo/{file}");
            using var reader = new StreamReader(stream);
            var problems = new List<ManifestProblem>();
            var documents = Bulwark.Cli.Manifests.YamlManifestReader.ReadText(file, reader.ReadToEnd(), problems);
            if (problems.Count > 0)
            {
                throw new InvalidDataException(string.Join("; ", problems));
            }

            foreach (var document in documents)
            {
                yield return (document.Body["kind"]!.GetValue<string>(), (JsonObject)document.Body.DeepClone());
            }
        }
    }

    /// <summary>Count, p50, p90, p99 and max of sorted values (only the count when there are none: JSON has no NaN).</summary>
    internal static JsonObject Summary(double[] sorted) => sorted.Length == 0 ? new() { ["count"] = 0 } : new()
    {
        ["count"] = sorted.Length,
        ["p50"] = Math.Round(Percentile(sorted, 0.50), 3),
        ["p90"] = Math.Round(Percentile(sorted, 0.90), 3),
        ["p99"] = Math.Round(Percentile(sorted, 0.99), 3),
        ["max"] = Math.Round(sorted[^1], 3),
    };

    internal static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private sealed record Options(string Out, int Rate, TimeSpan Duration, int Batch, int Accounts, int MemoryAccounts, bool Load, bool Memory);

    private sealed record PushRun(int Pushes, long Events, long Failed, double[] PushMs, List<Trigger> Triggers);

    /// <summary>A pattern the load completes on purpose: the rule that must fire, its group, and when the completing push was acknowledged.</summary>
    private sealed class Trigger(string rule, string group)
    {
        public string Rule { get; } = rule;

        public string Group { get; } = group;

        public bool Completed { get; set; }

        public DateTimeOffset? AckedAt { get; set; }
    }

    /// <summary>
    /// The events: benign traffic over a population of accounts and IPs (sessions, edits, failed logins, resets) in the
    /// proportions of the dev traces but with fewer resets, stamped with the send time; and, when asked, ten account
    /// takeovers a second (an email change, then a token rotation 0.2 s later) and five reset floods a second (21 resets
    /// from a fresh IP, one a batch).
    /// </summary>
    private sealed class Traffic(int accounts, int batch)
    {
        private static readonly string[] Platforms = ["instagram", "x", "linkedin", "okta"];
        private readonly Random _random = new(6);
        private readonly Dictionary<int, List<(Trigger? Trigger, string Line)>> _scheduled = [];
        private long _id;

        public (byte[] Body, List<Trigger> Completes, int Size) Next(int index, bool triggers, List<Trigger> started)
        {
            var now = TimeProvider.System.GetUtcNow();
            var lines = new List<string>(batch);
            var completes = new List<Trigger>();
            if (triggers)
            {
                if (index % 10 == 0)
                {
                    var account = $"acct_ato_{started.Count:D7}";
                    var trigger = new Trigger(SequenceRule, account);
                    started.Add(trigger);
                    lines.Add(Line(now, "account_changed", account, Ip(), """{"field":"email"}"""));
                    Schedule(index + SequenceGap, trigger, Line(now, "token_rotated", account, Ip(), "{}"));
                }

                if (index % 20 == 5)
                {
                    var ip = $"192.0.{started.Count / 250 % 250}.{started.Count % 250}";
                    var trigger = new Trigger(CountRule, ip);
                    started.Add(trigger);
                    lines.Add(Line(now, "password_reset", Account(), ip, """{"phase":"requested"}"""));
                    for (var k = 1; k < FloodSize; k++)
                    {
                        Schedule(index + k, k == FloodSize - 1 ? trigger : null, Line(now, "password_reset", Account(), ip, """{"phase":"requested"}"""));
                    }
                }

                if (_scheduled.Remove(index, out var due))
                {
                    foreach (var (trigger, line) in due)
                    {
                        lines.Add(Restamp(line, now));
                        if (trigger is not null)
                        {
                            trigger.Completed = true;
                            completes.Add(trigger);
                        }
                    }
                }
            }

            while (lines.Count < batch)
            {
                var roll = _random.Next(100);
                var (type, details) = roll switch
                {
                    < 50 => ("session_new", "{}"),
                    < 75 => ("content_edit", "{}"),
                    < 85 => ("login_failed", "{}"),
                    < 95 => ("password_reset", """{"phase":"requested"}"""),
                    _ => ("password_reset", """{"phase":"completed"}"""),
                };
                lines.Add(Line(now, type, Account(), Ip(), details));
            }

            return (Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"), completes, lines.Count);
        }

        private void Schedule(int index, Trigger? trigger, string line)
        {
            if (!_scheduled.TryGetValue(index, out var list))
            {
                _scheduled[index] = list = [];
            }

            list.Add((trigger, line));
        }

        private string Account() => "acct_" + _random.Next(accounts).ToString("D7", CultureInfo.InvariantCulture);

        private string Ip() => $"10.{_random.Next(4)}.{_random.Next(256)}.{_random.Next(256)}";

        private string Line(DateTimeOffset at, string type, string account, string ip, string details) =>
            string.Create(CultureInfo.InvariantCulture,
                $$"""{"schema_version":"v1","id":"evt_load_{{Interlocked.Increment(ref _id):D10}}","source":"bench-app","platform":"{{Platforms[_id % Platforms.Length]}}","event_type":"{{type}}","account_id":"{{account}}","actor":{"id":"{{account}}","ip":"{{ip}}","user_agent":"Mozilla/5.0","country":"DE"},"timestamp":"{{Stamp(at)}}","details":{{details}}}""");

        private static string Stamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

        /// <summary>A line prepared earlier, stamped with the time it is sent.</summary>
        private static string Restamp(string line, DateTimeOffset at)
        {
            const string Member = "\"timestamp\":\"";
            var start = line.IndexOf(Member, StringComparison.Ordinal) + Member.Length;
            var end = line.IndexOf('"', start);
            return string.Concat(line.AsSpan(0, start), Stamp(at), line.AsSpan(end));
        }
    }

    /// <summary>Polls the newest detections of one rule, recording when each group's detection was first seen.</summary>
    private sealed class DetectionPoller(HttpClient admin, string rule) : IDisposable
    {
        public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(10);
        private readonly CancellationTokenSource _stop = new();

        public Dictionary<string, DateTimeOffset> Seen { get; } = new(StringComparer.Ordinal);

        public async Task RunAsync()
        {
            using var timer = new PeriodicTimer(Interval);
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token))
                {
                    var page = JsonNode.Parse(await admin.GetStringAsync($"v1/detections?limit=20&rule={rule}", _stop.Token))!;
                    var now = TimeProvider.System.GetUtcNow();
                    foreach (var item in page["items"]!.AsArray())
                    {
                        Seen.TryAdd(item!["group"]!.GetValue<string>(), now);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        public void Stop() => _stop.Cancel();

        public void Dispose() => _stop.Dispose();
    }
}
