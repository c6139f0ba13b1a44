using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Json;

namespace Bulwark.Core.Tests.Audit;

/// <summary>
/// <c>Golden/audit-chain-v1.jsonl</c> was written once by the v1 encoding and committed. Stored logs must verify
/// forever, so a change to the encoding, the time format or canonical JSON fails here. Never regenerate the file to
/// make this pass: add a new version instead.
/// </summary>
public sealed class AuditGoldenTests
{
    private static readonly string GoldenPath = Path.Combine(AppContext.BaseDirectory, "Golden", "audit-chain-v1.jsonl");

    private static readonly string[] WireFields =
        ["seq", "time", "actor", "action", "target", "before", "after", "reason", "correlation_id", "prev_hash", "hash"];

    [Fact]
    public void GoldenFile_HasTheExpectedEntriesInTheWireShape()
    {
        var lines = ReadLines();

        lines.Count.ShouldBe(4);
        foreach (var line in lines)
        {
            line.Select(p => p.Key).ShouldBe(WireFields, ignoreOrder: true);
        }

        lines.Select(l => l["seq"]!.GetValue<long>()).ShouldBe([1L, 2L, 3L, 4L]);
    }

    [Fact]
    public void GoldenEntries_RecomputedHashes_MatchTheStoredHashes()
    {
        foreach (var entry in ReadEntries())
        {
            AuditChain.ComputeHash(entry).ShouldBe(entry.Hash, $"entry {entry.Seq}");
            AuditReference.Hash(entry).ShouldBe(entry.Hash, $"entry {entry.Seq} (reference encoding)");
        }
    }

    [Fact]
    public void GoldenChain_Verifies()
    {
        var entries = ReadEntries();
        var verifier = new AuditVerifier();
        foreach (var entry in entries)
        {
            verifier.Add(entry);
        }

        var result = verifier.Complete(new AuditHead(entries[^1].Seq, entries[^1].Hash));

        result.Ok.ShouldBeTrue(result.Problem);
        result.Entries.ShouldBe(4);
        result.Head.ShouldBe(entries[^1].Hash);
        entries[0].PrevHash.ShouldBe(AuditChain.GenesisHash);
    }

    [Fact]
    public void GoldenEntries_TimesRoundTripThroughTheStoredText()
    {
        foreach (var line in ReadLines())
        {
            var text = line["time"]!.GetValue<string>();

            AuditChain.FormatTime(AuditChain.ParseTime(text)).ShouldBe(text);
        }
    }

    [Fact]
    public void GoldenEntries_BeforeAndAfterAreStillCanonical()
    {
        var payloads = ReadEntries().SelectMany(e => new[] { e.Before, e.After }).OfType<string>().ToList();

        payloads.Count.ShouldBeGreaterThan(3);
        foreach (var payload in payloads)
        {
            CanonicalJson.Serialize(JsonNode.Parse(payload)).ShouldBe(payload);
        }
    }

    [Fact]
    public void GoldenEntries_CoverNullsEmptyStringsAndNonAsciiText()
    {
        // Guards the golden file's coverage: it must keep exercising the encoding's edge cases.
        var entries = ReadEntries();

        entries.ShouldContain(e => e.Before == null);
        entries.ShouldContain(e => e.After == null);
        entries.ShouldContain(e => e.Reason == null);
        entries.ShouldContain(e => e.Reason == string.Empty);
        entries.ShouldContain(e => e.CorrelationId == null);
        entries.ShouldContain(e => e.Before != null && e.After != null);
        entries.ShouldContain(e => e.Target.Any(c => c > 0x7F));
        entries.ShouldContain(e => e.Reason != null && e.Reason.Any(c => c > 0x7F));
        entries.ShouldContain(e => e.After != null && e.After.Contains("\\\"", StringComparison.Ordinal));
    }

    private static List<JsonObject> ReadLines() =>
        [.. File.ReadAllLines(GoldenPath).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject())];

    private static List<AuditEntry> ReadEntries() =>
        [.. ReadLines().Select(line => new AuditEntry
        {
            Seq = line["seq"]!.GetValue<long>(),
            Time = AuditChain.ParseTime(line["time"]!.GetValue<string>()),
            Actor = line["actor"]!.GetValue<string>(),
            Action = line["action"]!.GetValue<string>(),
            Target = line["target"]!.GetValue<string>(),
            Before = line["before"]?.GetValue<string>(),
            After = line["after"]?.GetValue<string>(),
            Reason = line["reason"]?.GetValue<string>(),
            CorrelationId = line["correlation_id"]?.GetValue<string>(),
            PrevHash = line["prev_hash"]!.GetValue<string>(),
            Hash = line["hash"]!.GetValue<string>(),
        })];
}
