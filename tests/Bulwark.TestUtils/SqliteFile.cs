using Microsoft.Data.Sqlite;

namespace Bulwark.TestUtils;

/// <summary>Direct access to a store's SQLite file, as an attacker with file access would have: to tamper with it in tests.</summary>
public static class SqliteFile
{
    /// <summary>Runs <paramref name="sql"/> against the file after dropping the append-only triggers.</summary>
    public static void Tamper(string databasePath, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;\n" + sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Runs a query and returns the first column of every row.</summary>
    public static List<object?> Query(string databasePath, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False;Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object?>();
        while (reader.Read())
        {
            rows.Add(reader.IsDBNull(0) ? null : reader.GetValue(0));
        }

        return rows;
    }
}
