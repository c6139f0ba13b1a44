using System.Text.Json.Nodes;
using Bulwark.Json;
using Bulwark.Throttling;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>Row mapping for throttles: the policy as canonical manifest JSON, the tightening as a small JSON object.</summary>
internal static class SqliteThrottleRows
{
    public const string Columns = "name, definition, tightening, version, created_at, updated_at";

    public const string PutSql = $"""
        UPDATE counters SET value = value + 1 WHERE name = 'throttles_version';
        INSERT INTO throttles ({Columns})
        VALUES ($name, $definition, $tightening, (SELECT value FROM counters WHERE name = 'throttles_version'), $created, $updated)
        ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, tightening = excluded.tightening,
            version = excluded.version, updated_at = excluded.updated_at;
        SELECT value FROM counters WHERE name = 'throttles_version';
        """;

    public static (string Name, object? Value)[] Parameters(ThrottleRecord throttle) =>
    [
        ("$name", throttle.Name),
        ("$definition", CanonicalJson.Serialize(ThrottleKind.Instance.ToDocument(throttle.Policy))),
        ("$tightening", throttle.Tightening is { } t ? CanonicalJson.Serialize(t.ToDocument()) : null),
        ("$created", SqliteRows.ToMicros(throttle.CreatedAt)),
        ("$updated", SqliteRows.ToMicros(throttle.UpdatedAt)),
    ];

    public static List<ThrottleRecord> Query(SqliteConnection connection, SqliteTransaction? transaction, string where, object? parameter)
    {
        using var command = SqliteRows.Command(connection, transaction, $"SELECT {Columns} FROM throttles {where} ORDER BY name", ("$p", parameter));
        using var reader = command.ExecuteReader();
        var list = new List<ThrottleRecord>();
        while (reader.Read())
        {
            var parsed = ThrottleKind.Instance.Read(JsonNode.Parse(reader.GetString(1))!.AsObject());
            list.Add(new ThrottleRecord
            {
                Policy = parsed.Value ?? throw new InvalidDataException($"Stored throttle '{reader.GetString(0)}' no longer validates: {string.Join("; ", parsed.Errors)}"),
                Tightening = reader.IsDBNull(2) ? null : ThrottleTighteningRecord.FromDocument(JsonNode.Parse(reader.GetString(2))!.AsObject()),
                Version = reader.GetInt64(3),
                CreatedAt = SqliteRows.FromMicros(reader.GetInt64(4)),
                UpdatedAt = SqliteRows.FromMicros(reader.GetInt64(5)),
            });
        }

        return list;
    }

    public static long Version(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = SqliteRows.Command(connection, transaction, "SELECT value FROM counters WHERE name = 'throttles_version'");
        return (long)(command.ExecuteScalar() ?? 0L);
    }
}
