using System.Text.Json.Nodes;
using Bulwark.Throttling;

namespace Bulwark.Core.Tests.Throttling;

public sealed class ThrottleEngineTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);

    private static ThrottlePolicy Policy(string json)
    {
        var result = ThrottleKind.Instance.Read(JsonNode.Parse(json)!.AsObject());
        result.Errors.ShouldBeEmpty();
        return result.Value!;
    }

    private static ThrottleEngine Sut(string json) => new(Policy(json), new KeyHash(42));

    private static ThrottleKeys Keys(params (string Name, string Value)[] keys) => ThrottleKeys.Of(keys);

    [Fact]
    public void Decide_EveryLayerThatAppliesMustAdmit_AndADeniedCheckTakesNothingFromTheOthers()
    {
        var sut = Sut("""{"name":"reset","layers":[{"key":"ip","limit":3,"per":"1m"},{"key":"user","limit":10,"per":"1m"}]}""");
        var alice = Keys(("ip", "198.51.100.7"), ("user", "alice"));
        for (var i = 0; i < 3; i++)
        {
            sut.Decide(alice, 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        }

        var denied = sut.Decide(alice, 1, Start);

        (denied.Kind, denied.Reason, denied.Layer, denied.Remaining, denied.RetryAfter).ShouldBe((ThrottleDecisionKind.Block, ThrottleReason.RateExceeded, "ip", 0L, (TimeSpan?)TimeSpan.FromSeconds(20)));
        // "user" gave 3 of its 10, not 4: from another address alice still has 7.
        var other = sut.Decide(Keys(("ip", "203.0.113.9"), ("user", "alice")), 1, Start);
        (other.Kind, other.Layer, other.Remaining).ShouldBe((ThrottleDecisionKind.Allow, "ip", 2L));
        sut.Decide(Keys(("user", "alice")), 0, Start).Remaining.ShouldBe(6);
    }

    [Fact]
    public void Decide_ALayerWhoseKeyIsMissing_DoesNotApply_AndGlobalAlwaysDoes()
    {
        var sut = Sut("""{"name":"n","layers":[{"key":"global","limit":2,"per":"1s"},{"key":"tenant","limit":1,"per":"1s"}]}""");

        sut.Decide(Keys(), 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        sut.Decide(Keys(("tenant", "acme")), 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        var third = sut.Decide(Keys(("tenant", "globex")), 1, Start);

        (third.Kind, third.Layer).ShouldBe((ThrottleDecisionKind.Block, "global"));
    }

    [Fact]
    public void Decide_Subnet_GroupsIPv4By24AndIPv6By64()
    {
        var sut = Sut("""{"name":"n","layers":[{"key":"subnet","limit":2,"per":"1h"}]}""");

        sut.Decide(Keys(("ip", "203.0.113.1")), 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        sut.Decide(Keys(("ip", "::ffff:203.0.113.200")), 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        sut.Decide(Keys(("ip", "203.0.113.99")), 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Block);
        sut.Decide(Keys(("ip", "203.0.114.1")), 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);

        sut.Decide(Keys(("ip", "2001:db8:1:2::1")), 2, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        sut.Decide(Keys(("ip", "2001:db8:1:2:ffff::9")), 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Block);
        sut.Decide(Keys(("ip", "2001:db8:1:3::1")), 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);
    }

    [Fact]
    public void ThrottleKeys_FromPairsOrADictionary_ReadAlike()
    {
        var pairs = ThrottleKeys.Of(("ip", "198.51.100.7"), ("user", "alice"), ("ip", "203.0.113.1"), ("tenant", ""));
        var dictionary = new ThrottleKeys(new Dictionary<string, string> { ["ip"] = "198.51.100.7", ["user"] = "alice", ["tenant"] = "" });

        foreach (var keys in new[] { pairs, dictionary })
        {
            keys.TryGet("ip", out var ip).ShouldBeTrue();
            ip.ShouldBe("198.51.100.7");
            keys.TryGet("tenant", out _).ShouldBeFalse();
            keys.TryGet("account_type", out _).ShouldBeFalse();
            keys.Values.ShouldBe(new Dictionary<string, string> { ["ip"] = "198.51.100.7", ["user"] = "alice", ["tenant"] = "" }, ignoreOrder: true);
        }

        Should.Throw<ArgumentNullException>(() => ThrottleKeys.Of(("ip", null!)));
        new ThrottleKeys(null).Values.ShouldBeEmpty();
    }

    [Fact]
    public void TryGetSubnet_WritesTheNetwork()
    {
        ThrottleKeys.TryGetSubnet("203.0.113.77", out var v4).ShouldBeTrue();
        ThrottleKeys.TryGetSubnet("2001:db8:aa:bb:cc::1", out var v6).ShouldBeTrue();
        ThrottleKeys.TryGetSubnet("::ffff:10.1.2.3", out var mapped).ShouldBeTrue();

        (v4, v6, mapped).ShouldBe(("203.0.113.0/24", "2001:db8:aa:bb::/64", "10.1.2.0/24"));
        ThrottleKeys.TryGetSubnet("203.0.113", out _).ShouldBeFalse();
        ThrottleKeys.TryGetSubnet("256.1.1.1", out _).ShouldBeFalse();
        ThrottleKeys.TryGetSubnet("not-an-ip", out _).ShouldBeFalse();
    }

    [Fact]
    public void Escalation_ChallengesAfterKDenials_BlocksAfterM_AndBothLapse()
    {
        var sut = Sut("""
            {"name":"login","layers":[{"key":"ip","limit":1,"per":"1m"}],
             "escalation":{"window":"10m","challenge_after":2,"block_after":4,"block_for":"1h"}}
            """);
        var ip = Keys(("ip", "198.51.100.7"));
        sut.Decide(ip, 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        sut.Decide(ip, 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Block);
        sut.Decide(ip, 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Block);

        // Two denials: the next admitted request is a challenge, not an allow.
        var challenged = sut.Decide(ip, 1, Start.AddMinutes(1));
        (challenged.Kind, challenged.Reason).ShouldBe((ThrottleDecisionKind.Challenge, ThrottleReason.Escalated));
        sut.Decide(ip, 1, Start.AddMinutes(1)).Reason.ShouldBe(ThrottleReason.RateExceeded);
        sut.Decide(ip, 1, Start.AddMinutes(1)).Reason.ShouldBe(ThrottleReason.RateExceeded);

        // Four denials: blocked for an hour, even once its bucket has refilled.
        var blocked = sut.Decide(ip, 1, Start.AddMinutes(30));
        (blocked.Kind, blocked.Reason, blocked.RetryAfter).ShouldBe((ThrottleDecisionKind.Block, ThrottleReason.Blocked, (TimeSpan?)TimeSpan.FromMinutes(31)));
        sut.Blocks(Start.AddMinutes(30)).ShouldHaveSingleItem().ShouldBe(new ThrottleBlock("ip", "198.51.100.7", Start.AddMinutes(61), 4));

        // The block lapses; the window that counted the denials is long over: a plain allow.
        sut.Decide(ip, 1, Start.AddMinutes(61)).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        sut.Blocks(Start.AddMinutes(61)).ShouldBeEmpty();
    }

    [Fact]
    public void Unblock_LiftsABlock_ForASubnetGivenAsAnyAddressInIt()
    {
        var sut = Sut("""
            {"name":"n","layers":[{"key":"subnet","limit":1,"per":"1h"}],"escalation":{"window":"1h","block_after":1,"block_for":"1d"}}
            """);
        sut.Decide(Keys(("ip", "203.0.113.5")), 1, Start);
        sut.Decide(Keys(("ip", "203.0.113.6")), 1, Start).Reason.ShouldBe(ThrottleReason.RateExceeded);
        sut.Blocks(Start).ShouldHaveSingleItem().Key.ShouldBe("203.0.113.0/24");

        sut.Unblock("203.0.113.200").ShouldBeTrue();

        sut.Blocks(Start).ShouldBeEmpty();
        sut.Decide(Keys(("ip", "203.0.113.7")), 1, Start).Reason.ShouldBe(ThrottleReason.RateExceeded);
        sut.Unblock("198.51.100.1").ShouldBeFalse();
    }

    [Fact]
    public void Tighten_DividesTheRateOfTheNamedLayers_UntilItLapses_AndCanBeLifted()
    {
        var sut = Sut("""{"name":"n","layers":[{"key":"ip","limit":10,"per":"1m"},{"key":"user","limit":10,"per":"1m"}]}""");
        sut.Tighten(new ThrottleTightening(5, ["ip"], Start.AddMinutes(30)));
        var ip = Keys(("ip", "198.51.100.7"));

        var first = sut.Decide(ip, 1, Start);
        sut.Decide(ip, 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        var third = sut.Decide(ip, 1, Start);

        (first.Limit, first.Remaining).ShouldBe((2L, 1L));
        (third.Kind, third.RetryAfter).ShouldBe((ThrottleDecisionKind.Block, (TimeSpan?)TimeSpan.FromSeconds(30)));
        for (var i = 0; i < 10; i++)
        {
            sut.Decide(Keys(("user", "bob")), 1, Start).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        }

        // Lapsed at 30 minutes: the full rate again.
        var later = Keys(("ip", "192.0.2.1"));
        for (var i = 0; i < 10; i++)
        {
            sut.Decide(later, 1, Start.AddMinutes(30)).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        }

        sut.Tighten(new ThrottleTightening(10, null, Start.AddDays(1)));
        sut.Decide(Keys(("user", "carol")), 1, Start.AddHours(1)).Limit.ShouldBe(1);
        sut.Tighten(null);
        sut.Decide(Keys(("user", "dave")), 1, Start.AddHours(1)).Limit.ShouldBe(10);
    }

    [Fact]
    public void Shadow_DecidesAndCounts_ButEnforcesNothing()
    {
        var sut = Sut("""
            {"name":"n","shadow":true,"layers":[{"key":"ip","limit":1,"per":"1m"}],"escalation":{"window":"1h","block_after":2,"block_for":"1h"}}
            """);
        var ip = Keys(("ip", "198.51.100.7"));

        var decisions = Enumerable.Range(0, 4).Select(_ => sut.Decide(ip, 1, Start)).ToList();

        decisions.Select(d => d.Kind).ShouldBe([ThrottleDecisionKind.Allow, ThrottleDecisionKind.Block, ThrottleDecisionKind.Block, ThrottleDecisionKind.Block]);
        decisions.Select(d => d.Reason).ShouldBe([ThrottleReason.None, ThrottleReason.RateExceeded, ThrottleReason.RateExceeded, ThrottleReason.Blocked]);
        decisions.ShouldAllBe(d => d.Shadow && d.Enforced == ThrottleDecisionKind.Allow);
        sut.Blocks(Start).ShouldHaveSingleItem().Key.ShouldBe("198.51.100.7");
    }

    [Fact]
    public void KeyBound_ExpiredKeysMakeRoom_LiveOnesOverflowIntoASharedBucket_AndNoKeyIsEverOverAdmitted()
    {
        // 1,000 keys per layer is about 16 per stripe; a burst of 2 per hour per key.
        var sut = Sut("""{"name":"n","max_keys":1000,"layers":[{"key":"user","limit":2,"per":"1h"}]}""");
        var admitted = new Dictionary<string, int>();
        for (var i = 0; i < 20_000; i++)
        {
            var user = "u" + (i % 5_000);
            if (sut.Decide(Keys(("user", user)), 1, Start).Kind == ThrottleDecisionKind.Allow)
            {
                admitted[user] = admitted.GetValueOrDefault(user) + 1;
            }
        }

        admitted.Values.ShouldAllBe(n => n <= 2);
        sut.TrackedKeys().ShouldHaveSingleItem().Keys.ShouldBeLessThanOrEqualTo(1000);

        // An hour later every bucket is full again: those keys take no room and new keys are tracked one by one.
        var fresh = Enumerable.Range(0, 900).Select(i => sut.Decide(Keys(("user", "new" + i)), 1, Start.AddHours(2)).Kind).ToList();
        fresh.ShouldAllBe(k => k == ThrottleDecisionKind.Allow);
        for (var i = 0; i < 900; i++)
        {
            sut.Decide(Keys(("user", "new" + i)), 1, Start.AddHours(2)).Kind.ShouldBe(ThrottleDecisionKind.Allow);
            sut.Decide(Keys(("user", "new" + i)), 1, Start.AddHours(2)).Kind.ShouldBe(ThrottleDecisionKind.Block);
        }
    }

    [Fact]
    public void Decide_FromManyThreadsOnOneKey_NeverAdmitsMoreThanTheBurst()
    {
        var sut = Sut("""{"name":"n","layers":[{"key":"user","limit":100,"per":"1h"},{"key":"global","limit":1000,"per":"1h"}]}""");
        var admitted = 0;

        Parallel.For(0, 8, _ =>
        {
            var keys = Keys(("user", "shared"));
            for (var i = 0; i < 10_000; i++)
            {
                if (sut.Decide(keys, 1, Start).Kind == ThrottleDecisionKind.Allow)
                {
                    Interlocked.Increment(ref admitted);
                }
            }
        });

        admitted.ShouldBe(100);
    }

    [Fact]
    public void Decide_FromManyThreadsOnManyNewKeys_AdmitsEachKeyItsBurstExactly()
    {
        // Threads insert 20,000 keys at once, so stripes grow (rebuild under their lock) while others decide.
        var sut = Sut("""{"name":"n","layers":[{"key":"user","limit":2,"per":"1h"}],"max_keys":50000}""");
        var names = Enumerable.Range(0, 20_000).Select(i => "user-" + i).ToArray();
        var admitted = new int[names.Length];

        Parallel.For(0, 4, thread =>
        {
            for (var round = 0; round < 3; round++)
            {
                for (var i = 0; i < names.Length; i++)
                {
                    var key = (i + (thread * 5_003)) % names.Length;
                    if (sut.Decide([("user", names[key])], 1, Start).Kind == ThrottleDecisionKind.Allow)
                    {
                        Interlocked.Increment(ref admitted[key]);
                    }
                }
            }
        });

        admitted.ShouldAllBe(count => count == 2);
        sut.TrackedKeys()[0].Keys.ShouldBe(names.Length);
    }

    [Fact]
    public void Decide_WithKeyPairs_DecidesAsThrottleKeys_AndAllocatesNothing()
    {
        var pairs = Sut("""{"name":"n","layers":[{"key":"ip","limit":3,"per":"1m"},{"key":"subnet","limit":5,"per":"1m"}]}""");
        var objects = Sut("""{"name":"n","layers":[{"key":"ip","limit":3,"per":"1m"},{"key":"subnet","limit":5,"per":"1m"}]}""");
        var ips = new[] { "198.51.100.1", "198.51.100.2", "198.51.100.1", "203.0.113.9" };
        var sequence = Enumerable.Range(0, 40).Select(i => ips[i % ips.Length]).ToArray();
        foreach (var ip in sequence)
        {
            pairs.Decide([("ip", ip), ("user", string.Empty)], 1, Start).ShouldBe(objects.Decide(Keys(("ip", ip)), 1, Start));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var allowed = 0;
        foreach (var ip in sequence)
        {
            allowed += pairs.Decide([("ip", ip)], 1, Start.AddMinutes(1)).Kind == ThrottleDecisionKind.Allow ? 1 : 0;
        }

        (GC.GetAllocatedBytesForCurrentThread() - before).ShouldBe(0);
        allowed.ShouldBe(5 + 3); // a minute later every bucket is full again: 198.51.100.0/24 admits 5, 203.0.113.9 its 3
    }

    [Fact]
    public void Decide_OnTrackedKeys_AllocatesNothing()
    {
        var sut = Sut("""{"name":"n","layers":[{"key":"ip","limit":1000,"per":"1s"},{"key":"subnet","limit":1000,"per":"1s"},{"key":"user","limit":5,"per":"1m"}]}""");
        var keys = Enumerable.Range(0, 100).Select(i => Keys(("ip", $"198.51.100.{i}"), ("user", "u" + i))).ToArray();
        foreach (var k in keys)
        {
            sut.Decide(k, 1, Start);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var allowed = 0;
        for (var round = 0; round < 10; round++)
        {
            foreach (var k in keys)
            {
                allowed += sut.Decide(k, 1, Start.AddSeconds(round)).Kind == ThrottleDecisionKind.Allow ? 1 : 0;
            }
        }

        (GC.GetAllocatedBytesForCurrentThread() - before).ShouldBe(0);
        allowed.ShouldBe(400);
    }

    [Fact]
    public void WireEnums_KeepTheirNumbersAndNames()
    {
        ((int)ThrottleDecisionKind.Allow, (int)ThrottleDecisionKind.Challenge, (int)ThrottleDecisionKind.Block).ShouldBe((1, 2, 3));
        ((int)ThrottleReason.None, (int)ThrottleReason.RateExceeded, (int)ThrottleReason.CostExceedsBurst, (int)ThrottleReason.Escalated, (int)ThrottleReason.Blocked, (int)ThrottleReason.Unavailable).ShouldBe((0, 1, 2, 3, 4, 5));
        ((int)ThrottleFailMode.Open, (int)ThrottleFailMode.Closed).ShouldBe((1, 2));
        ThrottleNames.Decisions.Keys.ShouldBe(["allow", "challenge", "block"]);
        ThrottleNames.Reasons.Keys.ShouldBe(["none", "rate_exceeded", "cost_exceeds_burst", "escalated", "blocked", "unavailable"]);
    }
}
