using Bulwark.Detection.Rules;
using Bulwark.Ingest;
using Bulwark.TestUtils;
using static Bulwark.Core.Tests.Detection.Rules.RuleTestKit;

namespace Bulwark.Core.Tests.Detection.Rules;

public sealed class RuleEngineTests
{
    private const string CountRule = """
        {"name":"flood","type":"count","severity":"high","window":"1m","threshold":3,"suppress":"10m","group_by":["actor.ip"],
         "match":{"field":"event_type","equals":"password_reset"}}
        """;

    private const string AbsenceRule = """
        {"name":"no-mfa","type":"sequence","severity":"medium","within":"60s","group_by":["account_id"],
         "steps":[{"name":"changed","match":{"field":"event_type","equals":"account_changed"}},
                  {"name":"rotated","absent":true,"match":{"field":"event_type","equals":"token_rotated"}}]}
        """;

    [Fact]
    public void Count_ThresholdReachedWithinWindow_FiresOnceWithExplanation()
    {
        var detections = Run(Rule(CountRule), [Event("a", 0), Event("b", 20, account: "acct_000002"), Event("x", 25, "login_failed"), Event("c", 50, account: "acct_000003"), Event("d", 55)]);

        var detection = detections.ShouldHaveSingleItem();
        detection.Rule.ShouldBe("flood");
        detection.GroupKey.ShouldBe("203.0.113.7");
        detection.EventIds.ShouldBe(["a", "b", "c"]);
        detection.Accounts.ShouldBe(["acct_000001", "acct_000002", "acct_000003"]);
        detection.Ips.ShouldBe(["203.0.113.7"]);
        detection.FirstEventAt.ShouldBe(T0);
        detection.DetectedEventAt.ShouldBe(T0.AddSeconds(50));
        detection.Observed.ShouldBe(3);
        detection.Explanation.ShouldContain("threshold 3");
    }

    [Fact]
    public void Count_EventsSpreadBeyondWindow_DoesNotFire() =>
        Run(Rule(CountRule), [Event("a", 0), Event("b", 40), Event("c", 61), Event("d", 200, ip: "198.51.100.1")]).ShouldBeEmpty();

    [Fact]
    public void Suppression_SameGroupWithinPeriod_FiresAgainOnlyAfterIt()
    {
        var events = Enumerable.Range(0, 40).Select(i => Event($"e{i:D2}", i * 20)).ToList();

        var detections = Run(Rule(CountRule), events);

        // Fires at 40 s (3 events within 1 m), then stays quiet for 10 m, then fires again.
        detections.Select(d => d.DetectedEventAt).ShouldBe([T0.AddSeconds(40), T0.AddSeconds(640)]);
    }

    [Fact]
    public void Distinct_EnoughValues_FiresAndRepeatsDoNotCount()
    {
        var rule = Rule("""{"name":"spray","type":"distinct","severity":"medium","window":"5m","threshold":3,"group_by":["account_id"],"field":"actor.ip"}""");

        Run(rule, [Event("a", 0, ip: "1.1.1.1"), Event("b", 10, ip: "1.1.1.1"), Event("c", 20, ip: "2.2.2.2"), Event("d", 30, ip: "2.2.2.2")]).ShouldBeEmpty();
        var detection = Run(rule, [Event("a", 0, ip: "1.1.1.1"), Event("b", 10, ip: "2.2.2.2"), Event("c", 20, ip: "3.3.3.3")]).ShouldHaveSingleItem();
        detection.Ips.ShouldBe(["1.1.1.1", "2.2.2.2", "3.3.3.3"]);
        detection.Observed.ShouldBe(3);
    }

