using Bulwark.Audit;
using Bulwark.Detection.Incidents;
using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.MassActions;
using Bulwark.Throttling;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>
/// One caller's unit of work inside the writer's transaction; counts changes and appends to enforce auditing. Writes use
/// the writer's prepared statements; the audit head row is written once per commit by the store.
/// </summary>
internal sealed class SqliteWriteTransaction(SqliteConnection connection, SqliteTransaction transaction, SqliteCommandCache commands, DateTimeOffset now, AuditHead head) : IWriteTransaction
{
    public DateTimeOffset Now { get; } = AuditChain.Truncate(now);

    /// <summary>The writer connection, for tests that simulate SQLite failing underneath a unit of work.</summary>
    internal SqliteConnection Connection => connection;

    public AuditHead Head { get; private set; } = head;

    public int StateChanges { get; private set; }

    public int AuditAppends { get; private set; }

    public IdentityRecord? GetIdentity(string name) => SqliteRows.GetIdentity(connection, transaction, name);

    public IReadOnlyList<IdentityRecord> ListIdentities() => SqliteRows.ListIdentities(connection, transaction);

    public void PutIdentity(IdentityRecord identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        StateChanges++;
        commands.Execute(
            SqliteRows.PutIdentitySql,
            transaction,
            ("$name", identity.Name),
            ("$roles", string.Join(',', identity.Roles.Select(Roles.Name))),
            ("$description", identity.Description),
            ("$created", SqliteRows.ToMicros(identity.CreatedAt)),
            ("$updated", SqliteRows.ToMicros(identity.UpdatedAt)));
    }

    public bool DeleteIdentity(string name)
    {
        StateChanges++;
        commands.Execute(
            "UPDATE tokens SET revoked_at = $at WHERE identity = $name AND revoked_at IS NULL",
            transaction,
            ("$name", name),
            ("$at", SqliteRows.ToMicros(Now)));
        return commands.Execute("DELETE FROM identities WHERE name = $name", transaction, ("$name", name)) > 0;
    }

    public TokenRecord? GetToken(string id) =>
        SqliteRows.QueryTokens(connection, transaction, "WHERE id = $p", id).FirstOrDefault();

    public IReadOnlyList<TokenRecord> ListTokens(string identity) =>
        SqliteRows.QueryTokens(connection, transaction, "WHERE identity = $p", identity);

    public void InsertToken(TokenRecord token)
    {
        ArgumentNullException.ThrowIfNull(token);
        StateChanges++;
        commands.Execute(
            "INSERT INTO tokens (id, identity, hash, label, created_at, revoked_at) VALUES ($id, $identity, $hash, $label, $created, $revoked)",
            transaction,
            ("$id", token.Id),
            ("$identity", token.Identity),
            ("$hash", token.Hash),
            ("$label", token.Label),
            ("$created", SqliteRows.ToMicros(token.CreatedAt)),
            ("$revoked", token.RevokedAt is { } revoked ? SqliteRows.ToMicros(revoked) : null));
    }

    public bool RevokeToken(string id, DateTimeOffset at)
    {
        StateChanges++;
        return commands.Execute(
            "UPDATE tokens SET revoked_at = $at WHERE id = $id AND revoked_at IS NULL",
            transaction,
            ("$id", id),
            ("$at", SqliteRows.ToMicros(at))) > 0;
    }

    public FlagRecord? GetFlag(string key) =>
        SqliteFlagRows.QueryFlags(connection, transaction, "WHERE key = $p", key).FirstOrDefault();

    public long PutFlag(FlagRecord flag)
    {
        ArgumentNullException.ThrowIfNull(flag);
        StateChanges++;
        return (long)commands.Get(SqliteFlagRows.PutFlagSql, transaction, SqliteFlagRows.FlagParameters(flag)).ExecuteScalar()!;
    }

    public SourceRecord? GetSource(string name) =>
        SqliteSourceRows.Query(connection, transaction, "WHERE name = $p", name).FirstOrDefault();

    public long PutSource(SourceRecord source)
    {
        ArgumentNullException.ThrowIfNull(source);
        StateChanges++;
        return (long)commands.Get(SqliteSourceRows.PutSql, transaction, SqliteSourceRows.Parameters(source)).ExecuteScalar()!;
    }

    public ThrottleRecord? GetThrottle(string name) =>
        SqliteThrottleRows.Query(connection, transaction, "WHERE name = $p", name).FirstOrDefault();

    public long PutThrottle(ThrottleRecord throttle)
    {
        ArgumentNullException.ThrowIfNull(throttle);
        StateChanges++;
        return (long)commands.Get(SqliteThrottleRows.PutSql, transaction, SqliteThrottleRows.Parameters(throttle)).ExecuteScalar()!;
    }

    public ThrottleManualBlock? GetThrottleBlock(string throttle, string key) =>
        SqliteThrottleBlockRows.Get(connection, transaction, throttle, key);

    public void PutThrottleBlock(ThrottleManualBlock block)
    {
        ArgumentNullException.ThrowIfNull(block);
        StateChanges++;
        commands.Execute(SqliteThrottleBlockRows.PutSql, transaction, SqliteThrottleBlockRows.Parameters(block));
    }

    public bool DeleteThrottleBlock(string throttle, string key)
    {
        StateChanges++;
        return commands.Execute(SqliteThrottleBlockRows.DeleteSql, transaction, ("$throttle", throttle), ("$key", key)) > 0;
    }

