using Bulwark.Ingest;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>
/// The writes of one group commit: every caller's work runs through it, inside the writer's transaction (and, when the
/// batch goes again after a caller's failure, the caller's savepoint), with the writer's prepared statements. It tracks
/// the greatest snapshot sequence number and event offset written so far, which the store publishes once the
/// transaction has committed.
/// </summary>
internal sealed class SqliteEventWriter(SqliteCommandCache commands, SqliteTransaction transaction, long lastSeq, long lastOffset)
{
    // The hot statements run through RawStatement with positional parameters (see there for why).

    // The snapshot that holds (source, delivery id) now, if any: the newest with that id whose retention has not ended.
    // A new id finds nothing in the index and touches no row; an id seen before and expired is taken by the next one.
    internal const string FindLiveDeliverySql = """
        SELECT id FROM raw_snapshots WHERE source = ?1 AND delivery_id = ?2 AND dedupe_until > ?3
        ORDER BY seq DESC LIMIT 1
        """;

    internal const string InsertSnapshotSql = """
        INSERT INTO raw_snapshots
            (id, source, received_at, headers, body, sha256, content_type, verification, delivery_id, dedupe_until)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
        """;

    // Checking first, rather than leaving it to OR IGNORE alone, keeps offsets dense: SQLite allocates an AUTOINCREMENT
    // value before it finds the conflict, so every ignored duplicate would burn an offset. The check is a statement of
    // its own: folded into the insert (INSERT … SELECT … WHERE NOT EXISTS), it made SQLite stage each row in a
    // temporary table, because the statement reads the table it writes (IngestLayoutBenchmarks compares the two).
    internal const string EventExistsSql = "SELECT 1 FROM events WHERE source = ?1 AND id = ?2";

    internal const string InsertEventSql = """
        INSERT OR IGNORE INTO events (source, id, platform, event_type, account_id, ts, received_at, snapshot_id, doc)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
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

    private const string MoveOffsetSql = """
        UPDATE consumer_offsets SET "offset" = $offset, updated_at = $now WHERE consumer = $consumer AND "offset" = $expected
        """;

    /// <summary>A consumer that never committed is at 0: its first move inserts the row.</summary>
    private const string InsertOffsetSql = """
        INSERT OR IGNORE INTO consumer_offsets (consumer, "offset", updated_at) VALUES ($consumer, $offset, $now)
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

    /// <summary>The events this transaction appended, in offset order (for the store's tail once committed).</summary>
    public List<AppendedEvent> Appended { get; } = [];

    /// <summary>Where the positions stood when a caller's savepoint began, to go back to if it rolls back.</summary>
    public (long Seq, long Offset) Mark() => (LastSeq, LastOffset);

    public void Restore((long Seq, long Offset) mark)
    {
        (LastSeq, LastOffset) = mark;
        Accepted.RemoveAll(s => s.Seq > mark.Seq);
        Appended.RemoveAll(e => e.Offset > mark.Offset);
    }

    /// <summary>Runs a statement without parameters (savepoints).</summary>
    public void Execute(string sql) => commands.Raw(sql).Execute();

    public DeliveryReceipt Accept(PendingDelivery delivery)
    {
        if (delivery.DeliveryId is not null)
        {
            var first = commands.Raw(FindLiveDeliverySql)
                .Text(1, delivery.Source)
                .Text(2, delivery.DeliveryId)
                .Integer(3, delivery.ReceivedAt)
                .ScalarText();
            if (first is not null)
            {
                return new DeliveryReceipt(DeliveryStatus.Duplicate, first);
            }
        }

        commands.Raw(InsertSnapshotSql)
            .Text(1, delivery.SnapshotId)
            .Text(2, delivery.Source)
            .Integer(3, delivery.ReceivedAt)
            .Text(4, delivery.Headers)
            .Blob(5, delivery.Body)
            .Blob(6, delivery.Sha256)
            .Text(7, delivery.ContentType)
            .Integer(8, delivery.Verification)
            .Text(9, delivery.DeliveryId)
            .Integer(10, delivery.DedupeUntil)
            .Execute();
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
        return new DeliveryReceipt(DeliveryStatus.Accepted, delivery.SnapshotId);
    }

    public AppendReceipt Append(IReadOnlyList<PendingEvent> events)
    {
        var appended = 0;
        var exists = commands.Raw(EventExistsSql);
        var insert = commands.Raw(InsertEventSql);
        foreach (var e in events)
        {
            if (exists.Text(1, e.Source).Text(2, e.Id).Exists())
            {
                continue;
            }

            var inserted = insert
                .Text(1, e.Source)
                .Text(2, e.Id)
                .Text(3, e.Platform)
                .Text(4, e.EventType)
                .Text(5, e.AccountId)
                .Integer(6, e.Timestamp)
                .Integer(7, e.ReceivedAt)
                .Text(8, e.SnapshotId)
                .Utf8(9, e.Document)
                .Execute();
            if (inserted > 0)
            {
                appended++;
                var offset = LastInsertRowId();
                LastOffset = Math.Max(LastOffset, offset);
                Appended.Add(new AppendedEvent(offset, e));
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

    public bool MoveOffset(string consumer, long expected, long offset, long now) =>
        commands.Execute(MoveOffsetSql, transaction, ("$consumer", consumer), ("$expected", expected), ("$offset", offset), ("$now", now)) > 0
        || (expected == 0 && commands.Execute(InsertOffsetSql, transaction, ("$consumer", consumer), ("$offset", offset), ("$now", now)) > 0);

    public void SetCursor(string name, string value, long now) =>
        commands.Execute(SetCursorSql, transaction, ("$name", name), ("$value", value), ("$now", now));

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
