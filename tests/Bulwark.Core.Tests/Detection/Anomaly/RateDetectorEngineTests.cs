using System.Text.Json.Nodes;
using Bulwark.Detection.Anomaly;
using Bulwark.Detection.Incidents;
using Bulwark.Ingest;

namespace Bulwark.Core.Tests.Detection.Anomaly;

public sealed class RateDetectorEngineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 0, 0, 0, TimeSpan.Zero);

    private static DetectorDefinition Detector(string json)
    {
        var read = DetectorKind.Instance.Read(JsonNode.Parse(json)!.AsObject());
        read.Errors.ShouldBeEmpty(string.Join("; ", read.Errors));
        return read.Value!;
    }

    private static readonly DetectorDefinition Resets = Detector("""
        {"name":"reset-volume","severity":"high","confidence":0.7,"group_by":["platform"],"bucket":"1m","min_count":20,"warm_up":10,
         "match":{"field":"event_type","equals":"password_reset"}}
        """);

    private static NormalizedEvent Event(string id, TimeSpan at, string type = "password_reset", string platform = "x", string account = "acct_1") =>
        new(id, "src", platform, type, account, T0 + at, new EventActor(account, "203.0.113.1"));

    [Fact]
    public void Kind_ReadsEveryField_AndReportsEachErrorAtItsPath()
    {
        Resets.Bucket.ShouldBe(TimeSpan.FromMinutes(1));
        Resets.MinCount.ShouldBe(20);
        Resets.Severity.ShouldBe(Severity.High);
        Resets.Model.ShouldBe(DetectorModel.Ewma);
        DetectorKind.Instance.ToDocument(Resets)["kind"]!.GetValue<string>().ShouldBe("Detector");

        var bad = DetectorKind.Instance.Read(JsonNode.Parse("""{"name":"b","severity":"loud","model":"oracle","min_count":2.5,"match":{"field":"event_type","regex":"("}}""")!.AsObject());

        bad.Value.ShouldBeNull();
        bad.Errors.Select(e => e.Path).ShouldBe(["/severity", "/model", "/match/regex", "/min_count"], ignoreOrder: true);
        ((int)DetectorModel.Ewma, (int)DetectorModel.Seasonal).ShouldBe((1, 2));
    }

    [Fact]
    public void ABurstAfterQuiet_Fires_WithTheBucketsAccounts_AndExpectedAgainstObserved()
    {
        var engine = new RateDetectorEngine([Resets], TimeSpan.Zero);
        var fired = new List<DetectionRecord>();
        for (var minute = 0; minute < 30; minute++)
        {
            fired.AddRange(engine.Add(Event($"b-{minute}", TimeSpan.FromMinutes(minute))));
        }

        for (var i = 0; i < 30; i++)
        {
            fired.AddRange(engine.Add(Event($"w-{i}", TimeSpan.FromMinutes(40) + TimeSpan.FromSeconds(i), account: $"acct_{i}")));
        }

        fired.AddRange(engine.Add(Event("later", TimeSpan.FromMinutes(42), type: "session_new")));

        // The bucket fires while it fills, at the event that takes its count to an anomalous level (the minimum
        // count, 20, against a baseline of one a minute), and again when it closes with everything it held.
        fired.Count.ShouldBe(2);
        var detection = fired[0];
        detection.Origin.ShouldBe(DetectionOrigin.Detector);
        detection.Rule.ShouldBe("reset-volume");
        detection.Group.ShouldBe("platform=x");
        detection.EventCount.ShouldBe(20);
        detection.DetectedEventAt.ShouldBe(T0 + TimeSpan.FromMinutes(40) + TimeSpan.FromSeconds(19));
        detection.Evidence["bucket_complete"]!.GetValue<bool>().ShouldBeFalse();
        detection.Explanation.ShouldContain("so far");

        var closed = fired[1];
        closed.Id.ShouldNotBe(detection.Id);
        closed.EventCount.ShouldBe(30);
        closed.Accounts.Count.ShouldBe(30);
        closed.FirstEventAt.ShouldBe(T0 + TimeSpan.FromMinutes(40));
        closed.DetectedEventAt.ShouldBe(T0 + TimeSpan.FromMinutes(41));
        closed.Evidence["observed"]!.GetValue<int>().ShouldBe(30);
        closed.Evidence["expected"]!.GetValue<double>().ShouldBeLessThan(1);
        closed.Evidence["bucket_complete"]!.GetValue<bool>().ShouldBeTrue();
    }

    [Fact]
    public void ABucketThatFiresWhileFilling_AndGetsNothingMore_FiresOnce()
    {
        var engine = new RateDetectorEngine([Resets], TimeSpan.Zero);
        var fired = new List<DetectionRecord>();
        for (var minute = 0; minute < 30; minute++)
        {
            fired.AddRange(engine.Add(Event($"b-{minute}", TimeSpan.FromMinutes(minute))));
        }

        for (var i = 0; i < 20; i++)
        {
            fired.AddRange(engine.Add(Event($"w-{i}", TimeSpan.FromMinutes(40) + TimeSpan.FromSeconds(i), account: $"acct_{i}")));
        }

        fired.ShouldHaveSingleItem().EventCount.ShouldBe(20);
        engine.Add(Event("later", TimeSpan.FromMinutes(42), type: "session_new")).ShouldBeEmpty();
        engine.Flush().ShouldBeEmpty();
    }

    [Fact]
    public void EveryBucketOfAnEpisodeFires_ButANewEpisodeWaitsOutTheSuppression()
    {
        var engine = new RateDetectorEngine([Resets], TimeSpan.Zero); // suppress: the default 30 m
        var fired = new List<DetectionRecord>();
        void Burst(int minute, string tag, int size = 40)
        {
            for (var i = 0; i < size; i++)
            {
                fired.AddRange(engine.Add(Event($"{tag}-{minute}-{i}", TimeSpan.FromMinutes(minute) + (TimeSpan.FromSeconds(50) * i / size), account: $"acct_{tag}_{minute}_{i}")));
            }
        }

        for (var minute = 0; minute < 30; minute++)
        {
            fired.AddRange(engine.Add(Event($"b-{minute}", TimeSpan.FromMinutes(minute))));
        }

        Burst(40, "a");
        Burst(41, "a");                                   // the same episode: fires again, with its own accounts
        fired.AddRange(engine.Add(Event("gap", TimeSpan.FromMinutes(43), type: "session_new")));
        Burst(50, "b", size: 400);                        // a new episode 10 minutes later, ten times as large: suppressed
        fired.AddRange(engine.Add(Event("gap2", TimeSpan.FromMinutes(52), type: "session_new")));
        var firstEpisode = fired.Select(d => d.Evidence["bucket_start"]!.GetValue<string>()).Distinct().ToList();

        firstEpisode.Count.ShouldBe(2);
        fired.SelectMany(d => d.Accounts).ShouldContain("acct_a_41_39");
        fired.SelectMany(d => d.Accounts).ShouldNotContain(a => a.StartsWith("acct_b_", StringComparison.Ordinal));

        Burst(75, "c", size: 4000);                       // after the suppression: a new episode fires (the model has learnt the others)
        fired.SelectMany(d => d.Accounts).ShouldContain(a => a.StartsWith("acct_c_", StringComparison.Ordinal));
    }

    [Fact]
    public void SteadyVolume_AndSmallBursts_StayQuiet()
    {
        var engine = new RateDetectorEngine([Resets], TimeSpan.Zero);
        var fired = new List<DetectionRecord>();
        for (var minute = 0; minute < 120; minute++)
        {
            var count = minute == 60 ? 15 : 1;
            for (var i = 0; i < count; i++)
            {
                fired.AddRange(engine.Add(Event($"e-{minute}-{i}", TimeSpan.FromMinutes(minute) + TimeSpan.FromSeconds(i))));
            }
        }

        fired.AddRange(engine.Flush());
        fired.ShouldBeEmpty();
    }

    [Fact]
    public void AKeySilentUntilItsBurst_IsMeasuredAgainstSilence_AndSameBurstReplayed_GivesTheSameId()
    {
        List<DetectionRecord> Run()
        {
            var engine = new RateDetectorEngine([Resets], TimeSpan.Zero);
            var fired = new List<DetectionRecord>();
            fired.AddRange(engine.Add(Event("start", TimeSpan.Zero, type: "session_new")));
            for (var i = 0; i < 25; i++)
            {
                fired.AddRange(engine.Add(Event($"w-{i}", TimeSpan.FromMinutes(20) + TimeSpan.FromSeconds(i), platform: "internal", account: $"acct_{i}")));
            }

            fired.AddRange(engine.Flush());
            return fired;
        }

        // Fired at the 20th event of the burst, then completed with all 25 when the bucket closed.
        var first = Run();
        first.Select(d => d.EventCount).ShouldBe([20, 25]);
        first.ShouldAllBe(d => d.Group == "platform=internal");
        Run().Select(d => d.Id).ShouldBe(first.Select(d => d.Id));
    }

    [Fact]
    public void AnEventForABucketAlreadyScored_IsCountedLate()
    {
        var engine = new RateDetectorEngine([Resets], TimeSpan.Zero);
        engine.Add(Event("a", TimeSpan.FromMinutes(5)));
        engine.Add(Event("b", TimeSpan.FromMinutes(6)));

        engine.Add(Event("old", TimeSpan.FromMinutes(1)));

        engine.Late.ShouldBe(1);
        engine.ActiveKeys.ShouldBe(1);
    }
}
