using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Bulwark.Ingest;
using Bulwark.Json;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>A delivery made ready for the writer by its caller: id, hash, headers and body copied, times in milliseconds.</summary>
internal sealed record PendingDelivery(
    string SnapshotId,
    string Source,
    long ReceivedAt,
    string Headers,
    byte[] Body,
    byte[] Sha256,
    string? ContentType,
    int Verification,
    string? DeliveryId,
    long? DedupeUntil);

/// <summary>An event made ready for the writer by its caller: its document serialized, its indexed fields pulled out.</summary>
internal sealed record PendingEvent(string Source, string Id, string Platform, string EventType, string AccountId, long Timestamp, long ReceivedAt, string? SnapshotId, byte[] Document);

/// <summary>An event the log took, with the offset it was given: what a read of that row returns.</summary>
internal sealed record AppendedEvent(long Offset, PendingEvent Row)
{
    public LoggedEvent ToLogged() => new(Offset, EventDocument.Deserialize(Row.Document), Row.SnapshotId);

    public LoggedEventKey ToKey() =>
        new(Offset, Row.Source, Row.Id, Row.Platform, Row.EventType, Row.AccountId, SqliteEventRows.FromMillis(Row.Timestamp));
}

/// <summary>A quarantine outcome made ready by the caller: the id a new entry gets, its reason and issues.</summary>
internal sealed record PendingQuarantine(string NewId, string SnapshotId, string Source, bool Open, string Reason, string Issues, long Now);

/// <summary>Row mapping of the ingest database, shared by the read side and the writer.</summary>
internal static class SqliteEventRows
{
    public const string SnapshotColumns = "seq, id, source, received_at, headers, body, sha256, content_type, verification, delivery_id";
    public const string EventColumns = "\"offset\", doc, snapshot_id";
    public const string QuarantineColumns = "id, snapshot_id, source, reason, issues, created_at, updated_at, attempts, status";

    public static DateTimeOffset FromMillis(long millis) => DateTimeOffset.FromUnixTimeMilliseconds(millis);

    public static PendingDelivery Prepare(RawDelivery delivery, string snapshotId)
    {
        var body = delivery.Body.ToArray();
        return new PendingDelivery(
            snapshotId,
            delivery.Source,
            delivery.ReceivedAt.ToUnixTimeMilliseconds(),
            HeadersJson(delivery.Headers),
            body,
            System.Security.Cryptography.SHA256.HashData(body),
            delivery.ContentType,
            (int)delivery.Verification,
            delivery.DeliveryId,
            delivery.DeliveryId is null ? null : delivery.DedupeUntil.ToUnixTimeMilliseconds());
    }