    public int DeleteThrottleBlocksBefore(DateTimeOffset cutoff) =>
        commands.Execute(SqliteThrottleBlockRows.DeleteBeforeSql, transaction, ("$cutoff", SqliteRows.ToMicros(cutoff)));

    public DefinitionRecord? GetDefinition(string kind, string name) =>
        SqliteDefinitionRows.Query(connection, transaction, kind, name).FirstOrDefault();

    public long PutDefinition(DefinitionRecord definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        StateChanges++;
        return (long)commands.Get(SqliteDefinitionRows.PutSql, transaction, SqliteDefinitionRows.Parameters(definition)).ExecuteScalar()!;
    }

    public DetectionRecord? GetDetection(string id) => SqliteDetectionRows.GetDetection(connection, transaction, id);

    public bool InsertDetection(DetectionRecord detection)
    {
        ArgumentNullException.ThrowIfNull(detection);
        var inserted = commands.Execute(SqliteDetectionRows.InsertDetectionSql, transaction, SqliteDetectionRows.Parameters(detection)) > 0;
        if (inserted)
        {
            StateChanges++;
        }

        return inserted;
    }

    public IncidentRecord? GetIncident(string id) => SqliteDetectionRows.GetIncident(connection, transaction, id);

    public void PutIncident(IncidentRecord incident)
    {
        ArgumentNullException.ThrowIfNull(incident);
        StateChanges++;
        commands.Execute(SqliteDetectionRows.PutIncidentSql, transaction, SqliteDetectionRows.Parameters(incident));
    }

    public Bulwark.Response.StoredRun? GetRun(string id) => SqliteRunRows.GetRun(connection, transaction, id);

    public IReadOnlyList<Bulwark.Response.StoredRun> FindRuns(string playbook, string incidentId) => SqliteRunRows.FindRuns(connection, transaction, playbook, incidentId);

    public void PutRun(Bulwark.Response.StoredRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        StateChanges++;
        commands.Execute(SqliteRunRows.PutRunSql, transaction, SqliteRunRows.Parameters(run));
    }

    public Bulwark.Response.StoredApproval? GetApproval(string id) => SqliteRunRows.GetApproval(connection, transaction, id);

    public void PutApproval(Bulwark.Response.StoredApproval approval)
    {
        ArgumentNullException.ThrowIfNull(approval);
        StateChanges++;
        commands.Execute(SqliteRunRows.PutApprovalSql, transaction, SqliteRunRows.Parameters(approval));
    }

    public Bulwark.Response.StoredEvidence? FindEvidence(string idempotencyKey) =>
        SqliteEvidenceRows.FindByKey(connection, transaction, idempotencyKey);

    public bool InsertEvidence(Bulwark.Response.StoredEvidence evidence)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        var inserted = commands.Execute(SqliteEvidenceRows.InsertSql, transaction, SqliteEvidenceRows.Parameters(evidence)) > 0;
        if (inserted)
        {
            StateChanges++;
        }

        return inserted;
    }

    public MassActionRecord? GetMassAction(string idOrName) =>
        SqliteMassActionRows.Query(connection, transaction, "WHERE id = $p OR name = $p", idOrName).FirstOrDefault();

    public void PutMassAction(MassActionRecord action)
    {
        ArgumentNullException.ThrowIfNull(action);
        StateChanges++;
        commands.Execute(SqliteMassActionRows.PutSql, transaction, SqliteMassActionRows.Parameters(action));
    }

    public bool PutMassActionProgress(string id, MassActionProgress progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        return commands.Execute(SqliteMassActionRows.ProgressSql, transaction, SqliteMassActionRows.ProgressParameters(id, progress)) > 0;
    }

    public AuditEntry? FindLastAudit(string target, string action) =>
        SqliteMassActionRows.LastAudit(connection, transaction, target, action);

    public PendingChange? GetChange(string id) =>
        SqliteFlagRows.QueryChanges(connection, transaction, "WHERE id = $p", id).FirstOrDefault();

    public void PutChange(PendingChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        StateChanges++;
        commands.Execute(SqliteFlagRows.PutChangeSql, transaction, SqliteFlagRows.ChangeParameters(change));
    }

    public void PutIdempotency(IdempotencyRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        commands.Execute(
            """
            INSERT INTO idempotency (scope, key, fingerprint, status, content_type, location, body, created_at)
            VALUES ($scope, $key, $fingerprint, $status, $type, $location, $body, $created)
            ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, status = excluded.status,
                content_type = excluded.content_type, location = excluded.location, body = excluded.body, created_at = excluded.created_at
            """,
            transaction,
            ("$scope", record.Scope),
            ("$key", record.Key),
            ("$fingerprint", record.Fingerprint),
            ("$status", record.Status),
            ("$type", record.ContentType),
            ("$location", record.Location),
            ("$body", record.Body),
            ("$created", SqliteRows.ToMicros(record.CreatedAt)));
    }

    public int DeleteIdempotencyBefore(DateTimeOffset cutoff) =>
        commands.Execute("DELETE FROM idempotency WHERE created_at < $cutoff", transaction, ("$cutoff", SqliteRows.ToMicros(cutoff)));

    public AuditEntry Append(AuditDraft draft)
    {
        var entry = AuditChain.Link(draft, Head, Now);
        SqliteRows.InsertAudit(commands, transaction, entry);
        Head = new AuditHead(entry.Seq, entry.Hash);
        AuditAppends++;
        return entry;
    }
}
