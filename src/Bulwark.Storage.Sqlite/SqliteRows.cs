using Bulwark.Audit;
using Bulwark.Identity;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>Row mapping shared by the read side and the write transaction. Times are stored as Unix microseconds.</summary>
internal static class SqliteRows
{
    private const string IdentityColumns = "name, roles, description, created_at, updated_at";
    private const string TokenColumns = "id, identity, hash, label, created_at, revoked_at";
    private const string AuditColumns = "seq, time, actor, action, target, before, after, reason, correlation_id, prev_hash, hash";

    public static long ToMicros(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    public static DateTimeOffset FromMicros(long micros) => DateTimeOffset.UnixEpoch.AddTicks(micros * 10);

    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    public static IdentityRecord? GetIdentity(SqliteConnection connection, SqliteTransaction? transaction, string name)
    {
        using var command = Command(connection, transaction, $"SELECT {IdentityColumns} FROM identities WHERE name = $name", ("$name", name));
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadIdentity(reader) : null;
    }

    public static IReadOnlyList<IdentityRecord> ListIdentities(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = Command(connection, transaction, $"SELECT {IdentityColumns} FROM identities ORDER BY name");
        using var reader = command.ExecuteReader();
        var list = new List<IdentityRecord>();
        while (reader.Read())
        {
            list.Add(ReadIdentity(reader));
        }

        return list;
    }

    public const string PutIdentitySql = $"""
        INSERT INTO identities ({IdentityColumns}) VALUES ($name, $roles, $description, $created, $updated)
        ON CONFLICT (name) DO UPDATE SET roles = excluded.roles, description = excluded.description, updated_at = excluded.updated_at
        """;

    public const string PutAuditHeadSql =
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, $seq, $hash) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash";

    public static List<TokenRecord> QueryTokens(SqliteConnection connection, SqliteTransaction? transaction, string where, object parameter)
    {
        using var command = Command(connection, transaction, $"SELECT {TokenColumns} FROM tokens {where} ORDER BY created_at DESC, id", ("$p", parameter));
        using var reader = command.ExecuteReader();
        var list = new List<TokenRecord>();
        while (reader.Read())
        {
            list.Add(new TokenRecord
            {
                Id = reader.GetString(0),
                Identity = reader.GetString(1),
                Hash = (byte[])reader.GetValue(2),
                Label = reader.IsDBNull(3) ? null : reader.GetString(3),
                CreatedAt = FromMicros(reader.GetInt64(4)),
                RevokedAt = reader.IsDBNull(5) ? null : FromMicros(reader.GetInt64(5)),
            });
        }

        return list;
    }

    public static IReadOnlyList<AuditEntry> ReadAudit(SqliteConnection connection, long afterSeq, int limit)
    {
        var list = new List<AuditEntry>();
        ScanAudit(connection, null, afterSeq, limit, list.Add);
        return list;
    }

    public static void ScanAudit(SqliteConnection connection, SqliteTransaction? transaction, long afterSeq, long limit, Action<AuditEntry> visit)
    {
        using var command = Command(connection, transaction, $"SELECT {AuditColumns} FROM audit WHERE seq > $after ORDER BY seq LIMIT $limit", ("$after", afterSeq), ("$limit", limit));
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            visit(new AuditEntry
            {
                Seq = reader.GetInt64(0),
                Time = FromMicros(reader.GetInt64(1)),
                Actor = reader.GetString(2),
                Action = reader.GetString(3),
                Target = reader.GetString(4),
                Before = reader.IsDBNull(5) ? null : reader.GetString(5),
                After = reader.IsDBNull(6) ? null : reader.GetString(6),
                Reason = reader.IsDBNull(7) ? null : reader.GetString(7),
                CorrelationId = reader.IsDBNull(8) ? null : reader.GetString(8),
                PrevHash = reader.GetString(9),
                Hash = reader.GetString(10),
            });
        }
    }

    public static void InsertAudit(SqliteCommandCache commands, SqliteTransaction transaction, AuditEntry entry) =>
        commands.Execute(
            $"INSERT INTO audit ({AuditColumns}) VALUES ($seq, $time, $actor, $action, $target, $before, $after, $reason, $cid, $prev, $hash)",
            transaction,
            ("$seq", entry.Seq),
            ("$time", ToMicros(entry.Time)),
            ("$actor", entry.Actor),
            ("$action", entry.Action),
            ("$target", entry.Target),
            ("$before", entry.Before),
            ("$after", entry.After),
            ("$reason", entry.Reason),
            ("$cid", entry.CorrelationId),
            ("$prev", entry.PrevHash),
            ("$hash", entry.Hash));

    public static AuditHead? RecordedHead(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = Command(connection, transaction, "SELECT seq, hash FROM audit_head WHERE id = 1");
        using var reader = command.ExecuteReader();
        return reader.Read() ? new AuditHead(reader.GetInt64(0), reader.GetString(1)) : null;
    }

    public static AuditHead? LastEntryHead(SqliteConnection connection)
    {
        using var command = Command(connection, null, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
        using var reader = command.ExecuteReader();
        return reader.Read() ? new AuditHead(reader.GetInt64(0), reader.GetString(1)) : null;
    }

    public static IdempotencyRecord? GetIdempotency(SqliteConnection connection, string scope, string key)
    {
        using var command = Command(
            connection,
            null,
            "SELECT fingerprint, status, content_type, location, body, created_at FROM idempotency WHERE scope = $scope AND key = $key",
            ("$scope", scope),
            ("$key", key));
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        return new IdempotencyRecord
        {
            Scope = scope,
            Key = key,
            Fingerprint = reader.GetString(0),
            Status = reader.GetInt32(1),
            ContentType = reader.IsDBNull(2) ? null : reader.GetString(2),
            Location = reader.IsDBNull(3) ? null : reader.GetString(3),
            Body = (byte[])reader.GetValue(4),
            CreatedAt = FromMicros(reader.GetInt64(5)),
        };
    }

    private static IdentityRecord ReadIdentity(SqliteDataReader reader)
    {
        var roles = new List<Role>();
        foreach (var name in reader.GetString(1).Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (Roles.TryParse(name, out var role))
            {
                roles.Add(role);
            }
        }

        return new IdentityRecord
        {
            Name = reader.GetString(0),
            Roles = roles,
            Description = reader.IsDBNull(2) ? null : reader.GetString(2),
            CreatedAt = FromMicros(reader.GetInt64(3)),
            UpdatedAt = FromMicros(reader.GetInt64(4)),
        };
    }
}