    [Fact]
    public void Distinct_LargeGroupWithRepeats_CountsValuesAsTheyEnterAndLeaveTheWindow()
    {
        // Past eight events a group counts its values in a dictionary instead of scanning: both must agree.
        var rule = Rule("""{"name":"spray","type":"distinct","severity":"medium","window":"5m","threshold":6,"group_by":["account_id"],"field":"actor.ip"}""");
        var repeats = Enumerable.Range(0, 20).Select(i => Event($"r{i:D2}", i, ip: $"198.51.100.{i % 5}")).ToList();

        Run(rule, repeats).ShouldBeEmpty();
        var detection = Run(rule, [.. repeats, Event("sixth", 30, ip: "198.51.100.9")]).ShouldHaveSingleItem();
        detection.Observed.ShouldBe(6);
        detection.EventCount.ShouldBe(21);

        // By 314 s the events of 0–14 s have left the 5 m window; 15–19 s still hold the five IPs, so one more makes six.
        Run(rule, [.. repeats, Event("late-a", 314, ip: "198.51.100.9")]).ShouldHaveSingleItem().EventCount.ShouldBe(6);

        // By 320 s every repeat has left: the two newcomers make two values, not six.
        Run(rule, [.. repeats, Event("x", 320, ip: "198.51.100.9"), Event("y", 321, ip: "198.51.100.10")]).ShouldBeEmpty();
    }

    [Fact]
    public void Distinct_OldValuesLeaveWindow_AreNotCounted()
    {
        var rule = Rule("""{"name":"spray","type":"distinct","severity":"medium","window":"5m","threshold":3,"group_by":["account_id"],"field":"actor.ip"}""");

        Run(rule, [Event("a", 0, ip: "1.1.1.1"), Event("b", 200, ip: "2.2.2.2"), Event("c", 301, ip: "3.3.3.3")]).ShouldBeEmpty();
    }

    [Fact]
    public void Sequence_StepsInOrderWithinSpan_Fires()
    {
        var rule = Rule("""
            {"name":"ato","type":"sequence","severity":"high","within":"60s","group_by":["account_id"],
             "steps":[{"name":"changed","match":{"field":"event_type","equals":"account_changed"}},
                      {"name":"rotated","match":{"field":"event_type","equals":"token_rotated"}}]}
            """);

        var detection = Run(rule, [Event("c", 0, "account_changed"), Event("r", 45, "token_rotated")]).ShouldHaveSingleItem();
        detection.EventIds.ShouldBe(["c", "r"]);
        detection.Explanation.ShouldStartWith("changed (c at ");
        Run(rule, [Event("r", 0, "token_rotated"), Event("c", 10, "account_changed")]).ShouldBeEmpty();
        Run(rule, [Event("c", 0, "account_changed"), Event("r", 61, "token_rotated")]).ShouldBeEmpty();
        Run(rule, [Event("c", 0, "account_changed"), Event("r", 30, "token_rotated", account: "acct_000009")]).ShouldBeEmpty();
    }

    [Fact]
    public void Absence_NoFollowUpWithinSpan_FiresAtDeadline()
    {
        var detection = Run(Rule(AbsenceRule), [Event("c", 0, "account_changed"), Event("other", 300, "login_failed")]).ShouldHaveSingleItem();

        detection.DetectedEventAt.ShouldBe(T0.AddSeconds(60));
        detection.Explanation.ShouldContain("then no rotated");
        Run(Rule(AbsenceRule), [Event("c", 0, "account_changed"), Event("r", 60, "token_rotated")]).ShouldBeEmpty();
    }

    [Fact]
    public void KOfN_TwoRulesForSameGroup_Fires()
    {
        var rules = new[]
        {
            Rule("""{"name":"fails","type":"count","severity":"low","window":"10m","threshold":2,"group_by":["account_id"],"match":{"field":"event_type","equals":"login_failed"}}"""),
            Rule("""{"name":"resets","type":"count","severity":"low","window":"10m","threshold":2,"group_by":["account_id"],"match":{"field":"event_type","equals":"password_reset"}}"""),
            Rule("""{"name":"both","type":"k_of_n","severity":"high","window":"30m","threshold":2,"rules":["fails","resets"]}"""),
        };

        var detections = Run(new RuleEngine(rules, new RuleEngineOptions { Lateness = TimeSpan.Zero }),
            [Event("f1", 0, "login_failed"), Event("f2", 10, "login_failed"), Event("r1", 600), Event("r2", 610)]);
        var both = detections.Where(d => d.Rule == "both").ShouldHaveSingleItem();
        both.EventIds.ShouldBe(["f1", "f2", "r1", "r2"]);
        both.FirstEventAt.ShouldBe(T0);

        var apart = Run(new RuleEngine(rules, new RuleEngineOptions { Lateness = TimeSpan.Zero }),
            [Event("f1", 0, "login_failed"), Event("f2", 10, "login_failed"), Event("r1", 3000), Event("r2", 3010)]);
        apart.ShouldNotContain(d => d.Rule == "both");
    }

