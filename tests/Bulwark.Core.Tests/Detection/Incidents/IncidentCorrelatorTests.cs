using Bulwark.Detection.Incidents;

namespace Bulwark.Core.Tests.Detection.Incidents;

public sealed class IncidentCorrelatorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 1, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Wall = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    private static DetectionRecord Rule(
        string id,
        string rule,
        string[] accounts,
        string[] ips,
        TimeSpan at,
        Severity severity = Severity.Medium,
        double confidence = 0.6,
        string platform = "instagram",
        string? group = null) => new()
        {
            Id = id,
            Origin = DetectionOrigin.Rule,
            Rule = rule,
            Severity = severity,
            Confidence = confidence,
            Group = group ?? (accounts.Length > 0 ? "account_id=" + accounts[0] : "ip=" + ips[0]),
            Accounts = accounts,
            Ips = ips,
            Platforms = [platform],
            EventIds = ["evt_" + id],
            EventCount = 1,
            FirstEventAt = T0 + at - TimeSpan.FromSeconds(30),
            DetectedEventAt = T0 + at,
            Explanation = "test",
        };

    [Fact]
    public void FirstDetection_OpensAnAccountIncident_WithItsFigures()
    {
        var correlator = new IncidentCorrelator();
        var detection = Rule("det_1", "email-then-token", ["acct_1"], ["203.0.113.7"], TimeSpan.Zero, Severity.High, 0.7);

        var result = correlator.Add(detection, Wall);

        result.Created.ShouldBeTrue();
        result.Merged.ShouldBeEmpty();
        var incident = result.Incident;
        incident.Id.ShouldBe(IncidentCorrelator.IncidentIdFor("det_1"));
        incident.Id.ShouldStartWith("inc_");
        incident.Kind.ShouldBe(IncidentKind.Account);
        incident.Status.ShouldBe(IncidentStatus.Open);
        incident.Severity.ShouldBe(Severity.High);
        incident.Confidence.ShouldBe(0.7, 1e-9);
        incident.Accounts.ShouldBe(["acct_1"]);
        incident.Ips.ShouldBe(["203.0.113.7"]);
        incident.Rules.ShouldBe(["email-then-token"]);
        incident.DetectionIds.ShouldBe(["det_1"]);
        incident.FirstEventAt.ShouldBe(detection.FirstEventAt);
        incident.DetectedEventAt.ShouldBe(detection.DetectedEventAt);
        incident.CreatedAt.ShouldBe(Wall);
        incident.Title.ShouldBe("email-then-token on acct_1");
    }

    [Fact]
    public void SecondRuleOnTheSameAccount_WithinTheWindow_Joins_MaxSeverity_CombinedConfidence()
    {
        var correlator = new IncidentCorrelator();
        var first = correlator.Add(Rule("det_1", "resets-from-many-ips", ["acct_1"], ["198.51.100.1"], TimeSpan.Zero, Severity.Medium, 0.6), Wall);

        var second = correlator.Add(Rule("det_2", "email-then-token", ["acct_1"], ["198.51.100.2"], TimeSpan.FromMinutes(10), Severity.High, 0.5), Wall.AddSeconds(1));

        second.Created.ShouldBeFalse();
        second.Incident.Id.ShouldBe(first.Incident.Id);
        second.Incident.Severity.ShouldBe(Severity.High);
        second.Incident.Confidence.ShouldBe(1 - (0.4 * 0.5), 1e-9);
        second.Incident.Rules.ShouldBe(["email-then-token", "resets-from-many-ips"]);
        second.Incident.Ips.ShouldBe(["198.51.100.1", "198.51.100.2"]);
        second.Incident.DetectionIds.ShouldBe(["det_1", "det_2"]);
        second.Incident.DetectedEventAt.ShouldBe(first.Incident.DetectedEventAt);
        second.Incident.LastEventAt.ShouldBe(T0 + TimeSpan.FromMinutes(10));
        second.Incident.UpdatedAt.ShouldBe(Wall.AddSeconds(1));
    }

    [Fact]
    public void SameRuleTwice_CountsItsConfidenceOnce()
    {
        var correlator = new IncidentCorrelator();
        correlator.Add(Rule("det_1", "r", ["acct_1"], ["198.51.100.1"], TimeSpan.Zero, confidence: 0.6), Wall);

        var again = correlator.Add(Rule("det_2", "r", ["acct_1"], ["198.51.100.1"], TimeSpan.FromMinutes(5), confidence: 0.5), Wall);

        again.Incident.Confidence.ShouldBe(0.6, 1e-9);
    }

    [Fact]
    public void DetectionAfterTheMergeWindow_OpensANewIncident()
    {
        var correlator = new IncidentCorrelator(new IncidentCorrelatorOptions { MergeWindow = TimeSpan.FromMinutes(30) });
        var first = correlator.Add(Rule("det_1", "r", ["acct_1"], ["198.51.100.1"], TimeSpan.Zero), Wall);

        // Its first event is 30 s before it fired: 31 minutes after the first detection puts it 30.5 minutes later.
        var late = correlator.Add(Rule("det_2", "r", ["acct_1"], ["198.51.100.1"], TimeSpan.FromMinutes(31)), Wall);
        var inside = correlator.Add(Rule("det_3", "r", ["acct_1"], ["198.51.100.1"], TimeSpan.FromMinutes(60)), Wall);

        late.Created.ShouldBeTrue();
        late.Incident.Id.ShouldNotBe(first.Incident.Id);
        inside.Created.ShouldBeFalse();
        inside.Incident.Id.ShouldBe(late.Incident.Id);
    }

    [Fact]
    public void DetectionSharingAnIpWithTwoAccountIncidents_MergesThemIntoTheOldest_AsACampaign()
    {
        var correlator = new IncidentCorrelator();
        var older = correlator.Add(Rule("det_1", "resets-from-many-ips", ["acct_1"], ["192.0.2.10"], TimeSpan.Zero), Wall);
        var newer = correlator.Add(Rule("det_2", "resets-from-many-ips", ["acct_2"], ["192.0.2.20"], TimeSpan.FromMinutes(1)), Wall.AddSeconds(1));

        var linking = correlator.Add(
            Rule("det_3", "failed-logins-many-accounts", ["acct_3"], ["192.0.2.10", "192.0.2.20"], TimeSpan.FromMinutes(2), Severity.High, group: "ip=192.0.2.10"),
            Wall.AddSeconds(2));

        linking.Created.ShouldBeFalse();
        linking.Incident.Id.ShouldBe(older.Incident.Id);
        linking.Incident.Kind.ShouldBe(IncidentKind.Campaign);
        linking.Incident.Accounts.ShouldBe(["acct_1", "acct_2", "acct_3"]);
        linking.Incident.Ips.ShouldBe(["192.0.2.10", "192.0.2.20"]);
        linking.Incident.DetectionIds.ShouldBe(["det_1", "det_2", "det_3"]);
        linking.Incident.Severity.ShouldBe(Severity.High);
        linking.Incident.Title.ShouldBe("Campaign: 3 accounts, 2 IPs (failed-logins-many-accounts, resets-from-many-ips)");
        var merged = linking.Merged.ShouldHaveSingleItem();
        merged.Id.ShouldBe(newer.Incident.Id);
        merged.Status.ShouldBe(IncidentStatus.Merged);
        merged.MergedInto.ShouldBe(older.Incident.Id);
        correlator.OpenCount.ShouldBe(1);

        // The merged incident's entities now lead to the survivor.
        correlator.Add(Rule("det_4", "r", ["acct_2"], ["198.51.100.99"], TimeSpan.FromMinutes(3)), Wall).Incident.Id.ShouldBe(older.Incident.Id);
    }

    [Fact]
    public void SameGroupValue_LinksDetectionsWithoutSharedAccounts()
    {
        var correlator = new IncidentCorrelator();
        var first = correlator.Add(Rule("det_1", "plus-address-enumeration", ["acct_1"], ["192.0.2.1"], TimeSpan.Zero, group: "mailbox_base=bob@gmail.com"), Wall);

        var second = correlator.Add(Rule("det_2", "plus-address-enumeration", ["acct_9"], ["192.0.2.9"], TimeSpan.FromMinutes(5), group: "mailbox_base=bob@gmail.com"), Wall);

        second.Incident.Id.ShouldBe(first.Incident.Id);
        second.Incident.Kind.ShouldBe(IncidentKind.Campaign);
    }

    [Fact]
    public void PlatformsThatAgree_HalveTheRemainingDoubt()
    {
        var correlator = new IncidentCorrelator();
        correlator.Add(Rule("det_1", "policy-flags", ["acct_1"], [], TimeSpan.Zero, confidence: 0.6, platform: "instagram"), Wall);

        var second = correlator.Add(Rule("det_2", "policy-flags", ["acct_1"], [], TimeSpan.FromMinutes(1), confidence: 0.6, platform: "x"), Wall);

        second.Incident.Platforms.ShouldBe(["instagram", "x"]);
        second.Incident.Confidence.ShouldBe(1 - (0.4 / 2), 1e-9);
    }

    [Fact]
    public void DetectorAnomalies_DoNotLinkByTheirManyAccounts_ButJoinTheSameDetectorAndGroup()
    {
        var correlator = new IncidentCorrelator();
        var account = correlator.Add(Rule("det_1", "r", ["acct_1"], ["192.0.2.1"], TimeSpan.Zero), Wall);
        DetectionRecord Anomaly(string id, TimeSpan at) => Rule(id, "reset-volume", ["acct_1", "acct_2", "acct_3"], [], at, Severity.High, 0.8, group: "platform=instagram") with
        {
            Origin = DetectionOrigin.Detector,
        };

        var first = correlator.Add(Anomaly("det_2", TimeSpan.FromMinutes(1)), Wall);
        var second = correlator.Add(Anomaly("det_3", TimeSpan.FromMinutes(2)), Wall);

        first.Created.ShouldBeTrue();
        first.Incident.Id.ShouldNotBe(account.Incident.Id);
        first.Incident.Kind.ShouldBe(IncidentKind.Anomaly);
        first.Incident.Title.ShouldBe("reset-volume: platform=instagram");
        second.Incident.Id.ShouldBe(first.Incident.Id);
        second.Incident.Accounts.ShouldBe(["acct_1", "acct_2", "acct_3"]);
    }

    [Fact]
    public void IpOnlyDetections_MakeAnIpIncident()
    {
        var correlator = new IncidentCorrelator();

        var result = correlator.Add(Rule("det_1", "resets-per-ip", [], ["192.0.2.7", "192.0.2.8"], TimeSpan.Zero, group: "ip=192.0.2.7"), Wall);

        result.Incident.Kind.ShouldBe(IncidentKind.Ip);
        result.Incident.Title.ShouldBe("resets-per-ip from 192.0.2.7 and 1 more IPs");
    }

    [Fact]
    public void Restore_ThenADetectionOnItsEntities_JoinsTheRestoredIncident()
    {
        var before = new IncidentCorrelator();
        var first = before.Add(Rule("det_1", "r", ["acct_1"], ["192.0.2.1"], TimeSpan.Zero, confidence: 0.6), Wall);
        var resolved = before.Add(Rule("det_2", "r", ["acct_2"], ["192.0.2.2"], TimeSpan.Zero), Wall).Incident with { Status = IncidentStatus.Resolved };

        var after = new IncidentCorrelator();
        after.Restore([first.Incident, resolved], [Rule("det_1", "r", ["acct_1"], ["192.0.2.1"], TimeSpan.Zero, confidence: 0.6) with { IncidentId = first.Incident.Id }]);
        var joined = after.Add(Rule("det_3", "other", [], ["192.0.2.1"], TimeSpan.FromMinutes(5), confidence: 0.5, group: "ip=192.0.2.1"), Wall);
        var fresh = after.Add(Rule("det_4", "r", ["acct_2"], ["192.0.2.2"], TimeSpan.FromMinutes(5)), Wall);

        after.OpenCount.ShouldBe(2);
        joined.Incident.Id.ShouldBe(first.Incident.Id);
        joined.Incident.Confidence.ShouldBe(1 - (0.4 * 0.5), 1e-9);
        fresh.Created.ShouldBeTrue();
        fresh.Incident.Id.ShouldNotBe(resolved.Id);
    }

    [Fact]
    public void Close_TakesAnIncidentOutOfCorrelation()
    {
        var correlator = new IncidentCorrelator();
        var first = correlator.Add(Rule("det_1", "r", ["acct_1"], ["192.0.2.1"], TimeSpan.Zero), Wall);

        correlator.Close(first.Incident.Id);
        var next = correlator.Add(Rule("det_2", "r", ["acct_1"], ["192.0.2.1"], TimeSpan.FromMinutes(1)), Wall);

        next.Created.ShouldBeTrue();
        correlator.OpenCount.ShouldBe(1);
    }

    [Fact]
    public void OldIncidents_AreSweptAsEventTimeMovesOn()
    {
        var correlator = new IncidentCorrelator(new IncidentCorrelatorOptions { MergeWindow = TimeSpan.FromMinutes(10) });
        for (var i = 0; i < 5; i++)
        {
            correlator.Add(Rule("det_" + i, "r", ["acct_" + i], ["192.0.2." + i], TimeSpan.FromMinutes(i)), Wall);
        }

        correlator.Add(Rule("det_late", "r", ["acct_99"], ["192.0.2.99"], TimeSpan.FromHours(2)), Wall);

        correlator.OpenCount.ShouldBe(1);
    }
}
