using System.Text.Json.Nodes;
using Bulwark.Throttling;

namespace Bulwark.Core.Tests.Throttling;

public sealed class ThrottleManualBlockTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);

    private static ThrottleEngine Sut(string json)
    {
        var result = ThrottleKind.Instance.Read(JsonNode.Parse(json)!.AsObject());
        result.Errors.ShouldBeEmpty();
        return new ThrottleEngine(result.Value!, new KeyHash(42));
    }

    private static ThrottleManualBlock Block(string key, DateTimeOffset until, string throttle = "login") => new()
    {
        Throttle = throttle,
        Key = key,
        Until = until,
        By = "alice",
        CreatedAt = Start,
        UpdatedAt = Start,
    };

    private static ThrottleKeys Keys(params (string Name, string Value)[] keys) => ThrottleKeys.Of(keys);

    [Fact]
    public void Decide_ABlockedKey_IsBlockedWhateverItsLimits_UntilTheBlockLapses_AndOtherKeysAreNot()
    {
        var sut = Sut("""{"name":"login","layers":[{"key":"ip","limit":1000,"per":"1m"},{"key":"user","limit":1000,"per":"1m"}]}""");
        sut.Block([Block("mallory", Start.AddHours(1))]);

        var blocked = sut.Decide(Keys(("ip", "198.51.100.7"), ("user", "mallory")), 1, Start);
        var other = sut.Decide(Keys(("ip", "198.51.100.7"), ("user", "alice")), 1, Start);

        // The blocked check took nothing from the buckets: the address has used one of its thousand, not two.
        sut.Decide(Keys(("ip", "198.51.100.7")), 0, Start).Remaining.ShouldBe(999);
        var lapsed = sut.Decide(Keys(("ip", "198.51.100.7"), ("user", "mallory")), 1, Start.AddHours(1));

        (blocked.Kind, blocked.Reason, blocked.Layer, blocked.ManualBlock, blocked.BlockedUntil, blocked.RetryAfter)
            .ShouldBe((ThrottleDecisionKind.Block, ThrottleReason.Blocked, "user", true, (DateTimeOffset?)Start.AddHours(1), (TimeSpan?)TimeSpan.FromHours(1)));
        (other.Kind, other.ManualBlock, other.BlockedUntil).ShouldBe((ThrottleDecisionKind.Allow, false, (DateTimeOffset?)null));
        lapsed.Kind.ShouldBe(ThrottleDecisionKind.Allow);
    }

    [Fact]
    public void Decide_AManualBlock_HoldsEvenInShadowMode()
    {
        var sut = Sut("""{"name":"login","layers":[{"key":"ip","limit":1,"per":"1m"}],"shadow":true}""");
        sut.Block([Block("203.0.113.9", Start.AddMinutes(5))]);

        var decision = sut.Decide(Keys(("ip", "203.0.113.9")), 1, Start);

        (decision.Shadow, decision.Enforced, decision.Reason).ShouldBe((false, ThrottleDecisionKind.Block, ThrottleReason.Blocked));
        sut.Decide(Keys(("ip", "203.0.113.10")), 5, Start).Enforced.ShouldBe(ThrottleDecisionKind.Allow);
    }

    [Fact]
    public void Decide_AnAddressBlocksIpLayersOnly_ANetworkBlocksSubnetLayers_AndGlobalIsNeverBlocked()
    {
        var sut = Sut("""
            {"name":"login","layers":[{"key":"global","limit":1000,"per":"1m"},{"key":"subnet","limit":1000,"per":"1m"},{"key":"ip","limit":1000,"per":"1m"}]}
            """);
        sut.Block([Block("203.0.113.9", Start.AddHours(1)), Block("2001:db8:1:2::/64", Start.AddHours(1)), Block("global", Start.AddHours(1))]);

        var address = sut.Decide(Keys(("ip", "203.0.113.9")), 1, Start);
        sut.Decide(Keys(("ip", "203.0.113.10")), 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        var network = sut.Decide(Keys(("ip", "2001:db8:1:2::77")), 1, Start);
        sut.Decide(Keys(("ip", "2001:db8:1:3::77")), 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);

        (address.Reason, address.Layer).ShouldBe((ThrottleReason.Blocked, "ip"));
        (network.Reason, network.Layer).ShouldBe((ThrottleReason.Blocked, "subnet"));
    }

    [Fact]
    public void Block_ReplacesTheSet_IgnoresOtherThrottles_AndTheLaterOfTwoExpiriesCounts()
    {
        var sut = Sut("""{"name":"login","layers":[{"key":"user","limit":1000,"per":"1m"}]}""");
        var mallory = Keys(("user", "mallory"));
        sut.Block([Block("mallory", Start.AddMinutes(5)), Block("mallory", Start.AddMinutes(50)), Block("trent", Start.AddHours(1), throttle: "signup")]);

        sut.Decide(mallory, 1, Start).BlockedUntil.ShouldBe(Start.AddMinutes(50));
        sut.Decide(Keys(("user", "trent")), 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);

        sut.Block([]);

        sut.Decide(mallory, 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);
    }

    [Fact]
    public void Decide_AManualBlockComesBeforeAnEscalationBlock_AndBothSayUntilWhen()
    {
        var sut = Sut("""
            {"name":"login","layers":[{"key":"ip","limit":1,"per":"1h"}],"escalation":{"window":"1h","block_after":1,"block_for":"10m"}}
            """);
        var ip = Keys(("ip", "198.51.100.7"));
        sut.Decide(ip, 1, Start);
        sut.Decide(ip, 1, Start);
        var escalated = sut.Decide(ip, 1, Start);

        sut.Block([Block("198.51.100.7", Start.AddDays(1))]);
        var manual = sut.Decide(ip, 1, Start);

        (escalated.Reason, escalated.ManualBlock, escalated.BlockedUntil).ShouldBe((ThrottleReason.Blocked, false, (DateTimeOffset?)Start.AddMinutes(10)));
        (manual.Reason, manual.ManualBlock, manual.BlockedUntil).ShouldBe((ThrottleReason.Blocked, true, (DateTimeOffset?)Start.AddDays(1)));
    }

    [Fact]
    public void Decide_WithManualBlocksInForce_AllocatesNothing_ForBlockedKeysOrOthers()
    {
        var sut = Sut("""{"name":"login","layers":[{"key":"ip","limit":1000,"per":"1s"},{"key":"user","limit":1000,"per":"1s"}]}""");
        sut.Block([.. Enumerable.Range(0, 50).Select(i => Block("u" + (i * 2), Start.AddHours(1)))]);
        var keys = Enumerable.Range(0, 100).Select(i => Keys(("ip", $"198.51.100.{i}"), ("user", "u" + i))).ToArray();
        foreach (var k in keys)
        {
            sut.Decide(k, 1, Start);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var blocked = 0;
        foreach (var k in keys)
        {
            blocked += sut.Decide(k, 1, Start).ManualBlock ? 1 : 0;
        }

        (GC.GetAllocatedBytesForCurrentThread() - before).ShouldBe(0);
        blocked.ShouldBe(50);
    }

    [Theory]
    [InlineData("acct_1", null)]
    [InlineData("203.0.113.9", null)]
    [InlineData("203.0.113.0/24", null)]
    [InlineData("2001:db8::/64", null)]
    [InlineData("team/alice", null)]
    [InlineData("", "must be 1-256 characters")]
    [InlineData("a\nb", "must not contain control characters")]
    [InlineData("203.0.113.0/16", "a network is blocked as a subnet layer keys it: 203.0.113.0/24")]
    [InlineData("203.0.113.9/24", "a network is blocked as a subnet layer keys it: 203.0.113.0/24")]
    public void CheckKey_AcceptsValuesAndCanonicalNetworks_AndSaysWhatIsWrong(string key, string? problem) =>
        ThrottleManualBlock.CheckKey(key).ShouldBe(problem);

    [Fact]
    public void CheckKey_RefusesAKeyLongerThanAChecksValue() =>
        ThrottleManualBlock.CheckKey(new string('k', ThrottleManualBlock.MaxKeyLength + 1)).ShouldNotBeNull();
}
