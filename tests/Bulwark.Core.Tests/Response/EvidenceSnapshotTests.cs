using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Detection.Incidents;
using Bulwark.Ingest;
using Bulwark.Json;
using Bulwark.Response;

namespace Bulwark.Core.Tests.Response;

public sealed class EvidenceSnapshotTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 2, 1, 2, 3, 456, TimeSpan.Zero);
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static EvidenceMaterial Material()
    {
        var incident = new IncidentRecord
        {
            Id = "inc_1",
            Title = "Resets from one address",
            Kind = IncidentKind.Ip,
            Status = IncidentStatus.Open,
            Severity = Severity.High,
            Confidence = 0.95,
            Accounts = ["acct_1", "acct_2"],
            Ips = ["203.0.113.9"],
            Rules = ["resets-per-ip"],
            DetectionIds = ["det_1"],
            FirstEventAt = At,
            DetectedEventAt = At.AddSeconds(1),
            LastEventAt = At.AddSeconds(1),
            CreatedAt = At.AddMinutes(1),
            UpdatedAt = At.AddMinutes(1),
        };
        var detection = new DetectionRecord
        {
            Id = "det_1",
            Origin = DetectionOrigin.Rule,
            Rule = "resets-per-ip",
            Severity = Severity.High,
            Confidence = 0.95,
            Group = "actor.ip=203.0.113.9",
            Accounts = ["acct_1", "acct_2"],
            EventIds = ["e-1", "e-2"],
            EventCount = 2,
            FirstEventAt = At,
            DetectedEventAt = At.AddSeconds(1),
            Explanation = "2 resets ≥ 2 in 1m",
            Evidence = new JsonObject { ["observed"] = 2, ["score"] = 3.2e-05 },
            IncidentId = "inc_1",
        };
        var events = new[]
        {
            new EvidenceEvent(new LoggedEvent(7, new NormalizedEvent("e-1", "ig", "instagram", "password_reset", "acct_1", At, new EventActor(Ip: "203.0.113.9")), "raw_1"), new string('a', 64)),
            new EvidenceEvent(new LoggedEvent(9, new NormalizedEvent("e-2", "api", "internal", "password_reset", "acct_2", At.AddSeconds(1), Details: new JsonObject { ["note"] = "<café & \"quotes\">" }), null), null),
        };
        var created = AuditChain.Link(new AuditDraft { Actor = "system:detection", Action = "incident.create", Target = "incident/inc_1", After = "{\"id\":\"inc_1\"}" }, new AuditHead(41, new string('1', 64)), At.AddMinutes(1));
        var run = AuditChain.Link(new AuditDraft { Actor = "system:playbook/contain", Action = "playbook.run.create", Target = "run/run_1", CorrelationId = "inc_1" }, new AuditHead(created.Seq, created.Hash), At.AddMinutes(1));
        return new EvidenceMaterial
        {
            Id = "evd_1",
            CreatedAt = At.AddMinutes(2),
            CreatedBy = "system:playbook/contain",
            Note = "before the owners are told",
            RunId = "run_1",
            Playbook = "contain",
            Incident = incident,
            Detections = [detection],
            Events = events,
            MissingEventIds = ["e-3"],
            Audit = new EvidenceAudit(created.Seq, run.Seq + 5, created.PrevHash, new string('f', 64), [created, run], true),
        };
    }

    [Fact]
    public void Freeze_HashesTheCanonicalTextOfTheDocument_WhichHoldsWhatWasGathered()
    {
        var (content, canonical, sha256) = EvidenceSnapshot.Freeze(Material());

        CanonicalJson.Serialize(content).ShouldBe(canonical);
        sha256.ShouldBe(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(canonical))));
        (content["format"]!.GetValue<string>(), content["id"]!.GetValue<string>(), content["incident_id"]!.GetValue<string>()).ShouldBe((EvidenceSnapshot.Format, "evd_1", "inc_1"));
        content["detections"]!.AsArray().Select(d => d!["id"]!.GetValue<string>()).ShouldBe(["det_1"]);
        var events = content["events"]!.AsArray();
        events.Select(e => (e!["offset"]!.GetValue<long>(), e["event"]!["id"]!.GetValue<string>(), e["snapshot_id"]?.GetValue<string>())).ShouldBe([(7L, "e-1", "raw_1"), (9L, "e-2", (string?)null)]);
        events[0]!["snapshot_sha256"]!.GetValue<string>().ShouldBe(new string('a', 64));
        content["missing_event_ids"]!.AsArray().Select(i => i!.GetValue<string>()).ShouldBe(["e-3"]);
        var audit = content["audit"]!;
        (audit["from_seq"]!.GetValue<long>(), audit["to_seq"]!.GetValue<long>(), audit["from_prev_hash"]!.GetValue<string>(), audit["chain_intact"]!.GetValue<bool>())
            .ShouldBe((42L, 48L, new string('1', 64), true));
    }

    [Fact]
    public void Verify_AcceptsTheDocumentHoweverItWasReformatted_AndRefusesAnyChange()
    {
        var (content, _, sha256) = EvidenceSnapshot.Freeze(Material());

        // As a client reads it from an API answer: indented, escaped differently, members in another order.
        var served = JsonSerializer.Serialize(content, Indented);
        var reordered = new JsonObject(JsonNode.Parse(served)!.AsObject().Reverse().Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));
        EvidenceSnapshot.Verify(reordered, sha256).ShouldBeTrue();

        var forged = reordered.DeepClone().AsObject();
        forged["events"]![0]!["event"]!["account_id"] = "acct_9";
        EvidenceSnapshot.Verify(forged, sha256).ShouldBeFalse();
        var dropped = reordered.DeepClone().AsObject();
        dropped["audit"]!["entries"]!.AsArray().RemoveAt(1);
        EvidenceSnapshot.Verify(dropped, sha256).ShouldBeFalse();
    }

    [Fact]
    public void Freeze_KeepsEachAuditEntryWhole_SoItsChainHashCanBeRecomputedFromTheRecord()
    {
        var (content, _, _) = EvidenceSnapshot.Freeze(Material());

        foreach (var node in content["audit"]!["entries"]!.AsArray())
        {
            var entry = new AuditEntry
            {
                Seq = node!["seq"]!.GetValue<long>(),
                Time = AuditChain.ParseTime(node["time"]!.GetValue<string>()),
                Actor = node["actor"]!.GetValue<string>(),
                Action = node["action"]!.GetValue<string>(),
                Target = node["target"]!.GetValue<string>(),
                Before = node["before"]?.GetValue<string>(),
                After = node["after"]?.GetValue<string>(),
                Reason = node["reason"]?.GetValue<string>(),
                CorrelationId = node["correlation_id"]?.GetValue<string>(),
                PrevHash = node["prev_hash"]!.GetValue<string>(),
                Hash = string.Empty,
            };
            AuditChain.ComputeHash(entry).ShouldBe(node["hash"]!.GetValue<string>());
        }
    }
}
