using System.Text.Json.Nodes;
using Bulwark.Json;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>Row mapping for definitions of kinds without a table of their own; one version counter per kind.</summary>
internal static class SqliteDefinitionRows
{
    private const string Columns = "kind, name, document, version, created_at, updated_at";

    public const string PutSql = $"""
        INSERT OR IGNORE INTO counters (name, value) VALUES ('definitions_version:' || $kind, 0);
        UPDATE counters SET value = value + 1 WHERE name = 'definitions_version:' || $kind;
        INSERT INTO definitions ({Columns})
        VALUES ($kind, $name, $document, (SELECT value FROM counters WHERE name = 'definitions_version:' || $kind), $created, $updated)
        ON CONFLICT (kind, name) DO UPDATE SET document = excluded.document, version = excluded.version, updated_at = excluded.updated_at;
        SELECT value FROM counters WHERE name = 'definitions_version:' || $kind;
        """;

    public static (string Name, object? Value)[] Parameters(DefinitionRecord definition) =>
    [
        ("$kind", definition.Kind),
        ("$name", definition.Name),
        ("$document", CanonicalJson.Serialize(definition.Document)),
        ("$created", SqliteRows.ToMicros(definition.CreatedAt)),
        ("$updated", SqliteRows.ToMicros(definition.UpdatedAt)),
    ];

    public static List<DefinitionRecord> Query(SqliteConnection connection, SqliteTransaction? transaction, string kind, string? name)
    {
        using var command = SqliteRows.Command(
            connection,
            transaction,
            $"SELECT {Columns} FROM definitions WHERE kind = $kind AND ($name IS NULL OR name = $name) ORDER BY name",
            ("$kind", kind),
            ("$name", name));
        using var reader = command.ExecuteReader();
        var list = new List<DefinitionRecord>();
        while (reader.Read())
        {
            list.Add(new DefinitionRecord
            {
                Kind = reader.GetString(0),
                Name = reader.GetString(1),
                Document = JsonNode.Parse(reader.GetString(2))!.AsObject(),
                Version = reader.GetInt64(3),
                CreatedAt = SqliteRows.FromMicros(reader.GetInt64(4)),
                UpdatedAt = SqliteRows.FromMicros(reader.GetInt64(5)),
            });
        }

        return list;
    }

    public static long Version(SqliteConnection connection, SqliteTransaction? transaction, string kind)
    {
        using var command = SqliteRows.Command(connection, transaction, "SELECT value FROM counters WHERE name = 'definitions_version:' || $kind", ("$kind", kind));
        return (long)(command.ExecuteScalar() ?? 0L);
    }
}
