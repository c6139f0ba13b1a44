using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Detection.Incidents;
using Bulwark.Ingest;
using Bulwark.Json;

namespace Bulwark.Response;

/// <summary>
/// An evidence record as the control store keeps it: written once, never changed or deleted. <see cref="Content"/> is
/// the frozen evidence as canonical JSON, exactly the text <see cref="Sha256"/> was computed over.
/// </summary>
public sealed record StoredEvidence
{
    /// <summary>Its id (<c>evd_…</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The incident it freezes.</summary>
    public required string IncidentId { get; init; }

    /// <summary>The idempotency key of the call that made it: one record per key, however often the call is repeated.</summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>Lower-case hex SHA-256 of the UTF-8 bytes of <see cref="Content"/>.</summary>
    public required string Sha256 { get; init; }

    /// <summary>How many events it holds.</summary>
    public required int Events { get; init; }

    /// <summary>How many detections it holds.</summary>
    public required int Detections { get; init; }

    /// <summary>Who made it: <c>system:playbook/&lt;name&gt;</c> or an identity.</summary>
    public required string CreatedBy { get; init; }

    /// <summary>When it was made.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The frozen evidence as canonical JSON (see <see cref="EvidenceSnapshot"/>).</summary>
    public required string Content { get; init; }

    /// <summary>The list shape: <c>{ id, incident_id, sha256, events, detections, created_by, created_at }</c>.</summary>
    /// <returns>A new document.</returns>
    public JsonObject Summary() => new()
    {
        ["id"] = Id,
        ["incident_id"] = IncidentId,
        ["sha256"] = Sha256,
        ["events"] = Events,
        ["detections"] = Detections,
        ["created_by"] = CreatedBy,
        ["created_at"] = AuditChain.FormatTime(CreatedAt),
    };
}

/// <summary>An event the incident's detections matched, with the raw snapshot it was normalized from.</summary>
/// <param name="Logged">The event with its log offset and snapshot id (none for events posted to <c>/v1/events</c>).</param>
/// <param name="SnapshotSha256">Lower-case hex SHA-256 of the snapshot's body, when the event store still has it.</param>
public sealed record EvidenceEvent(LoggedEvent Logged, string? SnapshotSha256);

/// <summary>
/// The stretch of the audit log from the incident's creation to the moment of the snapshot, pinned by the chain: the
/// first entry's previous hash and the last entry's hash. With the hash chain, those two fix every entry in between.
/// </summary>
/// <param name="FromSeq">The incident's creation entry.</param>
/// <param name="ToSeq">The last entry when the snapshot was taken.</param>
/// <param name="FromPrevHash">The previous hash of entry <paramref name="FromSeq"/>.</param>
/// <param name="ToHash">The hash of entry <paramref name="ToSeq"/>.</param>
/// <param name="Entries">The entries of the range about the incident (its own, its detections', its runs', and those carrying its correlation id), whole.</param>
/// <param name="ChainIntact">Whether every entry of the range, when it was read, hashed to its hash and linked to the one before.</param>
public sealed record EvidenceAudit(long FromSeq, long ToSeq, string FromPrevHash, string ToHash, IReadOnlyList<AuditEntry> Entries, bool ChainIntact);

/// <summary>What an evidence snapshot freezes, as the server gathered it.</summary>
public sealed record EvidenceMaterial
{
    /// <summary>The record's id (<c>evd_…</c>).</summary>
    public required string Id { get; init; }

    /// <summary>When it is taken.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Who takes it.</summary>
    public required string CreatedBy { get; init; }

    /// <summary>A note for people, if any.</summary>
    public string? Note { get; init; }

    /// <summary>The run that took it, if a run did.</summary>
    public string? RunId { get; init; }

    /// <summary>The run's playbook, if a run took it.</summary>
    public string? Playbook { get; init; }

    /// <summary>The incident as it is now.</summary>
    public required IncidentRecord Incident { get; init; }

    /// <summary>Its detections, oldest first.</summary>
    public required IReadOnlyList<DetectionRecord> Detections { get; init; }

    /// <summary>The events they matched, in log order.</summary>
    public required IReadOnlyList<EvidenceEvent> Events { get; init; }

    /// <summary>Ids the detections name that the event log did not give back (an event posted without a snapshot and since lost, or beyond the limit).</summary>
    public IReadOnlyList<string> MissingEventIds { get; init; } = [];

    /// <summary>The audit log from the incident's creation.</summary>
    public required EvidenceAudit Audit { get; init; }
}

