using Bulwark.Audit;
using Bulwark.Detection.Incidents;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Problems;
using Bulwark.Response;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Storage;

namespace Bulwark.Server.Response;

/// <summary>
/// Freezes an incident's evidence into one write-once record (<see cref="EvidenceSnapshot"/>): the incident, its
/// detections, the events they matched with their raw snapshots' SHA-256, and the audit log from the incident's creation
/// (pinned by the chain's hashes). One record per idempotency key: a repeated call returns the record the first made.
/// Audited <c>evidence.snapshot</c>.
/// </summary>
internal sealed class EvidenceService(IControlStore store, IEventStore events, IRandomSource random, TimeProvider time)
{
    private const int Page = 1000;

    /// <summary>Takes the snapshot, or returns the one a call with <paramref name="idempotencyKey"/> took.</summary>
    /// <exception cref="ProblemException">404 when the incident does not exist; 409 when the audit log has no entry of its creation.</exception>
    public async Task<StoredEvidence> SnapshotAsync(string incidentId, string idempotencyKey, string? note, string? runId, string? playbook, ChangeContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);

        // A repeat after the first call committed (its answer lost in a crash): nothing to gather again.
        if (await store.WriteAsync(tx => tx.FindEvidence(idempotencyKey), cancellationToken).ConfigureAwait(false) is { } taken)
        {
            return taken;
        }

        var incident = await store.GetIncidentAsync(incidentId, cancellationToken).ConfigureAwait(false)
            ?? throw new ProblemException(ProblemKind.NotFound, $"Incident '{incidentId}' does not exist.");
        var detections = await DetectionsAsync(incidentId, cancellationToken).ConfigureAwait(false);
        var (found, missing) = await EventsAsync(detections, cancellationToken).ConfigureAwait(false);
        var audit = await AuditAsync(incident, detections, cancellationToken).ConfigureAwait(false);

