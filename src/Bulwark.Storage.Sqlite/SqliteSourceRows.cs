using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.Json;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>Row mapping for sources: the definition as canonical manifest JSON (secret references only).</summary>
internal static class SqliteSourceRows
{
    public const string Columns = "name, definition, version, created_at, updated_at";

    public const string PutSql = $"""
        UPDATE counters SET value = value + 1 WHERE name = 'sources_version';
        INSERT INTO sources ({Columns})
        VALUES ($name, $definition, (SELECT value FROM counters WHERE name = 'sources_version'), $created, $updated)
        ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, version = excluded.version,
            updated_at = excluded.updated_at;
        SELECT value FROM counters WHERE name = 'sources_version';
        """;

    public static (string Name, object? Value)[] Parameters(SourceRecord source) =>
    [
        ("$name", source.Name),
        ("$definition", CanonicalJson.Serialize(SourceKind.Instance.ToDocument(source.Definition))),
        ("$created", SqliteRows.ToMicros(source.CreatedAt)),
        ("$updated", SqliteRows.ToMicros(source.UpdatedAt)),
    ];

    public static List<SourceRecord> Query(SqliteConnection connection, SqliteTransaction? transaction, string where, object? parameter)
    {
        using var command = SqliteRows.Command(connection, transaction, $"SELECT {Columns} FROM sources {where} ORDER BY name", ("$p", parameter));
        using var reader = command.ExecuteReader();
        var list = new List<SourceRecord>();
        while (reader.Read())
        {
            var parsed = SourceKind.Instance.Read(JsonNode.Parse(reader.GetString(1))!.AsObject());
            list.Add(new SourceRecord
            {
                Definition = parsed.Value ?? throw new InvalidDataException($"Stored source '{reader.GetString(0)}' no longer validates: {string.Join("; ", parsed.Errors)}"),
                Version = reader.GetInt64(2),
                CreatedAt = SqliteRows.FromMicros(reader.GetInt64(3)),
                UpdatedAt = SqliteRows.FromMicros(reader.GetInt64(4)),
            });
        }

        return list;
    }

    public static long Version(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = SqliteRows.Command(connection, transaction, "SELECT value FROM counters WHERE name = 'sources_version'");
        return (long)(command.ExecuteScalar() ?? 0L);
    }
}