    [Fact]
    public void FirstSeen_NewCountryAfterLearning_FiresAndKnownDoesNot()
    {
        var rule = Rule("""{"name":"new-country","type":"first_seen","severity":"medium","group_by":["account_id"],"field":"actor.country","learning":"1h"}""");

        var detections = Run(rule,
        [
            Event("a", 0, "session_new", country: "DE"),
            Event("b", 600, "session_new", country: "FR"),      // still learning
            Event("c", 4000, "session_new", country: "DE"),     // known
            Event("d", 4100, "session_new", country: "BR"),     // new
            Event("e", 4200, "session_new", "acct_000002", country: "NG"), // first value of another account
        ]);

        var detection = detections.ShouldHaveSingleItem();
        detection.EventIds.ShouldBe(["d"]);
        detection.Explanation.ShouldContain("'BR' is new");
    }

    [Fact]
    public void Run_ConsecutiveIds_FiresAndGapsDoNot()
    {
        var rule = Rule("""{"name":"seq","type":"run","severity":"medium","window":"5m","threshold":4,"field":{"field":"account_id","transform":"numeric_suffix"}}""");

        var detection = Run(rule, [Event("a", 0, account: "acct_000011"), Event("b", 1, account: "acct_000013"), Event("c", 2, account: "acct_000012"), Event("d", 3, account: "acct_000010")]).ShouldHaveSingleItem();
        detection.Observed.ShouldBe(4);
        detection.Accounts.ShouldBe(["acct_000011", "acct_000013", "acct_000012", "acct_000010"]);
        Run(rule, [Event("a", 0, account: "acct_000010"), Event("b", 1, account: "acct_000011"), Event("c", 2, account: "acct_000013"), Event("d", 3, account: "acct_000014")]).ShouldBeEmpty();
    }

    [Fact]
    public void Lateness_EventOlderThanNewestMinusLateness_IsCountedLateAndNotUsed()
    {
        var engine = new RuleEngine([Rule(CountRule)], new RuleEngineOptions { Lateness = TimeSpan.FromMinutes(2) });

        var detections = Run(engine, [Event("a", 300), Event("b", 301), Event("late", 100), Event("ok", 250)]);

        engine.Statistics.Late.ShouldBe(1);
        engine.Statistics.Accepted.ShouldBe(3);

        // "ok" is 51 s out of order: within the lateness, so it counts, at the newest event time evaluated.
        var detection = detections.ShouldHaveSingleItem();
        detection.EventIds.ShouldBe(["a", "b", "ok"]);
        detection.DetectedEventAt.ShouldBe(T0.AddSeconds(301));
    }

    [Fact]
    public void Arrival_ThresholdReached_FiresWithTheEventThatReachedIt()
    {
        var engine = new RuleEngine([Rule(CountRule)], new RuleEngineOptions { Lateness = TimeSpan.FromMinutes(2) });

        engine.Add(Event("a", 0)).ShouldBeEmpty();
        engine.Add(Event("b", 1)).ShouldBeEmpty();
        var detection = engine.Add(Event("c", 2)).ShouldHaveSingleItem();

        detection.DetectedEventAt.ShouldBe(T0.AddSeconds(2));
        detection.EventIds.ShouldBe(["a", "b", "c"]);
        engine.Watermark.ShouldBe(T0.AddSeconds(2) - TimeSpan.FromMinutes(2));
    }

    [Fact]
    public void Absence_WaitsForTheWatermark_SoAFollowUpWithinTheLatenessStillBreaksIt()
    {
        var engine = new RuleEngine([Rule(AbsenceRule)], new RuleEngineOptions { Lateness = TimeSpan.FromMinutes(2) });

        engine.Add(Event("c", 0, "account_changed")).ShouldBeEmpty();
        engine.Add(Event("other", 150, "login_failed")).ShouldBeEmpty(); // past the deadline (60 s), not the watermark (30 s)
        engine.Add(Event("r", 50, "token_rotated")).ShouldBeEmpty();     // 100 s out of order, inside the span
        engine.Add(Event("later", 400, "login_failed")).ShouldBeEmpty();
        engine.Flush().ShouldBeEmpty();

        var unbroken = new RuleEngine([Rule(AbsenceRule)], new RuleEngineOptions { Lateness = TimeSpan.FromMinutes(2) });
        unbroken.Add(Event("c", 0, "account_changed")).ShouldBeEmpty();
        unbroken.Add(Event("other", 150, "login_failed")).ShouldBeEmpty();
        var detection = unbroken.Add(Event("later", 181, "login_failed")).ShouldHaveSingleItem(); // watermark 61 s
        detection.DetectedEventAt.ShouldBe(T0.AddSeconds(60));
    }

