using Microsoft.Data.Sqlite;

namespace Bulwark.Storage.Sqlite;

/// <summary>
/// The writer's prepared statements, one command per SQL text, kept for the life of the writer connection: compiling
/// SQL once instead of per call is most of the cost of a small write.
/// </summary>
internal sealed class SqliteCommandCache(SqliteConnection connection) : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RawStatement> _statements = new(StringComparer.Ordinal);

    /// <summary>The statement for <paramref name="sql"/> (positional parameters), prepared on first use.</summary>
    public RawStatement Raw(string sql)
    {
        if (!_statements.TryGetValue(sql, out var statement))
        {
            statement = new RawStatement(connection, sql);
            _statements[sql] = statement;
        }

        return statement;
    }

    public SqliteCommand Get(string sql, SqliteTransaction transaction, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            _commands[sql] = command;
        }

        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            if (command.Parameters.Contains(name))
            {
                command.Parameters[name].Value = value ?? DBNull.Value;
            }
            else
            {
                command.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }
        }

        return command;
    }

    public int Execute(string sql, SqliteTransaction transaction, params ReadOnlySpan<(string Name, object? Value)> parameters) =>
        Get(sql, transaction, parameters).ExecuteNonQuery();

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
        foreach (var statement in _statements.Values)
        {
            statement.Dispose();
        }

        _statements.Clear();
    }
}
