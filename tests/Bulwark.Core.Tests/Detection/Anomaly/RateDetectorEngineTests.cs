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

        var detection = fired.ShouldHaveSingleItem();
        detection.Origin.ShouldBe(DetectionOrigin.Detector);
        detection.Rule.ShouldBe("reset-volume");
        detection.Group.ShouldBe("platform=x");
        detection.EventCount.ShouldBe(30);
        detection.Accounts.Count.ShouldBe(30);
        detection.FirstEventAt.ShouldBe(T0 + TimeSpan.FromMinutes(40));
        detection.DetectedEventAt.ShouldBe(T0 + TimeSpan.FromMinutes(41));
        detection.Evidence["observed"]!.GetValue<int>().ShouldBe(30);
        detection.Evidence["expected"]!.GetValue<double>().ShouldBeLessThan(1);
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
        DetectionRecord Run()
        {
            var engine = new RateDetectorEngine([Resets], TimeSpan.Zero);
            var fired = new List<DetectionRecord>();
            fired.AddRange(engine.Add(Event("start", TimeSpan.Zero, type: "session_new")));
            for (var i = 0; i < 25; i++)
            {
                fired.AddRange(engine.Add(Event($"w-{i}", TimeSpan.FromMinutes(20) + TimeSpan.FromSeconds(i), platform: "internal", account: $"acct_{i}")));
            }

            fired.AddRange(engine.Flush());
            return fired.ShouldHaveSingleItem();
        }

        var first = Run();
        first.Group.ShouldBe("platform=internal");
        Run().Id.ShouldBe(first.Id);
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
