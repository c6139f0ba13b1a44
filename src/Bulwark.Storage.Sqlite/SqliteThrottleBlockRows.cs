using Bulwark.Throttling;
using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>Row mapping for manual throttle blocks: one row per throttle and key, replaced when the block changes.</summary>
internal static class SqliteThrottleBlockRows
{
    public const string PutSql = $"""
        INSERT INTO throttle_blocks ({Columns})
        VALUES ($throttle, $key, $until, $reason, $by, $created, $updated, $previous, $change)
        ON CONFLICT (throttle, key) DO UPDATE SET until = excluded.until, reason = excluded.reason, set_by = excluded.set_by,
            created_at = excluded.created_at, updated_at = excluded.updated_at, previous_until = excluded.previous_until,
            change_key = excluded.change_key
        """;

    public const string DeleteSql = "DELETE FROM throttle_blocks WHERE throttle = $throttle AND key = $key";

    public const string DeleteBeforeSql = "DELETE FROM throttle_blocks WHERE until <= $cutoff";

    private const string Columns = "throttle, key, until, reason, set_by, created_at, updated_at, previous_until, change_key";

    public static (string Name, object? Value)[] Parameters(ThrottleManualBlock block) =>
    [
        ("$throttle", block.Throttle),
        ("$key", block.Key),
        ("$until", SqliteRows.ToMicros(block.Until)),
        ("$reason", block.Reason),
        ("$by", block.By),
        ("$created", SqliteRows.ToMicros(block.CreatedAt)),
        ("$updated", SqliteRows.ToMicros(block.UpdatedAt)),
        ("$previous", block.PreviousUntil is { } previous ? SqliteRows.ToMicros(previous) : null),
        ("$change", block.ChangeKey),
    ];

    public static ThrottleManualBlock? Get(SqliteConnection connection, SqliteTransaction? transaction, string throttle, string key) =>
        Query(connection, transaction, "WHERE throttle = $throttle AND key = $key", ("$throttle", throttle), ("$key", key)).FirstOrDefault();

    public static List<ThrottleManualBlock> List(SqliteConnection connection, SqliteTransaction? transaction, string? throttle) =>
        throttle is null ? Query(connection, transaction, string.Empty) : Query(connection, transaction, "WHERE throttle = $throttle", ("$throttle", throttle));

    private static List<ThrottleManualBlock> Query(SqliteConnection connection, SqliteTransaction? transaction, string where, params (string Name, object? Value)[] parameters)
    {
        using var command = SqliteRows.Command(connection, transaction, $"SELECT {Columns} FROM throttle_blocks {where} ORDER BY throttle, key", parameters);
        using var reader = command.ExecuteReader();
        var list = new List<ThrottleManualBlock>();
        while (reader.Read())
        {
            list.Add(new ThrottleManualBlock
            {
                Throttle = reader.GetString(0),
                Key = reader.GetString(1),
                Until = SqliteRows.FromMicros(reader.GetInt64(2)),
                Reason = reader.IsDBNull(3) ? null : reader.GetString(3),
                By = reader.GetString(4),
                CreatedAt = SqliteRows.FromMicros(reader.GetInt64(5)),
                UpdatedAt = SqliteRows.FromMicros(reader.GetInt64(6)),
                PreviousUntil = reader.IsDBNull(7) ? null : SqliteRows.FromMicros(reader.GetInt64(7)),
                ChangeKey = reader.IsDBNull(8) ? null : reader.GetString(8),
            });
        }

        return list;
    }
}