/// <summary>
/// Freezes evidence into one document and hashes it. The document (format <see cref="Format"/>) is
/// <c>{ format, id, incident_id, created_at, created_by, note, run_id, playbook, incident, detections, events,
/// missing_event_ids, audit }</c>; its hash is SHA-256 over the UTF-8 bytes of its canonical JSON
/// (<see cref="CanonicalJson"/>: object members sorted by ordinal key, no white space). Anyone holding the document can
/// check the hash with <see cref="Verify"/>, and each audit entry in it with <see cref="AuditChain.ComputeHash"/>.
/// </summary>
public static class EvidenceSnapshot
{
    /// <summary>The format every document names.</summary>
    public const string Format = "bulwark.evidence.v1";

    /// <summary>The most events one record holds (each detection keeps at most <see cref="DetectionRecord.MaxEventIds"/> ids).</summary>
    public const int MaxEvents = 10_000;

    /// <summary>Builds the document, its canonical text and its hash.</summary>
    /// <param name="material">What to freeze.</param>
    /// <returns>The document, the canonical text that is stored and hashed, and the hash in lower-case hex.</returns>
    public static (JsonObject Content, string Canonical, string Sha256) Freeze(EvidenceMaterial material)
    {
        ArgumentNullException.ThrowIfNull(material);
        var audit = material.Audit;
        var content = new JsonObject
        {
            ["format"] = Format,
            ["id"] = material.Id,
            ["incident_id"] = material.Incident.Id,
            ["created_at"] = AuditChain.FormatTime(material.CreatedAt),
            ["created_by"] = material.CreatedBy,
            ["note"] = material.Note,
            ["run_id"] = material.RunId,
            ["playbook"] = material.Playbook,
            ["incident"] = material.Incident.ToDocument(),
            ["detections"] = new JsonArray([.. material.Detections.Select(d => (JsonNode)d.ToDocument())]),
            ["events"] = new JsonArray([.. material.Events.Select(e => (JsonNode)new JsonObject
            {
                ["offset"] = e.Logged.Offset,
                ["snapshot_id"] = e.Logged.SnapshotId,
                ["snapshot_sha256"] = e.SnapshotSha256,
                ["event"] = EventJson.ToJsonObject(e.Logged.Event),
            })]),
            ["missing_event_ids"] = new JsonArray([.. material.MissingEventIds.Select(id => (JsonNode)id)]),
            ["audit"] = new JsonObject
            {
                ["from_seq"] = audit.FromSeq,
                ["to_seq"] = audit.ToSeq,
                ["from_prev_hash"] = audit.FromPrevHash,
                ["to_hash"] = audit.ToHash,
                ["chain_intact"] = audit.ChainIntact,
                ["entries"] = new JsonArray([.. audit.Entries.Select(e => (JsonNode)AuditDocument(e))]),
            },
        };

        // Hashed as read back: the stored text parses to the same document, so a verifier recomputes the same bytes.
        var canonical = CanonicalJson.Serialize(content)!;
        return (JsonNode.Parse(canonical)!.AsObject(), canonical, Hash(canonical));
    }

    /// <summary>The hash of canonical text: lower-case hex SHA-256 of its UTF-8 bytes.</summary>
    /// <param name="canonical">The canonical JSON text.</param>
    /// <returns>The hash.</returns>
    public static string Hash(string canonical)
    {
        ArgumentNullException.ThrowIfNull(canonical);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>Whether a document (as read from an API answer) is the one a hash was computed over.</summary>
    /// <param name="content">The document.</param>
    /// <param name="sha256">The hash, lower-case hex.</param>
    /// <returns><see langword="true"/> when the document's canonical text hashes to <paramref name="sha256"/>.</returns>
    public static bool Verify(JsonObject content, string sha256) =>
        string.Equals(Hash(CanonicalJson.Serialize(content ?? throw new ArgumentNullException(nameof(content)))!), sha256, StringComparison.Ordinal);

    /// <summary>An audit entry whole, as <c>GET /v1/audit</c> shows it: its hash can be recomputed from these fields.</summary>
    /// <param name="entry">The entry.</param>
    /// <returns>A new document.</returns>
    public static JsonObject AuditDocument(AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return new JsonObject
        {
            ["seq"] = entry.Seq,
            ["time"] = AuditChain.FormatTime(entry.Time),
            ["actor"] = entry.Actor,
            ["action"] = entry.Action,
            ["target"] = entry.Target,
            ["before"] = entry.Before,
            ["after"] = entry.After,
            ["reason"] = entry.Reason,
            ["correlation_id"] = entry.CorrelationId,
            ["prev_hash"] = entry.PrevHash,
            ["hash"] = entry.Hash,
        };
    }
}
