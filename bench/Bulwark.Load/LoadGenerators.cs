using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;

/// <summary>What one closed-loop run measured on the client side.</summary>
/// <param name="Requests">Responses received.</param>
/// <param name="Elapsed">From the first request to the end of the run.</param>
/// <param name="Latency">Per response, from sending the request to receiving the whole response.</param>
/// <param name="TransportErrors">Connect, read or write failures and timeouts.</param>
/// <param name="Statuses">Responses received, by status code.</param>
/// <param name="ClientCpu">
/// CPU time the generator used while it ran: wrk's process after its script had formatted the requests; for the
/// dotnet client, this whole process's (which hosts the server too with --in-process).
/// </param>
internal sealed record LoadRun(long Requests, TimeSpan Elapsed, LatencySummary Latency, long TransportErrors, IReadOnlyDictionary<int, long> Statuses, TimeSpan ClientCpu)
{
    public double RequestsPerSecond => Requests / Elapsed.TotalSeconds;
}

/// <summary>Latency percentiles, in milliseconds.</summary>
internal sealed record LatencySummary(double P50, double P90, double P99, double Max, double Mean)
{
    /// <summary>Percentiles of <paramref name="sorted"/> Stopwatch tick counts (nearest rank).</summary>
    public static LatencySummary Of(long[] sorted)
    {
        if (sorted.Length == 0)
        {
            return new LatencySummary(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        double Percentile(double p) => Ms(sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)]);
        return new LatencySummary(Percentile(0.50), Percentile(0.90), Percentile(0.99), Ms(sorted[^1]), sorted.Average(t => Ms(t)));
    }
}

/// <summary>
/// A closed-loop load generator: <c>concurrency</c> connections, each sending its next POST as soon as the previous
/// answer arrived, cycling through the same bodies from <c>firstBody</c> on.
/// </summary>
internal interface ILoadGenerator
{
    string Description { get; }

    Task<LoadRun> RunAsync(string path, int concurrency, TimeSpan duration, int firstBody);
}

/// <summary>
/// <c>wrk</c> (C, epoll) with one thread: about half the CPU per request of <see cref="DotnetLoad"/>, but its one
/// thread sleeps in epoll between responses, so on a machine that other work keeps busy its wake-ups wait for a core
/// and its latency tail measures that wait more than the server. A generated Lua script formats every request once at start (so the run only replays byte strings), counts the
/// responses by status and prints the summary as one JSON line, with the CPU time wrk used after the formatting.
/// </summary>
internal sealed class WrkLoad : ILoadGenerator
{
    private const string Marker = "bulwark-load ";
    private readonly Uri _baseAddress;
    private readonly string _script;

    private WrkLoad(Uri baseAddress, string script, string version)
    {
        _baseAddress = baseAddress;
        _script = script;
        Description = version + ", 1 thread, Lua script replaying pre-formatted requests";
    }

    public string Description { get; }

    /// <summary>Writes the script beside <paramref name="bodiesFile"/>; null when <c>wrk</c> is not on the PATH.</summary>
    public static async Task<WrkLoad?> CreateAsync(Uri baseAddress, string token, string bodiesFile)
    {
        var executable = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator)
            .Select(d => Path.Combine(d, "wrk")).FirstOrDefault(File.Exists);
        if (executable is null)
        {
            return null;
        }

        var script = Path.Combine(Path.GetDirectoryName(bodiesFile)!, "check.lua");
        await File.WriteAllTextAsync(script, Script.Replace("BODIES", bodiesFile, StringComparison.Ordinal).Replace("TOKEN", token, StringComparison.Ordinal));

