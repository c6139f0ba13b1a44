using Bulwark.Ingest;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>
/// The writes of one group commit: every caller's work runs through it, inside the writer's transaction and the
/// caller's savepoint, with the writer's prepared statements. It tracks the greatest snapshot sequence number and event
/// offset written so far, which the store publishes once the transaction has committed.
/// </summary>
internal sealed class SqliteEventWriter(SqliteCommandCache commands, SqliteTransaction transaction, long lastSeq, long lastOffset)
{
    private const string FindDeliverySql =
        "SELECT snapshot_id FROM delivery_ids WHERE source = $source AND delivery_id = $delivery AND expires_at > $now";

    private const string InsertSnapshotSql = """
        INSERT INTO raw_snapshots (id, source, received_at, headers, body, sha256, content_type, verification, delivery_id)
        VALUES ($id, $source, $received, $headers, $body, $sha256, $type, $verification, $delivery)
        """;

    // An expired row is replaced: the id now points at the new snapshot for a new retention.
    private const string PutDeliverySql = """
        INSERT INTO delivery_ids (source, delivery_id, snapshot_id, expires_at) VALUES ($source, $delivery, $snapshot, $expires)
        ON CONFLICT (source, delivery_id) DO UPDATE SET snapshot_id = excluded.snapshot_id, expires_at = excluded.expires_at
        """;

    // Checking first, rather than leaving it to OR IGNORE alone, keeps offsets dense: SQLite allocates an AUTOINCREMENT
    // value before it finds the conflict, so every ignored duplicate would burn an offset.
    private const string InsertEventSql = """
        INSERT OR IGNORE INTO events (source, id, platform, event_type, account_id, ts, received_at, snapshot_id, doc)
        SELECT $source, $id, $platform, $type, $account, $ts, $received, $snapshot, $doc
        WHERE NOT EXISTS (SELECT 1 FROM events WHERE source = $source AND id = $id)
        """;

    private static readonly string OpenQuarantineSql = $"""
        INSERT INTO quarantine ({SqliteEventRows.QuarantineColumns})
        VALUES ($id, $snapshot, $source, $reason, $issues, $now, $now, 1, {(int)QuarantineStatus.Open})
        ON CONFLICT (snapshot_id) DO UPDATE SET reason = excluded.reason, issues = excluded.issues, updated_at = excluded.updated_at,
            attempts = quarantine.attempts + 1, status = excluded.status
        RETURNING {SqliteEventRows.QuarantineColumns}
        """;

    private static readonly string ResolveQuarantineSql = $"""
        UPDATE quarantine SET status = {(int)QuarantineStatus.Resolved}, updated_at = $now, attempts = attempts + 1
        WHERE snapshot_id = $snapshot AND status = {(int)QuarantineStatus.Open}
        RETURNING {SqliteEventRows.QuarantineColumns}
        """;

    private const string FindQuarantineSql = $"SELECT {SqliteEventRows.QuarantineColumns} FROM quarantine WHERE snapshot_id = $snapshot";

    private const string AdvanceOffsetSql = """
        INSERT INTO consumer_offsets (consumer, "offset", updated_at) VALUES ($consumer, $offset, $now)
        ON CONFLICT (consumer) DO UPDATE SET "offset" = excluded."offset", updated_at = excluded.updated_at
        WHERE excluded."offset" > consumer_offsets."offset"
        """;

    private const string SetOffsetSql = """
        INSERT INTO consumer_offsets (consumer, "offset", updated_at) VALUES ($consumer, $offset, $now)
        ON CONFLICT (consumer) DO UPDATE SET "offset" = excluded."offset", updated_at = excluded.updated_at
        """;

    private const string SetCursorSql = """
        INSERT INTO cursors (name, value, updated_at) VALUES ($name, $value, $now)
        ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
        """;

    /// <summary>The writer connection, for tests that simulate SQLite failing underneath a caller's work.</summary>
    internal SqliteConnection Connection => transaction.Connection!;

    public long LastSeq { get; private set; } = lastSeq;

    /// <summary>The snapshots this transaction stored, in sequence order (for the store's tail once committed).</summary>
    public List<RawSnapshot> Accepted { get; } = [];

    public long LastOffset { get; private set; } = lastOffset;

    /// <summary>Where the positions stood when a caller's savepoint began, to go back to if it rolls back.</summary>
    public (long Seq, long Offset) Mark() => (LastSeq, LastOffset);

    public void Restore((long Seq, long Offset) mark)
    {
        (LastSeq, LastOffset) = mark;
        Accepted.RemoveAll(s => s.Seq > mark.Seq);
    }