    [Fact]
    public void IdleAdvance_QuietInput_ClosesAbsenceAfterWallTime()
    {
        var time = new FakeTimeProvider();
        var engine = new RuleEngine([Rule(AbsenceRule)], new RuleEngineOptions { IdleAdvance = TimeSpan.FromSeconds(5) }, time);

        engine.Add(Event("c", 0, "account_changed")).ShouldBeEmpty();
        time.Advance(TimeSpan.FromSeconds(4));
        engine.Tick().ShouldBeEmpty();
        engine.Statistics.IdleAdvances.ShouldBe(0);
        time.Advance(TimeSpan.FromSeconds(2));
        engine.Tick().ShouldBeEmpty(); // event time now 6 s past the event: the 60 s span is still open
        engine.Watermark.ShouldBe(T0.AddSeconds(6));
        time.Advance(TimeSpan.FromSeconds(55));
        var detection = engine.Tick().ShouldHaveSingleItem();
        detection.DetectedEventAt.ShouldBe(T0.AddSeconds(60));
        engine.Statistics.IdleAdvances.ShouldBe(2);
    }

    [Fact]
    public void EmitAfter_ReplayForRestart_ReturnsOnlyNewDetectionsWithSameIds()
    {
        var events = Enumerable.Range(0, 40).Select(i => Event($"e{i:D2}", i * 20)).ToList();
        var all = Run(new RuleEngine([Rule(CountRule)]), events);
        all.Count.ShouldBe(2);

        var replayed = Run(new RuleEngine([Rule(CountRule)], new RuleEngineOptions { EmitAfter = all[0].DetectedEventAt }), events);

        replayed.ShouldHaveSingleItem().Id.ShouldBe(all[1].Id);
    }

    [Fact]
    public void GroupState_WindowsPassed_IsDropped()
    {
        var engine = new RuleEngine([Rule(CountRule)], new RuleEngineOptions { Lateness = TimeSpan.Zero });
        foreach (var i in Enumerable.Range(0, 100))
        {
            engine.Add(Event($"e{i}", i, ip: $"198.51.100.{i}"));
        }

        // One event a second on a new IP with a 1 m window: groups older than the window are dropped as time moves on.
        engine.Statistics.ActiveGroups.ShouldBeLessThanOrEqualTo(61);
        engine.Add(Event("much-later", 3600, ip: "192.0.2.1"));
        engine.Flush();
        engine.Statistics.ActiveGroups.ShouldBeLessThanOrEqualTo(1);
        engine.ReplayFrom.ShouldBeNull();
    }

