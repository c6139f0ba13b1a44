using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;

namespace Bulwark.Core.Tests.Detection.Incidents;

public sealed class IncidentRecordTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 2, 1, 2, 3, 456, TimeSpan.Zero);

    [Fact]
    public void EnumNumbers_ArePinned()
    {
        ((int)Severity.Low, (int)Severity.Medium, (int)Severity.High, (int)Severity.Critical).ShouldBe((1, 2, 3, 4));
        ((int)DetectionOrigin.Rule, (int)DetectionOrigin.Detector).ShouldBe((1, 2));
        ((int)IncidentStatus.Open, (int)IncidentStatus.Resolved, (int)IncidentStatus.Merged).ShouldBe((1, 2, 3));
        ((int)IncidentKind.Account, (int)IncidentKind.Ip, (int)IncidentKind.Campaign, (int)IncidentKind.Anomaly).ShouldBe((1, 2, 3, 4));
        ((int)IncidentVerdict.TruePositive, (int)IncidentVerdict.FalsePositive, (int)IncidentVerdict.Benign).ShouldBe((1, 2, 3));
    }

    [Fact]
    public void WireNames_CoverEveryValue()
    {
        DetectionNames.Severities.Values.ShouldBe(Enum.GetValues<Severity>(), ignoreOrder: true);
        DetectionNames.Origins.Values.ShouldBe(Enum.GetValues<DetectionOrigin>(), ignoreOrder: true);
        DetectionNames.IncidentStatuses.Values.ShouldBe(Enum.GetValues<IncidentStatus>(), ignoreOrder: true);
        DetectionNames.IncidentKinds.Values.ShouldBe(Enum.GetValues<IncidentKind>(), ignoreOrder: true);
        DetectionNames.Verdicts.Values.ShouldBe(Enum.GetValues<IncidentVerdict>(), ignoreOrder: true);
        DetectionNames.Name(DetectionNames.Verdicts, IncidentVerdict.FalsePositive).ShouldBe("false_positive");
    }

    [Fact]
    public void Detection_RoundTripsThroughItsDocument()
    {
        var detection = new DetectionRecord
        {
            Id = "det_1",
            Origin = DetectionOrigin.Detector,
            Rule = "reset-volume",
            Severity = Severity.Critical,
            Confidence = 0.875,
            Group = "platform=x",
            Accounts = ["acct_1", "acct_2"],
            Ips = ["192.0.2.1"],
            Platforms = ["x"],
            EventIds = ["evt_1", "evt_2"],
            EventCount = 2,
            FirstEventAt = At,
            DetectedEventAt = At.AddMinutes(1),
            CreatedAt = At.AddDays(1),
            Explanation = "observed 240 resets/min, expected 12 ± 3",
            Evidence = new JsonObject { ["observed"] = 240, ["expected"] = 12.0 },
            Actions = ["tighten-resets"],
            IncidentId = "inc_1",
        };

        var document = detection.ToDocument();
        var read = DetectionRecord.Read(JsonNode.Parse(document.ToJsonString())!.AsObject());

        document["origin"]!.GetValue<string>().ShouldBe("detector");
        document["severity"]!.GetValue<string>().ShouldBe("critical");
        document["first_event_at"]!.GetValue<string>().ShouldBe("2026-03-02T01:02:03.456000Z");
        read.ToDocument().ToJsonString().ShouldBe(document.ToJsonString());
        read.Accounts.ShouldBe(detection.Accounts);
        read.FirstEventAt.ShouldBe(detection.FirstEventAt);
    }

    [Fact]
    public void Incident_RoundTripsThroughItsDocument_WithItsResolution()
    {
        var incident = new IncidentRecord
        {
            Id = "inc_1",
            Title = "t",
            Kind = IncidentKind.Campaign,
            Status = IncidentStatus.Resolved,
            Severity = Severity.High,
            Confidence = 0.9,
            Accounts = ["acct_1"],
            Ips = ["192.0.2.1"],
            Rules = ["r"],
            Platforms = ["x"],
            DetectionIds = ["det_1"],
            FirstEventAt = At,
            DetectedEventAt = At.AddSeconds(1),
            LastEventAt = At.AddSeconds(2),
            CreatedAt = At.AddDays(1),
            UpdatedAt = At.AddDays(2),
            Resolution = new IncidentResolution(IncidentVerdict.Benign, "planned job", "alice", At.AddDays(2)),
        };

        var document = incident.ToDocument();
        var read = IncidentRecord.Read(JsonNode.Parse(document.ToJsonString())!.AsObject());

        document["resolution"]!["verdict"]!.GetValue<string>().ShouldBe("benign");
        read.ToDocument().ToJsonString().ShouldBe(document.ToJsonString());
        read.Resolution.ShouldBe(incident.Resolution);
        (read.Kind, read.Status, read.Severity, read.Confidence).ShouldBe((incident.Kind, incident.Status, incident.Severity, incident.Confidence));
        (read.FirstEventAt, read.DetectedEventAt, read.LastEventAt, read.CreatedAt, read.UpdatedAt)
            .ShouldBe((incident.FirstEventAt, incident.DetectedEventAt, incident.LastEventAt, incident.CreatedAt, incident.UpdatedAt));
    }

    [Fact]
    public void Read_OfSomethingElse_IsInvalidData()
    {
        Should.Throw<InvalidDataException>(() => IncidentRecord.Read(new JsonObject { ["id"] = "inc_1" }));
        Should.Throw<InvalidDataException>(() => DetectionRecord.Read(new JsonObject { ["id"] = "det_1", ["origin"] = "oracle" }));
    }
}