    public void Execute(string sql) => commands.Execute(sql, transaction);

    public DeliveryReceipt Accept(PendingDelivery delivery)
    {
        if (delivery.DeliveryId is not null)
        {
            var first = commands.Get(FindDeliverySql, transaction, ("$source", delivery.Source), ("$delivery", delivery.DeliveryId), ("$now", delivery.ReceivedAt)).ExecuteScalar();
            if (first is string snapshotId)
            {
                return new DeliveryReceipt(DeliveryStatus.Duplicate, snapshotId);
            }
        }

        commands.Execute(
            InsertSnapshotSql,
            transaction,
            ("$id", delivery.SnapshotId),
            ("$source", delivery.Source),
            ("$received", delivery.ReceivedAt),
            ("$headers", delivery.Headers),
            ("$body", delivery.Body),
            ("$sha256", delivery.Sha256),
            ("$type", delivery.ContentType),
            ("$verification", delivery.Verification),
            ("$delivery", delivery.DeliveryId));
        var seq = LastInsertRowId();
        LastSeq = Math.Max(LastSeq, seq);
        Accepted.Add(new RawSnapshot(
            seq,
            delivery.SnapshotId,
            delivery.Source,
            SqliteEventRows.FromMillis(delivery.ReceivedAt),
            new StoredHeaders(delivery.Headers),
            delivery.Body,
            delivery.Sha256,
            delivery.ContentType,
            (VerificationOutcome)delivery.Verification,
            delivery.DeliveryId));

        if (delivery.DeliveryId is not null)
        {
            commands.Execute(
                PutDeliverySql,
                transaction,
                ("$source", delivery.Source),
                ("$delivery", delivery.DeliveryId),
                ("$snapshot", delivery.SnapshotId),
                ("$expires", delivery.ExpiresAt));
        }

        return new DeliveryReceipt(DeliveryStatus.Accepted, delivery.SnapshotId);
    }

    public AppendReceipt Append(IReadOnlyList<PendingEvent> events)
    {
        var appended = 0;
        foreach (var e in events)
        {
            var inserted = commands.Execute(
                InsertEventSql,
                transaction,
                ("$source", e.Source),
                ("$id", e.Id),
                ("$platform", e.Platform),
                ("$type", e.EventType),
                ("$account", e.AccountId),
                ("$ts", e.Timestamp),
                ("$received", e.ReceivedAt),
                ("$snapshot", e.SnapshotId),
                ("$doc", e.Document));
            if (inserted > 0)
            {
                appended++;
                LastOffset = Math.Max(LastOffset, LastInsertRowId());
            }
        }

        return new AppendReceipt(appended, events.Count - appended, LastOffset);
    }

    public QuarantineEntry? Quarantine(PendingQuarantine quarantine)
    {
        if (quarantine.Open)
        {
            return ReadOne(
                OpenQuarantineSql,
                ("$id", quarantine.NewId),
                ("$snapshot", quarantine.SnapshotId),
                ("$source", quarantine.Source),
                ("$reason", quarantine.Reason),
                ("$issues", quarantine.Issues),
                ("$now", quarantine.Now));
        }

        return ReadOne(ResolveQuarantineSql, ("$snapshot", quarantine.SnapshotId), ("$now", quarantine.Now))
            ?? ReadOne(FindQuarantineSql, ("$snapshot", quarantine.SnapshotId));
    }

    public void AdvanceOffset(string consumer, long offset, long now) =>
        commands.Execute(AdvanceOffsetSql, transaction, ("$consumer", consumer), ("$offset", offset), ("$now", now));

    public void SetOffset(string consumer, long offset, long now) =>
        commands.Execute(SetOffsetSql, transaction, ("$consumer", consumer), ("$offset", offset), ("$now", now));

    public void SetCursor(string name, string value, long now) =>
        commands.Execute(SetCursorSql, transaction, ("$name", name), ("$value", value), ("$now", now));

    public int SweepDeliveryIds(long now) =>
        commands.Execute("DELETE FROM delivery_ids WHERE expires_at <= $now", transaction, ("$now", now));

    /// <summary>
    /// The rowid (sequence number, offset) the last insert took: a native call, cheaper than a RETURNING clause, which
    /// costs a reader per row.
    /// </summary>
    private long LastInsertRowId() => SQLitePCL.raw.sqlite3_last_insert_rowid(Connection.Handle);

    private QuarantineEntry? ReadOne(string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        using var reader = commands.Get(sql, transaction, parameters).ExecuteReader();
        return reader.Read() ? SqliteEventRows.ReadQuarantine(reader) : null;
    }
}
