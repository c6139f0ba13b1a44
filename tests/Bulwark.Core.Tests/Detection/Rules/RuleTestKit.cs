using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Detection.Rules;
using Bulwark.Ingest;

namespace Bulwark.Core.Tests.Detection.Rules;

/// <summary>Builds rules and events for the rule tests.</summary>
internal static class RuleTestKit
{
    public static readonly DateTimeOffset T0 = new(2026, 3, 2, 12, 0, 0, TimeSpan.Zero);

    public static RuleDefinition Rule(string json)
    {
        var result = RuleKind.Parse(JsonNode.Parse(json)!.AsObject());
        result.Errors.ShouldBeEmpty(string.Join("; ", result.Errors));
        return result.Value!;
    }

    public static IReadOnlyList<Bulwark.Manifests.ManifestError> Errors(string json) => RuleKind.Parse(JsonNode.Parse(json)!.AsObject()).Errors;

    public static NormalizedEvent Event(
        string id,
        double seconds,
        string type = "password_reset",
        string account = "acct_000001",
        string? ip = "203.0.113.7",
        string platform = "internal",
        string? country = null,
        string? details = null) =>
        new(id, "src", platform, type, account, T0.AddSeconds(seconds), new EventActor(account, ip, null, country), Details: details is null ? null : JsonNode.Parse(details)!.AsObject());

    public static List<RuleDetection> Run(RuleEngine engine, IEnumerable<NormalizedEvent> events)
    {
        var detections = new List<RuleDetection>();
        foreach (var e in events)
        {
            detections.AddRange(engine.Add(e));
        }

        detections.AddRange(engine.Flush());
        return detections;
    }

    public static List<RuleDetection> Run(RuleDefinition rule, IEnumerable<NormalizedEvent> events) =>
        Run(new RuleEngine([rule], new RuleEngineOptions { Lateness = TimeSpan.Zero }), events);

    public static string DataDirectory(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "data", .. parts]);

    public static string RepositoryFile(params string[] parts)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine([directory.FullName, .. parts]);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"{Path.Combine(parts)} not found above the test output");
    }

    public static IReadOnlyList<RuleDefinition> DefaultPack()
    {
        var documents = JsonNode.Parse(File.ReadAllText(DataDirectory("rules", "default-pack.json")))!.AsArray().Select(n => n!.AsObject()).ToList();
        var rules = RuleKind.ParseSet(documents, out var errors);
        errors.ShouldBeEmpty(string.Join("; ", errors));
        return rules!;
    }

    public static IEnumerable<NormalizedEvent> ReadTrace(string trace)
    {
        using var file = File.OpenRead(DataDirectory("scenarios", trace, "events.jsonl.gz"));
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        while (reader.ReadLine() is { } line)
        {
            EventJson.TryRead(Encoding.UTF8.GetBytes(line), out var value, out var errors).ShouldBeTrue(string.Join("; ", errors));
            yield return value;
        }
    }

    public static JsonDocument Labels(string trace) => JsonDocument.Parse(File.ReadAllText(DataDirectory("scenarios", trace, "labels.json")));
}
