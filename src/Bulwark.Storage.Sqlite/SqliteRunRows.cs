using System.Text.Json.Nodes;
using Bulwark.Json;
using Bulwark.Response;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>Row mapping for playbook runs and approvals: the state as canonical JSON, with the columns lists filter on.</summary>
internal static class SqliteRunRows
{
    public const string PutRunSql = """
        INSERT INTO runs (id, playbook, incident_id, status, active, created_at, updated_at, doc)
        VALUES ($id, $playbook, $incident, $status, $active, $created, $updated, $doc)
        ON CONFLICT (id) DO UPDATE SET status = excluded.status, active = excluded.active,
            updated_at = excluded.updated_at, doc = excluded.doc
        """;

    public const string PutApprovalSql = """
        INSERT INTO approvals (id, run_id, step_id, status, expires_at, created_at, updated_at, doc)
        VALUES ($id, $run, $step, $status, $expires, $created, $updated, $doc)
        ON CONFLICT (id) DO UPDATE SET status = excluded.status, expires_at = excluded.expires_at,
            updated_at = excluded.updated_at, doc = excluded.doc
        """;

    private const string RunColumns = "seq, id, playbook, incident_id, status, active, created_at, updated_at, doc";
    private const string ApprovalColumns = "seq, id, run_id, step_id, status, expires_at, created_at, updated_at, doc";

    public static (string Name, object? Value)[] Parameters(StoredRun run) =>
    [
        ("$id", run.Id),
        ("$playbook", run.Playbook),
        ("$incident", run.IncidentId),
        ("$status", run.Status),
        ("$active", run.Active ? 1 : 0),
        ("$created", SqliteRows.ToMicros(run.CreatedAt)),
        ("$updated", SqliteRows.ToMicros(run.UpdatedAt)),
        ("$doc", CanonicalJson.Serialize(run.Document)),
    ];

    public static (string Name, object? Value)[] Parameters(StoredApproval approval) =>
    [
        ("$id", approval.Id),
        ("$run", approval.RunId),
        ("$step", approval.StepId),
        ("$status", approval.Status),
        ("$expires", SqliteRows.ToMicros(approval.ExpiresAt)),
        ("$created", SqliteRows.ToMicros(approval.CreatedAt)),
        ("$updated", SqliteRows.ToMicros(approval.UpdatedAt)),
        ("$doc", CanonicalJson.Serialize(approval.Document)),
    ];

    public static StoredRun? GetRun(SqliteConnection connection, SqliteTransaction? transaction, string id) =>
        Runs(connection, transaction, "WHERE id = $id", 1, ("$id", id)).FirstOrDefault()?.Value;

    public static List<StoredRun> FindRuns(SqliteConnection connection, SqliteTransaction? transaction, string playbook, string incidentId) =>
        [.. Runs(connection, transaction, "WHERE playbook = $playbook AND incident_id = $incident", 1000, ("$playbook", playbook), ("$incident", incidentId)).Select(r => r.Value)];

    public static List<Positioned<StoredRun>> QueryRuns(SqliteConnection connection, SqliteTransaction? transaction, RunQuery query)
    {
        var clauses = new List<string>();
        var parameters = new List<(string, object?)>();
        if (query.IncidentId is { } incident)
        {
            clauses.Add("incident_id = $incident");
            parameters.Add(("$incident", incident));
        }

        if (query.Status is { } status)
        {
            clauses.Add("status = $status");
            parameters.Add(("$status", status));
        }

        if (query.Before is { } before)
        {
            clauses.Add("seq < $before");
            parameters.Add(("$before", before));
        }

        return Runs(connection, transaction, clauses.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", clauses), query.Limit, [.. parameters]);
    }

    /// <summary>Every run not finished, oldest first (the executor resumes them after a start).</summary>
    public static List<StoredRun> ActiveRuns(SqliteConnection connection, SqliteTransaction? transaction)
    {
        var runs = Runs(connection, transaction, "WHERE active = 1", int.MaxValue).Select(p => p.Value).ToList();
        runs.Reverse();
        return runs;
    }

    public static StoredApproval? GetApproval(SqliteConnection connection, SqliteTransaction? transaction, string id) =>
        Approvals(connection, transaction, "WHERE id = $id", 1, ("$id", id)).FirstOrDefault()?.Value;

    public static List<Positioned<StoredApproval>> QueryApprovals(SqliteConnection connection, SqliteTransaction? transaction, string? status, string? runId, long? before, int limit)
    {
        var clauses = new List<string>();
        var parameters = new List<(string, object?)>();
        if (status is not null)
        {
            clauses.Add("status = $status");
            parameters.Add(("$status", status));
        }

        if (runId is not null)
        {
            clauses.Add("run_id = $run");
            parameters.Add(("$run", runId));
        }

        if (before is { } seq)
        {
            clauses.Add("seq < $before");
            parameters.Add(("$before", seq));
        }

        return Approvals(connection, transaction, clauses.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", clauses), limit, [.. parameters]);
    }

    private static List<Positioned<StoredRun>> Runs(SqliteConnection connection, SqliteTransaction? transaction, string where, int limit, params (string Name, object? Value)[] parameters)
    {
        using var command = SqliteRows.Command(connection, transaction, $"SELECT {RunColumns} FROM runs {where} ORDER BY seq DESC LIMIT $limit", [.. parameters, ("$limit", limit)]);
        using var reader = command.ExecuteReader();
        var list = new List<Positioned<StoredRun>>();
        while (reader.Read())
        {
            list.Add(new Positioned<StoredRun>(reader.GetInt64(0), new StoredRun
            {
                Id = reader.GetString(1),
                Playbook = reader.GetString(2),
                IncidentId = reader.GetString(3),
                Status = reader.GetString(4),
                Active = reader.GetInt64(5) != 0,
                CreatedAt = SqliteRows.FromMicros(reader.GetInt64(6)),
                UpdatedAt = SqliteRows.FromMicros(reader.GetInt64(7)),
                Document = JsonNode.Parse(reader.GetString(8))!.AsObject(),
            }));
        }

        return list;
    }

    private static List<Positioned<StoredApproval>> Approvals(SqliteConnection connection, SqliteTransaction? transaction, string where, int limit, params (string Name, object? Value)[] parameters)
    {
        using var command = SqliteRows.Command(connection, transaction, $"SELECT {ApprovalColumns} FROM approvals {where} ORDER BY seq DESC LIMIT $limit", [.. parameters, ("$limit", limit)]);
        using var reader = command.ExecuteReader();
        var list = new List<Positioned<StoredApproval>>();
        while (reader.Read())
        {
            list.Add(new Positioned<StoredApproval>(reader.GetInt64(0), new StoredApproval
            {
                Id = reader.GetString(1),
                RunId = reader.GetString(2),
                StepId = reader.IsDBNull(3) ? null : reader.GetString(3),
                Status = reader.GetString(4),
                ExpiresAt = SqliteRows.FromMicros(reader.GetInt64(5)),
                CreatedAt = SqliteRows.FromMicros(reader.GetInt64(6)),
                UpdatedAt = SqliteRows.FromMicros(reader.GetInt64(7)),
                Document = JsonNode.Parse(reader.GetString(8))!.AsObject(),
            }));
        }

        return list;
    }
}