        // `wrk -v` prints its version and exits with status 1.
        var (_, output) = await RunWrkAsync(["-v"]);
        var version = output.Split('\n')[0].Split(" [", 2)[0].Trim();
        return new WrkLoad(baseAddress, script, version.Length > 0 ? version : "wrk");
    }

    public async Task<LoadRun> RunAsync(string path, int concurrency, TimeSpan duration, int firstBody)
    {
        var (exit, output) = await RunWrkAsync(
        [
            "-t1", "-c" + concurrency.ToString(CultureInfo.InvariantCulture),
            "-d" + ((int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s", "--timeout", "10s",
            "-s", _script, new Uri(_baseAddress, path).ToString(), "--", firstBody.ToString(CultureInfo.InvariantCulture),
        ]);
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(Marker, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"wrk exited with {exit} and no summary:\n{output}");
        var summary = JsonNode.Parse(line[Marker.Length..])!;
        var errors = summary["errors"]!;
        var latency = summary["latency_us"]!;
        double Ms(string name) => latency[name]!.GetValue<double>() / 1000;
        return new LoadRun(
            summary["requests"]!.GetValue<long>(),
            TimeSpan.FromMicroseconds(summary["duration_us"]!.GetValue<double>()),
            new LatencySummary(Ms("p50"), Ms("p90"), Ms("p99"), Ms("max"), Ms("mean")),
            errors["connect"]!.GetValue<long>() + errors["read"]!.GetValue<long>() + errors["write"]!.GetValue<long>() + errors["timeout"]!.GetValue<long>(),
            summary["statuses"]!.AsObject().ToDictionary(p => int.Parse(p.Key, CultureInfo.InvariantCulture), p => p.Value!.GetValue<long>()),
            TimeSpan.FromSeconds(summary["cpu_s"]!.GetValue<double>()));
    }

    private static async Task<(int Exit, string Output)> RunWrkAsync(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    // setup and done run in wrk's main Lua state; init, request and response in each thread's, before and during the
    // run (wrk starts its clock after init). os.clock() is the process's CPU time.
    private const string Script = """
        -- Generated by Bulwark.Load (check): POSTs the bodies in the file below, one JSON document a line, in order
        -- from the line given after `--`, counts the responses by status, and prints wrk's summary as one JSON line.
        local requests = {}
        local next_request = 1
        local threads = {}
        statuses = {}
        cpu_after_init = 0

        function setup(thread)
          table.insert(threads, thread)
        end

        function init(args)
          wrk.method = "POST"
          wrk.headers["Content-Type"] = "application/json"
          wrk.headers["Authorization"] = "Bearer TOKEN"
          for body in io.lines("BODIES") do
            requests[#requests + 1] = wrk.format(nil, nil, nil, body)
          end
          next_request = (tonumber(args[1]) or 0) % #requests + 1
          cpu_after_init = os.clock()
        end

        function request()
          local r = requests[next_request]
          next_request = next_request % #requests + 1
          return r
        end

        function response(status, headers, body)
          statuses[status] = (statuses[status] or 0) + 1
        end

        function done(summary, latency, _)
          local counts, cpu_start = {}, 0
          for _, thread in ipairs(threads) do
            cpu_start = math.max(cpu_start, thread:get("cpu_after_init"))
            for status, count in pairs(thread:get("statuses")) do
              counts[status] = (counts[status] or 0) + count
            end
          end
          local listed = {}
          for status, count in pairs(counts) do
            listed[#listed + 1] = string.format('"%d":%d', status, count)
          end
          local e = summary.errors
          io.write(string.format(
            'bulwark-load {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
            '"statuses":{%s},"cpu_s":%.3f,"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
            summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
            table.concat(listed, ","), os.clock() - cpu_start,
            latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
        end
        """;
}

/// <summary>
/// The same closed loop with .NET's <see cref="HttpClient"/> (one pooled connection per concurrent caller) in this
/// process: the default. It takes about twice the CPU per request that <c>wrk</c> does (on two cores, from the
/// server), but the runtime's socket and thread-pool threads spin briefly before they sleep, so its latencies keep
/// little of the scheduling delay that other work on a shared machine adds; percentiles repeat from run to run.
/// </summary>
internal sealed class DotnetLoad(Uri baseAddress, string token, byte[][] bodies) : ILoadGenerator
{
    public string Description => $".NET {Environment.Version} HttpClient (SocketsHttpHandler), one connection per caller";

    public async Task<LoadRun> RunAsync(string path, int concurrency, TimeSpan duration, int firstBody)
    {
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = concurrency,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var uri = new Uri(baseAddress, path);
        var next = firstBody - 1L;
        return await ClosedLoop.RunAsync(
            client,
            () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(bodies[Interlocked.Increment(ref next) % bodies.Length]) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                return request;
            },
            concurrency,
            duration);
    }
}
