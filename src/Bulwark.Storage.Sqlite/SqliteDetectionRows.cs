using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Json;
using Bulwark.Storage;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>
/// Row mapping for detections and incidents: each record as canonical JSON, with the columns its lists filter and page
/// on beside it.
/// </summary>
internal static class SqliteDetectionRows
{
    public const string InsertDetectionSql = """
        INSERT OR IGNORE INTO detections (id, incident_id, rule, detected_event_at, created_at, doc)
        VALUES ($id, $incident, $rule, $detected, $created, $doc)
        """;

    public const string PutIncidentSql = """
        INSERT INTO incidents (id, status, severity, created_at, updated_at, doc)
        VALUES ($id, $status, $severity, $created, $updated, $doc)
        ON CONFLICT (id) DO UPDATE SET status = excluded.status, severity = excluded.severity,
            updated_at = excluded.updated_at, doc = excluded.doc
        """;

    public static (string Name, object? Value)[] Parameters(DetectionRecord detection) =>
    [
        ("$id", detection.Id),
        ("$incident", detection.IncidentId),
        ("$rule", detection.Rule),
        ("$detected", SqliteRows.ToMicros(detection.DetectedEventAt)),
        ("$created", SqliteRows.ToMicros(detection.CreatedAt)),
        ("$doc", CanonicalJson.Serialize(detection.ToDocument())),
    ];

    public static (string Name, object? Value)[] Parameters(IncidentRecord incident) =>
    [
        ("$id", incident.Id),
        ("$status", (int)incident.Status),
        ("$severity", (int)incident.Severity),
        ("$created", SqliteRows.ToMicros(incident.CreatedAt)),
        ("$updated", SqliteRows.ToMicros(incident.UpdatedAt)),
        ("$doc", CanonicalJson.Serialize(incident.ToDocument())),
    ];

    public static List<Positioned<DetectionRecord>> QueryDetections(SqliteConnection connection, SqliteTransaction? transaction, DetectionQuery query) =>
        Query(
            connection,
            transaction,
            "detections",
            DetectionRecord.Read,
            query.Limit,
            ("incident_id", query.IncidentId),
            ("rule", query.Rule),
            ("seq <", query.Before));

    public static List<Positioned<IncidentRecord>> QueryIncidents(SqliteConnection connection, SqliteTransaction? transaction, IncidentQuery query) =>
        Query(
            connection,
            transaction,
            "incidents",
            IncidentRecord.Read,
            query.Limit,
            ("status", query.Status is { } status ? (int)status : null),
            ("severity", query.Severity is { } severity ? (int)severity : null),
            ("seq <", query.Before));

    public static DetectionRecord? GetDetection(SqliteConnection connection, SqliteTransaction? transaction, string id) =>
        Query(connection, transaction, "detections", DetectionRecord.Read, 1, ("id", id)).FirstOrDefault()?.Value;

    public static IncidentRecord? GetIncident(SqliteConnection connection, SqliteTransaction? transaction, string id) =>
        Query(connection, transaction, "incidents", IncidentRecord.Read, 1, ("id", id)).FirstOrDefault()?.Value;

    /// <summary>Rows newest first; each filter given (not null) is ANDed, as <c>column = value</c> or the operator named.</summary>
    private static List<Positioned<T>> Query<T>(
        SqliteConnection connection, SqliteTransaction? transaction, string table, Func<JsonObject, T> read, int limit, params (string Column, object? Value)[] filters)
    {
        var clauses = new List<string>();
        var parameters = new List<(string Name, object? Value)> { ("$limit", limit) };
        foreach (var (column, value) in filters)
        {
            if (value is null)
            {
                continue;
            }

            var name = "$p" + parameters.Count;
            clauses.Add(column.Contains(' ', StringComparison.Ordinal) ? $"{column} {name}" : $"{column} = {name}");
            parameters.Add((name, value));
        }

        var where = clauses.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", clauses);
        using var command = SqliteRows.Command(connection, transaction, $"SELECT seq, doc FROM {table} {where} ORDER BY seq DESC LIMIT $limit", [.. parameters]);
        using var reader = command.ExecuteReader();
        var list = new List<Positioned<T>>();
        while (reader.Read())
        {
            list.Add(new Positioned<T>(reader.GetInt64(0), read(JsonNode.Parse(reader.GetString(1))!.AsObject())));
        }

        return list;
    }
}
