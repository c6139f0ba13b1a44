using System.Text.Json.Nodes;
using Bulwark.Json;
using Bulwark.Throttling;

namespace Bulwark.Core.Tests.Throttling;

/// <summary>
/// <c>Golden/throttle-v1.jsonl</c> holds a throttle definition and a tightening exactly as the store keeps them
/// (canonical JSON), written once and committed: stored throttles must keep reading, and writing must not drift.
/// </summary>
public sealed class ThrottleGoldenTests
{
    private static readonly string[] Lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Golden", "throttle-v1.jsonl"));

    [Fact]
    public void StoredDefinition_ReadsBack_AndWritesTheSameText()
    {
        var policy = ThrottleKind.Instance.Read(JsonNode.Parse(Lines[0])!.AsObject()).Value!;

        (policy.Name, policy.FailMode, policy.MaxKeys, policy.Shadow).ShouldBe(("password-reset", ThrottleFailMode.Closed, 250_000, false));
        policy.Layers.Select(l => (l.Name, l.Key, l.Limit, l.Per, l.Burst)).ShouldBe([
            ("ip", "ip", 10L, TimeSpan.FromMinutes(1), 10L),
            ("ip-daily", "ip", 100L, TimeSpan.FromDays(1), 20L),
            ("subnet", "subnet", 50L, TimeSpan.FromMinutes(1), 50L),
            ("user", "user", 5L, TimeSpan.FromMinutes(90), 3L)]);
        policy.Escalation.ShouldBe(new ThrottleEscalation { Window = TimeSpan.FromMinutes(10), ChallengeAfter = 3, BlockAfter = 10, BlockFor = TimeSpan.FromHours(1) });
        CanonicalJson.Serialize(ThrottleKind.Instance.ToDocument(policy)).ShouldBe(Lines[0]);
    }

    [Fact]
    public void StoredTightening_ReadsBack_AndWritesTheSameText()
    {
        var record = ThrottleTighteningRecord.FromDocument(JsonNode.Parse(Lines[1])!.AsObject());

        (record.Tightening.Factor, record.Tightening.Until, record.By, record.Reason, record.At)
            .ShouldBe((5d, new DateTimeOffset(2026, 11, 21, 9, 30, 0, TimeSpan.Zero), "oncall", "reset wave", new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero)));
        record.Tightening.Layers.ShouldBe(["ip", "subnet"]);
        CanonicalJson.Serialize(record.ToDocument()).ShouldBe(Lines[1]);
    }
}
