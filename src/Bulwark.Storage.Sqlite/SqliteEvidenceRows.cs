using Bulwark.Response;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>Row mapping for evidence records: inserted once (triggers refuse updates and deletes), content as stored text.</summary>
internal static class SqliteEvidenceRows
{
    /// <summary>A record whose id or idempotency key is stored already is left alone (and nothing is written).</summary>
    public const string InsertSql = $"""
        INSERT INTO evidence ({Columns})
        VALUES ($id, $incident, $key, $sha256, $events, $detections, $by, $created, $content)
        ON CONFLICT DO NOTHING
        """;

    private const string Columns = "id, incident_id, idempotency_key, sha256, events, detections, created_by, created_at, content";

    public static (string Name, object? Value)[] Parameters(StoredEvidence evidence) =>
    [
        ("$id", evidence.Id),
        ("$incident", evidence.IncidentId),
        ("$key", evidence.IdempotencyKey),
        ("$sha256", evidence.Sha256),
        ("$events", evidence.Events),
        ("$detections", evidence.Detections),
        ("$by", evidence.CreatedBy),
        ("$created", SqliteRows.ToMicros(evidence.CreatedAt)),
        ("$content", evidence.Content),
    ];

    public static StoredEvidence? Get(SqliteConnection connection, SqliteTransaction? transaction, string id) =>
        Query(connection, transaction, "WHERE id = $id", 1, ("$id", id)).FirstOrDefault()?.Value;

    public static StoredEvidence? FindByKey(SqliteConnection connection, SqliteTransaction? transaction, string idempotencyKey) =>
        Query(connection, transaction, "WHERE idempotency_key = $key", 1, ("$key", idempotencyKey)).FirstOrDefault()?.Value;

    public static List<Positioned<StoredEvidence>> ListByIncident(SqliteConnection connection, SqliteTransaction? transaction, string incidentId, long? before, int limit) =>
        before is { } seq
            ? Query(connection, transaction, "WHERE incident_id = $incident AND seq < $before", limit, ("$incident", incidentId), ("$before", seq))
            : Query(connection, transaction, "WHERE incident_id = $incident", limit, ("$incident", incidentId));

    private static List<Positioned<StoredEvidence>> Query(SqliteConnection connection, SqliteTransaction? transaction, string where, int limit, params (string Name, object? Value)[] parameters)
    {
        using var command = SqliteRows.Command(connection, transaction, $"SELECT seq, {Columns} FROM evidence {where} ORDER BY seq DESC LIMIT $limit", [.. parameters, ("$limit", limit)]);
        using var reader = command.ExecuteReader();
        var list = new List<Positioned<StoredEvidence>>();
        while (reader.Read())
        {
            list.Add(new Positioned<StoredEvidence>(reader.GetInt64(0), new StoredEvidence
            {
                Id = reader.GetString(1),
                IncidentId = reader.GetString(2),
                IdempotencyKey = reader.GetString(3),
                Sha256 = reader.GetString(4),
                Events = reader.GetInt32(5),
                Detections = reader.GetInt32(6),
                CreatedBy = reader.GetString(7),
                CreatedAt = SqliteRows.FromMicros(reader.GetInt64(8)),
                Content = reader.GetString(9),
            }));
        }

        return list;
    }
}
