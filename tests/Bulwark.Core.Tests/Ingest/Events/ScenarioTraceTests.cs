using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Ingest;

namespace Bulwark.Core.Tests.Ingest.Events;

/// <summary>
/// The labeled scenario traces under <c>tests/data/scenarios</c> (copied next to the test assembly) feed the server's
/// detection tests; every line must be a valid event v1 that reads and writes back without loss.
/// </summary>
public sealed class ScenarioTraceTests
{
    [Theory]
    [InlineData("dev-a", 15_101)]
    [InlineData("dev-b", 40_938)]
    public void Trace_EveryLine_ValidatesReadsAndWritesBackUnchanged(string trace, int expectedEvents)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "data", "scenarios", trace);
        var labels = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "labels.json")))!;
        labels["events"]!.GetValue<int>().ShouldBe(expectedEvents);

        var count = 0;
        var ids = new HashSet<(string, string)>();
        var previous = DateTimeOffset.MinValue;
        foreach (var line in ReadLines(Path.Combine(directory, "events.jsonl.gz")))
        {
            count++;
            using var document = JsonDocument.Parse(line);
            var errors = EventSchema.Validate(document.RootElement);
            errors.ShouldBeEmpty($"line {count}: {string.Join("; ", errors)}");
            EventJson.TryRead(document.RootElement, out var value, out _).ShouldBeTrue($"line {count}");

            var written = EventJson.ToUtf8Bytes(value);
            if (line.Contains(":null", StringComparison.Ordinal))
            {
                // Null members are left out when written; the event itself is unchanged.
                EventJson.TryRead(written, out var again, out _).ShouldBeTrue($"line {count}");
                EventJsonTests.AssertSame(value, again);
            }
            else
            {
                Encoding.UTF8.GetString(written).ShouldBe(line, $"line {count}");
            }

            ids.Add((value.Source, value.Id)).ShouldBeTrue($"line {count}: id {value.Id} repeats in {value.Source}");
            value.Timestamp.ShouldBeGreaterThanOrEqualTo(previous, $"line {count}");
            previous = value.Timestamp;
        }

        count.ShouldBe(expectedEvents);
    }

    private static IEnumerable<string> ReadLines(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                yield return line;
            }
        }
    }
}
