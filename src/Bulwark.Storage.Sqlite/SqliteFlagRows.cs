using System.Text.Json.Nodes;
using Bulwark.Flags;
using Bulwark.Json;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>Row mapping for flags and their pending changes. Definitions are stored as canonical manifest JSON.</summary>
internal static class SqliteFlagRows
{
    public const string FlagColumns = "key, definition, state, millipercent, archived, version, created_at, updated_at";
    public const string ChangeColumns = "id, flag_key, from_state, from_millipercent, to_state, to_millipercent, requested_by, reason, created_at, expires_at, status, decided_by, decided_at";

    public const string PutFlagSql = $"""
        UPDATE counters SET value = value + 1 WHERE name = 'flags_version';
        INSERT INTO flags ({FlagColumns})
        VALUES ($key, $definition, $state, $millipercent, $archived, (SELECT value FROM counters WHERE name = 'flags_version'), $created, $updated)
        ON CONFLICT (key) DO UPDATE SET definition = excluded.definition, state = excluded.state, millipercent = excluded.millipercent,
            archived = excluded.archived, version = excluded.version, updated_at = excluded.updated_at;
        SELECT value FROM counters WHERE name = 'flags_version';
        """;

    public const string PutChangeSql = $"""
        INSERT INTO flag_changes ({ChangeColumns})
        VALUES ($id, $flag, $fromState, $fromMilli, $toState, $toMilli, $requestedBy, $reason, $created, $expires, $status, $decidedBy, $decidedAt)
        ON CONFLICT (id) DO UPDATE SET status = excluded.status, decided_by = excluded.decided_by, decided_at = excluded.decided_at
        """;

    public static (string Name, object? Value)[] FlagParameters(FlagRecord flag) =>
    [
        ("$key", flag.Key),
        ("$definition", CanonicalJson.Serialize(FlagKind.Instance.ToDocument(flag.Definition))),
        ("$state", (int)flag.Status.State),
        ("$millipercent", flag.Status.Millipercent),
        ("$archived", flag.Archived ? 1 : 0),
        ("$created", SqliteRows.ToMicros(flag.CreatedAt)),
        ("$updated", SqliteRows.ToMicros(flag.UpdatedAt)),
    ];

    public static (string Name, object? Value)[] ChangeParameters(PendingChange change) =>
    [
        ("$id", change.Id),
        ("$flag", change.FlagKey),
        ("$fromState", (int)change.From.State),
        ("$fromMilli", change.From.Millipercent),
        ("$toState", (int)change.To.State),
        ("$toMilli", change.To.Millipercent),
        ("$requestedBy", change.RequestedBy),
        ("$reason", change.Reason),
        ("$created", SqliteRows.ToMicros(change.CreatedAt)),
        ("$expires", SqliteRows.ToMicros(change.ExpiresAt)),
        ("$status", (int)change.Status),
        ("$decidedBy", change.DecidedBy),
        ("$decidedAt", change.DecidedAt is { } decided ? SqliteRows.ToMicros(decided) : null),
    ];

    public static List<FlagRecord> QueryFlags(SqliteConnection connection, SqliteTransaction? transaction, string where, object? parameter)
    {
        using var command = SqliteRows.Command(connection, transaction, $"SELECT {FlagColumns} FROM flags {where} ORDER BY key", ("$p", parameter));
        using var reader = command.ExecuteReader();
        var list = new List<FlagRecord>();
        while (reader.Read())
        {
            var parsed = FlagKind.Instance.Read(JsonNode.Parse(reader.GetString(1))!.AsObject());
            list.Add(new FlagRecord
            {
                Definition = parsed.Value ?? throw new InvalidDataException($"Stored flag '{reader.GetString(0)}' no longer validates: {string.Join("; ", parsed.Errors)}"),
                Status = new FlagStatus((FlagState)reader.GetInt32(2), reader.GetInt32(3)),
                Archived = reader.GetInt64(4) != 0,
                Version = reader.GetInt64(5),
                CreatedAt = SqliteRows.FromMicros(reader.GetInt64(6)),
                UpdatedAt = SqliteRows.FromMicros(reader.GetInt64(7)),
            });
        }

        return list;
    }

    public static long FlagsVersion(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = SqliteRows.Command(connection, transaction, "SELECT value FROM counters WHERE name = 'flags_version'");
        return (long)(command.ExecuteScalar() ?? 0L);
    }

    public static List<PendingChange> QueryChanges(SqliteConnection connection, SqliteTransaction? transaction, string where, object? parameter)
    {
        using var command = SqliteRows.Command(connection, transaction, $"SELECT {ChangeColumns} FROM flag_changes {where} ORDER BY created_at DESC, id", ("$p", parameter));
        using var reader = command.ExecuteReader();
        var list = new List<PendingChange>();
        while (reader.Read())
        {
            list.Add(new PendingChange
            {
                Id = reader.GetString(0),
                FlagKey = reader.GetString(1),
                From = new FlagStatus((FlagState)reader.GetInt32(2), reader.GetInt32(3)),
                To = new FlagStatus((FlagState)reader.GetInt32(4), reader.GetInt32(5)),
                RequestedBy = reader.GetString(6),
                Reason = reader.IsDBNull(7) ? null : reader.GetString(7),
                CreatedAt = SqliteRows.FromMicros(reader.GetInt64(8)),
                ExpiresAt = SqliteRows.FromMicros(reader.GetInt64(9)),
                Status = (ChangeStatus)reader.GetInt32(10),
                DecidedBy = reader.IsDBNull(11) ? null : reader.GetString(11),
                DecidedAt = reader.IsDBNull(12) ? null : SqliteRows.FromMicros(reader.GetInt64(12)),
            });
        }

        return list;
    }
}
