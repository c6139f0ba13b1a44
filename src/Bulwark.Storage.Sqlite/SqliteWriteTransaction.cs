using Bulwark.Audit;
using Bulwark.Identity;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>One caller's unit of work inside the writer's transaction; counts changes and appends to enforce auditing.</summary>
internal sealed class SqliteWriteTransaction(SqliteConnection connection, SqliteTransaction transaction, DateTimeOffset now, AuditHead head) : IWriteTransaction
{
    public DateTimeOffset Now { get; } = AuditChain.Truncate(now);

    public AuditHead Head { get; private set; } = head;

    public int StateChanges { get; private set; }

    public int AuditAppends { get; private set; }

    public IdentityRecord? GetIdentity(string name) => SqliteRows.GetIdentity(connection, transaction, name);

    public IReadOnlyList<IdentityRecord> ListIdentities() => SqliteRows.ListIdentities(connection, transaction);

    public void PutIdentity(IdentityRecord identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        StateChanges++;
        SqliteRows.PutIdentity(connection, transaction, identity);
    }

    public bool DeleteIdentity(string name)
    {
        StateChanges++;
        using var revoke = SqliteRows.Command(
            connection,
            transaction,
            "UPDATE tokens SET revoked_at = $at WHERE identity = $name AND revoked_at IS NULL",
            ("$name", name),
            ("$at", SqliteRows.ToMicros(Now)));
        revoke.ExecuteNonQuery();
        using var delete = SqliteRows.Command(connection, transaction, "DELETE FROM identities WHERE name = $name", ("$name", name));
        return delete.ExecuteNonQuery() > 0;
    }

    public TokenRecord? GetToken(string id) =>
        SqliteRows.QueryTokens(connection, transaction, "WHERE id = $p", id).FirstOrDefault();

    public IReadOnlyList<TokenRecord> ListTokens(string identity) =>
        SqliteRows.QueryTokens(connection, transaction, "WHERE identity = $p", identity);

    public void InsertToken(TokenRecord token)
    {
        ArgumentNullException.ThrowIfNull(token);
        StateChanges++;
        using var command = SqliteRows.Command(
            connection,
            transaction,
            "INSERT INTO tokens (id, identity, hash, label, created_at, revoked_at) VALUES ($id, $identity, $hash, $label, $created, $revoked)",
            ("$id", token.Id),
            ("$identity", token.Identity),
            ("$hash", token.Hash),
            ("$label", token.Label),
            ("$created", SqliteRows.ToMicros(token.CreatedAt)),
            ("$revoked", token.RevokedAt is { } revoked ? SqliteRows.ToMicros(revoked) : null));
        command.ExecuteNonQuery();
    }

    public bool RevokeToken(string id, DateTimeOffset at)
    {
        StateChanges++;
        using var command = SqliteRows.Command(
            connection,
            transaction,
            "UPDATE tokens SET revoked_at = $at WHERE id = $id AND revoked_at IS NULL",
            ("$id", id),
            ("$at", SqliteRows.ToMicros(at)));
        return command.ExecuteNonQuery() > 0;
    }

    public void PutIdempotency(IdempotencyRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        using var command = SqliteRows.Command(
            connection,
            transaction,
            """
            INSERT INTO idempotency (scope, key, fingerprint, status, content_type, location, body, created_at)
            VALUES ($scope, $key, $fingerprint, $status, $type, $location, $body, $created)
            ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, status = excluded.status,
                content_type = excluded.content_type, location = excluded.location, body = excluded.body, created_at = excluded.created_at
            """,
            ("$scope", record.Scope),
            ("$key", record.Key),
            ("$fingerprint", record.Fingerprint),
            ("$status", record.Status),
            ("$type", record.ContentType),
            ("$location", record.Location),
            ("$body", record.Body),
            ("$created", SqliteRows.ToMicros(record.CreatedAt)));
        command.ExecuteNonQuery();
    }

    public int DeleteIdempotencyBefore(DateTimeOffset cutoff)
    {
        using var command = SqliteRows.Command(connection, transaction, "DELETE FROM idempotency WHERE created_at < $cutoff", ("$cutoff", SqliteRows.ToMicros(cutoff)));
        return command.ExecuteNonQuery();
    }

    public AuditEntry Append(AuditDraft draft)
    {
        var entry = AuditChain.Link(draft, Head, Now);
        SqliteRows.InsertAudit(connection, transaction, entry);
        Head = new AuditHead(entry.Seq, entry.Hash);
        AuditAppends++;
        return entry;
    }
}