        var material = new EvidenceMaterial
        {
            Id = RunExecutor.NewId(random, "evd_"),
            CreatedAt = AuditChain.Truncate(time.GetUtcNow()),
            CreatedBy = context.Actor,
            Note = note,
            RunId = runId,
            Playbook = playbook,
            Incident = incident,
            Detections = detections,
            Events = found,
            MissingEventIds = missing,
            Audit = audit,
        };
        var (_, canonical, sha256) = EvidenceSnapshot.Freeze(material);
        var record = new StoredEvidence
        {
            Id = material.Id,
            IncidentId = incident.Id,
            IdempotencyKey = idempotencyKey,
            Sha256 = sha256,
            Events = found.Count,
            Detections = detections.Count,
            CreatedBy = material.CreatedBy,
            CreatedAt = material.CreatedAt,
            Content = canonical,
        };
        return await store.WriteAsync(
            tx =>
            {
                if (tx.FindEvidence(idempotencyKey) is { } existing)
                {
                    return existing;
                }

                tx.InsertEvidence(record);
                tx.Append(context.Draft("evidence.snapshot", "evidence/" + record.Id, null, record.Summary()));
                return record;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The incident's detections, oldest first.</summary>
    private async Task<List<DetectionRecord>> DetectionsAsync(string incidentId, CancellationToken cancellationToken)
    {
        var detections = new List<DetectionRecord>();
        long? before = null;
        while (true)
        {
            var page = await store.ListDetectionsAsync(new DetectionQuery(IncidentId: incidentId, Before: before, Limit: Page), cancellationToken).ConfigureAwait(false);
            detections.AddRange(page.Select(p => p.Value));
            if (page.Count < Page)
            {
                break;
            }

            before = page[^1].Seq;
        }

        detections.Reverse();
        return detections;
    }

    /// <summary>
    /// The events the detections name, found by account within each detection's event-time span (detections keep event
    /// ids, which are unique per source), in log order, each with its raw snapshot's hash; and the ids not found.
    /// </summary>
    private async Task<(List<EvidenceEvent> Found, List<string> Missing)> EventsAsync(IReadOnlyList<DetectionRecord> detections, CancellationToken cancellationToken)
    {
        var found = new SortedDictionary<long, LoggedEvent>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var detection in detections)
        {
            var wanted = detection.EventIds.ToHashSet(StringComparer.Ordinal);
            wanted.ExceptWith(seen);
            foreach (var account in detection.Accounts)
            {
                var after = 0L;
                while (wanted.Count > 0 && found.Count < EvidenceSnapshot.MaxEvents)
                {
                    var page = await events.QueryEventsAsync(
                        new EventQuery(Account: account, Since: detection.FirstEventAt, Until: detection.DetectedEventAt.AddMilliseconds(1), AfterOffset: after, Limit: Page),
                        cancellationToken).ConfigureAwait(false);
                    foreach (var logged in page.Where(e => detection.EventIds.Contains(e.Event.Id, StringComparer.Ordinal)))
                    {
                        found.TryAdd(logged.Offset, logged);
                        seen.Add(logged.Event.Id);
                        wanted.Remove(logged.Event.Id);
                    }

                    if (page.Count < Page)
                    {
                        break;
                    }

                    after = page[^1].Offset;
                }
            }
        }

        var hashes = new Dictionary<string, string?>(StringComparer.Ordinal);
        var evidence = new List<EvidenceEvent>(found.Count);
        foreach (var logged in found.Values.Take(EvidenceSnapshot.MaxEvents))
        {
            string? sha256 = null;
            if (logged.SnapshotId is { } snapshotId && !hashes.TryGetValue(snapshotId, out sha256))
            {
                sha256 = await events.GetSnapshotAsync(snapshotId, cancellationToken).ConfigureAwait(false) is { } snapshot
                    ? Convert.ToHexStringLower(snapshot.Sha256)
                    : null;
                hashes[snapshotId] = sha256;
            }

            evidence.Add(new EvidenceEvent(logged, sha256));
        }

        var missing = detections.SelectMany(d => d.EventIds).Where(id => !seen.Contains(id)).Distinct(StringComparer.Ordinal).ToList();
        return (evidence, missing);
    }

    /// <summary>
    /// The audit log from the incident's creation (with the detection that opened it) to the head: its anchors, whether the chain holds over it, and
    /// the entries about the incident (its own, its detections', its runs', and those under its correlation id).
    /// </summary>
    private async Task<EvidenceAudit> AuditAsync(IncidentRecord incident, IReadOnlyList<DetectionRecord> detections, CancellationToken cancellationToken)
    {
        // The incident is created in the transaction of the detection that opened it, whose entry comes first.
        var opening = detections.Where(d => d.CreatedAt <= incident.CreatedAt).Select(d => "detection/" + d.Id).ToList();
        var created = await store.WriteAsync(
            tx => opening.Select(target => tx.FindLastAudit(target, "detection.create"))
                .Append(tx.FindLastAudit("incident/" + incident.Id, "incident.create") ?? throw new ProblemException(ProblemKind.Conflict, $"The audit log has no entry of incident '{incident.Id}' being created."))
                .OfType<AuditEntry>()
                .MinBy(e => e.Seq)!,
            cancellationToken).ConfigureAwait(false);
        var head = await store.GetRecordedAuditHeadAsync(cancellationToken).ConfigureAwait(false);
        var runs = await store.ListRunsAsync(new RunQuery(IncidentId: incident.Id, Limit: Page), cancellationToken).ConfigureAwait(false);
        var targets = new HashSet<string>(StringComparer.Ordinal) { "incident/" + incident.Id };
        targets.UnionWith(detections.Select(d => "detection/" + d.Id));
        targets.UnionWith(runs.Select(r => "run/" + r.Value.Id));

        var entries = new List<AuditEntry>();
        var intact = true;
        var expected = (Seq: created.Seq, PrevHash: created.PrevHash);
        var last = created;
        while (true)
        {
            var page = await store.ReadAuditAsync(expected.Seq - 1, Page, cancellationToken).ConfigureAwait(false);
            var read = page.TakeWhile(e => e.Seq <= head.Seq).ToList();
            foreach (var entry in read)
            {
                // Without gaps, each entry hashing to its hash and naming the one before: what the chain promises.
                intact &= entry.Seq == expected.Seq && entry.PrevHash == expected.PrevHash && AuditChain.ComputeHash(entry) == entry.Hash;
                expected = (entry.Seq + 1, entry.Hash);
                last = entry;
                if (targets.Contains(entry.Target) || entry.CorrelationId == incident.Id)
                {
                    entries.Add(entry);
                }
            }

            if (read.Count == 0 || last.Seq >= head.Seq)
            {
                break;
            }
        }

        intact &= last.Seq == head.Seq && last.Hash == head.Hash;
        return new EvidenceAudit(created.Seq, last.Seq, created.PrevHash, last.Hash, entries, intact);
    }
}
