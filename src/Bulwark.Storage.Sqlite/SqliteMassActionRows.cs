using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Json;
using Bulwark.MassActions;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>
/// Row mapping for mass actions: the declaration as canonical manifest JSON, the pending approval and the last halt as
/// small JSON objects, the counters as columns of their own (so that a permit or a report updates only those).
/// </summary>
internal static class SqliteMassActionRows
{
    public const string Columns = "id, name, definition, state, created_by, created_at, updated_at, approval, approved_by, approved_at, halt, completed_at, "
        + "granted, succeeded, failed, window_succeeded, window_failed, errors, cap_tat";

    public const string PutSql = $"""
        INSERT INTO mass_actions ({Columns})
        VALUES ($id, $name, $definition, $state, $createdBy, $created, $updated, $approval, $approvedBy, $approvedAt, $halt, $completed,
            $granted, $succeeded, $failed, $windowSucceeded, $windowFailed, $errors, $capTat)
        ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at, approval = excluded.approval,
            approved_by = excluded.approved_by, approved_at = excluded.approved_at, halt = excluded.halt, completed_at = excluded.completed_at,
            granted = excluded.granted, succeeded = excluded.succeeded, failed = excluded.failed, window_succeeded = excluded.window_succeeded,
            window_failed = excluded.window_failed, errors = excluded.errors, cap_tat = excluded.cap_tat
        """;

    /// <summary>Counters only: a permit or a report can never change a state, a halt or an approval through this.</summary>
    public const string ProgressSql = """
        UPDATE mass_actions SET granted = $granted, succeeded = $succeeded, failed = $failed, window_succeeded = $windowSucceeded,
            window_failed = $windowFailed, errors = $errors, cap_tat = $capTat
        WHERE id = $id
        """;

    public const string LastAuditSql = "SELECT seq FROM audit WHERE target = $target AND action = $action ORDER BY seq DESC LIMIT 1";

    public static (string Name, object? Value)[] Parameters(MassActionRecord action) =>
    [
        ("$id", action.Id),
        ("$name", action.Name),
        ("$definition", CanonicalJson.Serialize(MassActionKind.Instance.ToDocument(action.Definition))),
        ("$state", (int)action.State),
        ("$createdBy", action.CreatedBy),
        ("$created", SqliteRows.ToMicros(action.CreatedAt)),
        ("$updated", SqliteRows.ToMicros(action.UpdatedAt)),
        ("$approval", CanonicalJson.Serialize(action.ApprovalDocument())),
        ("$approvedBy", action.ApprovedBy),
        ("$approvedAt", action.ApprovedAt is { } approved ? SqliteRows.ToMicros(approved) : null),
        ("$halt", CanonicalJson.Serialize(action.HaltDocument())),
        ("$completed", action.CompletedAt is { } completed ? SqliteRows.ToMicros(completed) : null),
        .. ProgressParameters(action.Id, action.Progress),
    ];

    public static (string Name, object? Value)[] ProgressParameters(string id, MassActionProgress progress) =>
    [
        ("$id", id),
        ("$granted", progress.Granted),
        ("$succeeded", progress.Succeeded),
        ("$failed", progress.Failed),
        ("$windowSucceeded", progress.WindowSucceeded),
        ("$windowFailed", progress.WindowFailed),
        ("$errors", CanonicalJson.Serialize(progress.ErrorsDocument())),
        ("$capTat", progress.CapTat),
    ];

    public static List<MassActionRecord> Query(SqliteConnection connection, SqliteTransaction? transaction, string where, object? parameter)
    {
        using var command = SqliteRows.Command(connection, transaction, $"SELECT {Columns} FROM mass_actions {where} ORDER BY created_at DESC, id", ("$p", parameter));
        using var reader = command.ExecuteReader();
        var list = new List<MassActionRecord>();
        while (reader.Read())
        {
            var parsed = MassActionKind.Instance.Read(JsonNode.Parse(reader.GetString(2))!.AsObject());
            list.Add(new MassActionRecord
            {
                Id = reader.GetString(0),
                Definition = parsed.Value ?? throw new InvalidDataException($"Stored mass action '{reader.GetString(0)}' no longer validates: {string.Join("; ", parsed.Errors)}"),
                State = (MassActionState)reader.GetInt32(3),
                CreatedBy = reader.GetString(4),
                CreatedAt = SqliteRows.FromMicros(reader.GetInt64(5)),
                UpdatedAt = SqliteRows.FromMicros(reader.GetInt64(6)),
                Approval = reader.IsDBNull(7) ? null : MassActionRecord.ReadApproval(JsonNode.Parse(reader.GetString(7))!.AsObject()),
                ApprovedBy = reader.IsDBNull(8) ? null : reader.GetString(8),
                ApprovedAt = reader.IsDBNull(9) ? null : SqliteRows.FromMicros(reader.GetInt64(9)),
                Halt = reader.IsDBNull(10) ? null : MassActionRecord.ReadHalt(JsonNode.Parse(reader.GetString(10))!.AsObject()),
                CompletedAt = reader.IsDBNull(11) ? null : SqliteRows.FromMicros(reader.GetInt64(11)),
                Progress = new MassActionProgress
                {
                    Granted = reader.GetInt64(12),
                    Succeeded = reader.GetInt64(13),
                    Failed = reader.GetInt64(14),
                    WindowSucceeded = reader.GetInt64(15),
                    WindowFailed = reader.GetInt64(16),
                    Errors = MassActionProgress.ReadErrors(JsonNode.Parse(reader.GetString(17))!.AsObject()),
                    CapTat = reader.GetInt64(18),
                },
            });
        }

        return list;
    }

    /// <summary>The newest audit entry with a target and an action (the index on target keeps this short).</summary>
    public static AuditEntry? LastAudit(SqliteConnection connection, SqliteTransaction? transaction, string target, string action)
    {
        using var command = SqliteRows.Command(connection, transaction, LastAuditSql, ("$target", target), ("$action", action));
        if (command.ExecuteScalar() is not long seq)
        {
            return null;
        }

        AuditEntry? found = null;
        SqliteRows.ScanAudit(connection, transaction, seq - 1, 1, entry => found = entry);
        return found;
    }
}
