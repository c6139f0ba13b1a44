using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

/// <summary>What the HTTP measurements (check, webhooks, events) share: options, admin calls, and what the machine did.</summary>
internal static class LoadTool
{
    /// <summary>Runs <paramref name="measure"/> with a fresh work directory under the temp path, deleted afterwards.</summary>
    public static async Task<int> InTempDirectoryAsync(Func<string, Task<int>> measure)
    {
        var work = Path.Combine(Path.GetTempPath(), "bulwark-load-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            return await measure(work);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// Writes a report as indented JSON and says where; when <paramref name="errors"/> is above zero, prints
    /// <paramref name="failure"/> on standard error and returns exit code 1, else 0.
    /// </summary>
    public static async Task<int> WriteReportAsync(string path, System.Text.Json.Nodes.JsonObject report, long errors, string failure)
    {
        await File.WriteAllTextAsync(path, report.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        Console.WriteLine("wrote " + Path.GetFullPath(path));
        if (errors > 0)
        {
            Console.Error.WriteLine($"{errors} {failure}");
            return 1;
        }

        return 0;
    }

    /// <summary>The value after <paramref name="name"/> on the command line, if any.</summary>
    public static string? Option(string[] args, string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();

    /// <summary>A comma-separated list of numbers after <paramref name="name"/>, or <paramref name="fallback"/>.</summary>
    public static int[] Numbers(string[] args, string name, string fallback) =>
        [.. (Option(args, name) ?? fallback).Split(',').Select(n => int.Parse(n, NumberStyles.AllowThousands, CultureInfo.InvariantCulture))];

    public static int Number(string[] args, string name, int fallback) =>
        Option(args, name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    /// <summary>The 1-minute load average (Linux), which counts runnable threads of every process on the machine.</summary>
    public static double? LoadAverage() =>
        File.Exists("/proc/loadavg") ? double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture) : null;

    public static string Machine() =>
        $"{Environment.ProcessorCount} cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}";

    public static HttpClient Client(Uri baseAddress, string token)
    {
        var client = new HttpClient { BaseAddress = baseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public static async Task<string> SendAsync(HttpClient client, HttpMethod method, string path, string body)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{method} {path} answered {(int)response.StatusCode}: {text}");
        }

        return text;
    }

    /// <summary>Waits until the server's runtime has compiled no method for a second (at most 20 s).</summary>
    public static async Task WaitForQuietJitAsync(HttpClient client)
    {
        var deadline = Stopwatch.GetTimestamp() + (20 * Stopwatch.Frequency);
        for (var (count, quiet) = (-1L, 0); quiet < 10 && Stopwatch.GetTimestamp() < deadline;)
        {
            await Task.Delay(100);
            var now = long.Parse(await client.GetStringAsync(CheckServer.JitPath.TrimStart('/')), CultureInfo.InvariantCulture);
            (count, quiet) = now == count ? (count, quiet + 1) : (now, 0);
        }
    }

    public static JsonObject Counts(IEnumerable<(string Key, long Count)> counts) =>
        new(counts.Select(c => KeyValuePair.Create(c.Key, (JsonNode?)c.Count)));

    /// <summary>A JSON number as a double, whether it was written from a whole number or not.</summary>
    public static double AsDouble(this JsonNode node) =>
        node.AsValue().TryGetValue<double>(out var value) ? value : node.AsValue().TryGetValue<long>(out var whole) ? whole : node.GetValue<int>();

    /// <summary>The median of <paramref name="values"/> (the mean of the middle two when there is an even number).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>The server's counters from <c>/metrics</c>.</summary>
internal sealed partial class ServerCounters(Dictionary<(string Name, string Labels), double> samples)
{
    private readonly Dictionary<(string Name, string Labels), double> _samples = samples;

    public static async Task<ServerCounters> ScrapeAsync(HttpClient admin)
    {
        var samples = new Dictionary<(string, string), double>();
        foreach (var line in (await admin.GetStringAsync("metrics")).Split('\n'))
        {
            if (Sample().Match(line) is { Success: true } match)
            {
                samples[(match.Groups["name"].Value, match.Groups["labels"].Value)] = double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return new ServerCounters(samples);
    }

    public ServerCounters Since(ServerCounters before) =>
        new(_samples.ToDictionary(s => s.Key, s => s.Value - before._samples.GetValueOrDefault(s.Key)));

    /// <summary>POST requests answered on <paramref name="route"/>, by status.</summary>
    public Dictionary<int, long> Statuses(string route) =>
        Select("bulwark_http_requests_total", l => l.GetValueOrDefault("route") == route && l.GetValueOrDefault("method") == "POST")
            .GroupBy(s => int.Parse(s.Labels["status"], CultureInfo.InvariantCulture))
            .Where(g => g.Sum(s => s.Value) > 0)
            .ToDictionary(g => g.Key, g => (long)g.Sum(s => s.Value));

    /// <summary>
    /// The server's mean time per POST on <paramref name="route"/> in milliseconds, from its request duration histogram
    /// (from routing to the response's end, inside the server), or null when it answered none.
    /// </summary>
    public double? MeanServerMilliseconds(string route)
    {
        bool Where(Dictionary<string, string> l) => l.GetValueOrDefault("route") == route && l.GetValueOrDefault("method") == "POST";
        var count = Select("bulwark_http_request_duration_seconds_count", Where).Sum(s => s.Value);
        return count > 0 ? Select("bulwark_http_request_duration_seconds_sum", Where).Sum(s => s.Value) * 1000 / count : null;
    }

    /// <summary>Decisions of <paramref name="throttle"/>, by <c>decision layer</c>.</summary>
    public Dictionary<string, long> Decisions(string throttle) =>
        Select("bulwark_throttle_decisions_total", l => l.GetValueOrDefault("throttle") == throttle)
            .GroupBy(s => (s.Labels.GetValueOrDefault("decision") + " " + s.Labels.GetValueOrDefault("layer")).Trim())
            .Where(g => g.Sum(s => s.Value) > 0)
            .ToDictionary(g => g.Key, g => (long)g.Sum(s => s.Value));

    /// <summary>The sum of every series of <paramref name="name"/> whose labels include <paramref name="labels"/>.</summary>
    public double Total(string name, params (string Name, string Value)[] labels) =>
        Select(name, l => labels.All(p => l.GetValueOrDefault(p.Name) == p.Value)).Sum(s => s.Value);

    private IEnumerable<(Dictionary<string, string> Labels, double Value)> Select(string name, Func<Dictionary<string, string>, bool> where) =>
        _samples.Where(s => s.Key.Name == name)
            .Select(s => (Labels: Label().Matches(s.Key.Labels).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value), s.Value))
            .Where(s => where(s.Labels));

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?<labels>.*)\})? (?<value>\S+)")]
    private static partial Regex Sample();

    [GeneratedRegex(@"(\w+)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();
}

/// <summary>The machine's CPU counters from <c>/proc/stat</c> (Linux), in clock ticks.</summary>
internal sealed record MachineCpu(long Busy, long Total)
{
    public static MachineCpu? Read()
    {
        if (!File.Exists("/proc/stat"))
        {
            return null;
        }

        // cpu  user nice system idle iowait irq softirq steal ...
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var idle = fields[3] + fields[4];
        return new MachineCpu(fields.Sum() - idle, fields.Sum());
    }

    /// <summary>The share of all cores' time that was busy since <paramref name="start"/>.</summary>
    public double BusyShareSince(MachineCpu start) => (double)(Busy - start.Busy) / Math.Max(1, Total - start.Total);
}
