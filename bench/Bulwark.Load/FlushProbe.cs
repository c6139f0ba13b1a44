using System.Diagnostics;
using System.Text.Json.Nodes;

/// <summary>
/// How long the disk under a directory takes to make a small write durable, the way a commit of the event store ends
/// (SQLite in WAL mode with <c>synchronous=FULL</c> calls <c>fsync</c> on the log after writing it): 4 KiB written in
/// place into a preallocated file (the log is rewritten from its start after each checkpoint), then <c>fsync</c>, 200
/// times. One writer cannot commit more often than once per such flush; group commit lets many deliveries share one.
/// </summary>
internal static class FlushProbe
{
    private const int Block = 4096;

    public static JsonObject Measure(string directory, int count = 200)
    {
        var path = Path.Combine(directory, "flush-probe.bin");
        var block = new byte[Block];
        var times = new long[count];
        using (var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None))
        {
            file.SetLength((long)Block * 1024);
            file.Flush(flushToDisk: true);
            for (var i = 0; i < count; i++)
            {
                var started = Stopwatch.GetTimestamp();
                RandomAccess.Write(file.SafeFileHandle, block, (long)(i % 1024) * Block);
                file.Flush(flushToDisk: true);
                times[i] = Stopwatch.GetTimestamp() - started;
            }
        }

        File.Delete(path);
        var latency = LatencySummary.Of([.. times.Order()]);
        return new JsonObject
        {
            ["writes"] = count,
            ["bytes"] = Block,
            ["p50_ms"] = Math.Round(latency.P50, 3),
            ["p90_ms"] = Math.Round(latency.P90, 3),
            ["p99_ms"] = Math.Round(latency.P99, 3),
            ["mean_ms"] = Math.Round(latency.Mean, 3),
            ["flushes_per_second_one_at_a_time"] = Math.Round(1000 / latency.Mean, 0),
        };
    }
}