    [Fact]
    public void Replay_SlowOrShuffledWithinLateness_FindsTheSameDetections()
    {
        var rules = DefaultPack();
        var trace = ReadTrace("dev-a").ToList();
        var fast = Run(new RuleEngine(rules), trace);
        var baseline = fast.Select(d => d.Id).ToList();
        baseline.ShouldNotBeEmpty();

        // Shuffled: every event moved by up to 60 s of event time (half the lateness), with a fixed seed. Nothing is
        // late, and the same window rules fire for the same groups (their event times may differ by the shuffle).
        // Sequence steps are taken in arrival order, so a 60 s sequence is not compared under a 60 s shuffle.
        var random = new Random(6);
        var shuffled = trace.Select(e => (Key: e.Timestamp.AddSeconds(random.NextDouble() * 60), Event: e)).OrderBy(p => p.Key).Select(p => p.Event).ToList();
        shuffled.SequenceEqual(trace).ShouldBeFalse();
        var shuffledEngine = new RuleEngine(rules);
        var reordered = Run(shuffledEngine, shuffled);
        shuffledEngine.Statistics.Late.ShouldBe(0);
        var sequences = rules.Where(r => r.Type == RuleType.Sequence).Select(r => r.Name).ToHashSet();
        sequences.ShouldNotBeEmpty();
        reordered.Where(d => !sequences.Contains(d.Rule)).Select(d => (d.Rule, d.GroupKey)).Order()
            .ShouldBe(fast.Where(d => !sequences.Contains(d.Rule)).Select(d => (d.Rule, d.GroupKey)).Order());

        // Real time: the wall clock advances by each gap and the host ticks every second.
        var time = new FakeTimeProvider();
        var engine = new RuleEngine(rules, timeProvider: time);
        var slow = new List<RuleDetection>();
        var previous = trace[0].Timestamp;
        foreach (var e in trace)
        {
            for (var gap = e.Timestamp - previous; gap > TimeSpan.Zero; gap -= TimeSpan.FromSeconds(1))
            {
                time.Advance(gap < TimeSpan.FromSeconds(1) ? gap : TimeSpan.FromSeconds(1));
                slow.AddRange(engine.Tick());
            }

            previous = e.Timestamp;
            slow.AddRange(engine.Add(e));
        }

        slow.AddRange(engine.Flush());
        slow.Select(d => d.Id).Order().ShouldBe(baseline.Order());
        engine.Statistics.Late.ShouldBe(0);
    }

    [Fact]
    public void Memory_ManyActiveAccounts_StaysWithinOneGibPerMillion()
    {
        // A reset per account keeps one group per account in the spray rule (the pack's per-account rule that sees
        // the most traffic). Measured, not estimated: bytes retained per active group.
        var rule = DefaultPack().Single(r => r.Name == "reset-spray-per-account");
        var engine = new RuleEngine([rule], new RuleEngineOptions { Lateness = TimeSpan.Zero });
        const int Accounts = 200_000;
        var details = System.Text.Json.Nodes.JsonNode.Parse("""{"phase":"requested"}""")!.AsObject();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < Accounts; i++)
        {
            engine.Add(new NormalizedEvent($"evt_{i:D8}", "src", "internal", "password_reset", $"acct_{i:D7}", T0.AddMilliseconds(i), new EventActor(null, $"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"), Details: details));
        }

        var after = GC.GetTotalMemory(forceFullCollection: true);
        engine.Statistics.ActiveGroups.ShouldBe(Accounts);
        var perGroup = (after - before) / (double)Accounts;
        TestContext.Current.TestOutputHelper?.WriteLine($"bytes per active account group: {perGroup:F0}");
        perGroup.ShouldBeLessThan(1024 * 1024 * 1024 / 1_000_000.0);
        GC.KeepAlive(engine);
    }
}

public sealed class StringPoolTests
{
    [Fact]
    public void Share_ReturnsOneInstancePerValue_AndForgetsTheGenerationBeforeLast()
    {
        var pool = new StringPool(generation: 2);
        var first = new string("acct_1".AsSpan());

        pool.Share(first).ShouldBeSameAs(first);
        pool.Share(new string("acct_1".AsSpan())).ShouldBeSameAs(first);

        // Two more values fill the generation; "acct_1" moves to the previous one and is still shared (and promoted).
        pool.Share("acct_2");
        pool.Share("acct_3");
        pool.Share(new string("acct_1".AsSpan())).ShouldBeSameAs(first);

        // Enough new values push it out of both generations: an equal string is then a new instance of the pool.
        foreach (var i in Enumerable.Range(4, 6))
        {
            pool.Share($"acct_{i}");
        }

        var later = new string("acct_1".AsSpan());
        pool.Share(later).ShouldBeSameAs(later);
    }

    [Fact]
    public void Enter_SharesAnEventsAccountAndIpOnlyWhenAsked()
    {
        var pool = new StringPool();
        var account = pool.Share(new string("acct_1".AsSpan()));
        var e = new NormalizedEvent("e1", "src", "internal", "password_reset", new string("acct_1".AsSpan()), DateTimeOffset.UnixEpoch, new EventActor(null, "203.0.113.7"));

        pool.Enter(e);

        pool.Account.ShouldBeSameAs(account);
        pool.Ip.ShouldBe("203.0.113.7");
        pool.Enter(e with { Actor = null });
        pool.Ip.ShouldBeNull();
    }
}