    /// <summary>Prepares an event; one without a receive time gets <paramref name="receivedAt"/>, in its document too.</summary>
    public static PendingEvent Prepare(NormalizedEvent e, DateTimeOffset receivedAt, string? snapshotId)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.ReceivedAt is null)
        {
            e = e with { ReceivedAt = receivedAt };
        }

        return new PendingEvent(
            e.Source,
            e.Id,
            e.Platform,
            e.EventType,
            e.AccountId,
            e.Timestamp.ToUnixTimeMilliseconds(),
            e.ReceivedAt.Value.ToUnixTimeMilliseconds(),
            snapshotId,
            EventDocument.Serialize(e));
    }

    /// <summary>Headers as a JSON array of <c>[name, value]</c> pairs: order and repeated names are kept.</summary>
    public static string HeadersJson(IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        return CompactJson.ToText(headers, static (headers, writer) =>
        {
            writer.WriteStartArray();
            foreach (var (name, value) in headers)
            {
                writer.WriteStartArray();
                writer.WriteStringValue(name);
                writer.WriteStringValue(value);
                writer.WriteEndArray();
            }

            writer.WriteEndArray();
        });
    }

    public static string IssuesJson(IReadOnlyList<NormalizeIssue> issues) => issues.Count == 0
        ? "[]"
        : CompactJson.ToText(issues, static (issues, writer) =>
        {
            writer.WriteStartArray();
            foreach (var issue in issues)
            {
                writer.WriteStartObject();
                writer.WriteNumber("index", issue.Index);
                writer.WriteString("reason", issue.Reason);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        });

    /// <summary>The quarantine reason for a delivery with item issues only: how many, and the first few.</summary>
    public static string Summarize(IReadOnlyList<NormalizeIssue> issues, int moreIssues = 0)
    {
        const int Shown = 3;
        var builder = new StringBuilder();
        var total = issues.Count + moreIssues;
        builder.Append(total).Append(total == 1 ? " item" : " items").Append(" could not be normalized (");
        var shown = Math.Min(Shown, issues.Count);
        for (var i = 0; i < shown; i++)
        {
            builder.Append(i == 0 ? "item " : "; item ").Append(issues[i].Index).Append(": ").Append(issues[i].Reason);
        }

        if (total > shown)
        {
            builder.Append("; and ").Append(total - shown).Append(" more");
        }

        return builder.Append(')').ToString();
    }

    public static SqliteCommand Command(SqliteConnection connection, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    public static List<RawSnapshot> QuerySnapshots(SqliteConnection connection, string where, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        using var command = Command(connection, $"SELECT {SnapshotColumns} FROM raw_snapshots {where}", parameters);
        using var reader = command.ExecuteReader();
        var list = new List<RawSnapshot>();
        while (reader.Read())
        {
            list.Add(new RawSnapshot(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetString(2),
                FromMillis(reader.GetInt64(3)),
                new StoredHeaders(reader.GetString(4)),
                Blob(reader, 5),
                Blob(reader, 6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                (VerificationOutcome)reader.GetInt32(8),
                reader.IsDBNull(9) ? null : reader.GetString(9)));
        }

        return list;
    }

    public static List<LoggedEvent> QueryEvents(SqliteConnection connection, string where, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        using var command = Command(connection, $"SELECT {EventColumns} FROM events {where}", parameters);
        using var reader = command.ExecuteReader();
        var list = new List<LoggedEvent>();
        while (reader.Read())
        {
            list.Add(new LoggedEvent(reader.GetInt64(0), EventDocument.Deserialize(reader.GetFieldValue<byte[]>(1)), reader.IsDBNull(2) ? null : reader.GetString(2)));
        }

        return list;
    }

    public static List<LoggedEventKey> QueryEventKeys(SqliteConnection connection, long afterOffset, int limit)
    {
        using var command = Command(
            connection,
            "SELECT \"offset\", source, id, platform, event_type, account_id, ts FROM events WHERE \"offset\" > $after ORDER BY \"offset\" LIMIT $limit",
            ("$after", afterOffset),
            ("$limit", limit));
        using var reader = command.ExecuteReader();
        var list = new List<LoggedEventKey>();
        while (reader.Read())
        {
            list.Add(new LoggedEventKey(
                reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5), FromMillis(reader.GetInt64(6))));
        }

        return list;
    }

    public static List<QuarantineEntry> QueryQuarantine(SqliteConnection connection, string where, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        using var command = Command(connection, $"SELECT {QuarantineColumns} FROM quarantine {where}", parameters);
        using var reader = command.ExecuteReader();
        var list = new List<QuarantineEntry>();
        while (reader.Read())
        {
            list.Add(ReadQuarantine(reader));
        }

        return list;
    }

    public static QuarantineEntry ReadQuarantine(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetString(3),
        ReadIssues(reader.GetString(4)),
        FromMillis(reader.GetInt64(5)),
        FromMillis(reader.GetInt64(6)),
        reader.GetInt32(7),
        (QuarantineStatus)reader.GetInt32(8));

    public static long Scalar(SqliteConnection connection, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        using var command = Command(connection, sql, parameters);
        return command.ExecuteScalar() is long value ? value : 0;
    }

    private static byte[] Blob(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? [] : (byte[])reader.GetValue(ordinal);

    public static List<KeyValuePair<string, string>> ReadHeaders(string json)
    {
        using var document = JsonDocument.Parse(json);
        var headers = new List<KeyValuePair<string, string>>(document.RootElement.GetArrayLength());
        foreach (var pair in document.RootElement.EnumerateArray())
        {
            headers.Add(new(pair[0].GetString()!, pair[1].GetString()!));
        }

        return headers;
    }

    private static List<NormalizeIssue> ReadIssues(string json)
    {
        using var document = JsonDocument.Parse(json);
        var issues = new List<NormalizeIssue>(document.RootElement.GetArrayLength());
        foreach (var issue in document.RootElement.EnumerateArray())
        {
            issues.Add(new NormalizeIssue(issue.GetProperty("index").GetInt32(), issue.GetProperty("reason").GetString()!));
        }

        return issues;
    }
}

/// <summary>
/// A snapshot's headers as stored (<see cref="SqliteEventRows.HeadersJson"/>), parsed on first use: the normalizer reads
/// every snapshot and never looks at its headers.
/// </summary>
internal sealed class StoredHeaders(string json) : IReadOnlyList<KeyValuePair<string, string>>
{
    private List<KeyValuePair<string, string>>? _parsed;

    private List<KeyValuePair<string, string>> Parsed => _parsed ??= SqliteEventRows.ReadHeaders(json);

    public int Count => Parsed.Count;

    public KeyValuePair<string, string> this[int index] => Parsed[index];

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => Parsed.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
