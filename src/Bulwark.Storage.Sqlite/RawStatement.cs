using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Bulwark.Storage.Sqlite;

/// <summary>
/// One statement prepared once on a writer's connection and run straight through SQLite's C interface, for the
/// statements every delivery and every event runs. <see cref="SqliteCommand"/> allocates a reader, an iterator and a
/// binder per parameter on each execution, boxes numbers and copies text to UTF-8; here parameters are bound by
/// position (<c>?1</c>, <c>?2</c>, …) from spans, so a run allocates nothing. It runs inside whatever transaction the
/// connection has open. Not thread-safe: it belongs to its writer.
/// </summary>
internal sealed class RawStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;

    public RawStatement(SqliteConnection connection, string sql)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        Check(raw.sqlite3_prepare_v3(_db, sql, raw.SQLITE_PREPARE_PERSISTENT, out _statement));
    }

    public RawStatement Text(int index, string? value) =>
        Bound(value is null ? raw.sqlite3_bind_null(_statement, index) : raw.sqlite3_bind_text16(_statement, index, value.AsSpan()));

    /// <summary>Binds UTF-8 bytes as TEXT (SQLite stores them as they are).</summary>
    public RawStatement Utf8(int index, ReadOnlySpan<byte> value) => Bound(raw.sqlite3_bind_text(_statement, index, value));

    public RawStatement Blob(int index, ReadOnlySpan<byte> value) => Bound(raw.sqlite3_bind_blob(_statement, index, value));

    public RawStatement Integer(int index, long value) => Bound(raw.sqlite3_bind_int64(_statement, index, value));

    public RawStatement Integer(int index, long? value) =>
        value is { } number ? Integer(index, number) : Bound(raw.sqlite3_bind_null(_statement, index));

    /// <summary>Runs a statement that returns no rows; the rows it changed.</summary>
    public int Execute()
    {
        try
        {
            Step();
            return raw.sqlite3_changes(_db);
        }
        finally
        {
            Clear();
        }
    }

    /// <summary>Runs a query for whether it returns a row.</summary>
    public bool Exists()
    {
        try
        {
            return Step();
        }
        finally
        {
            Clear();
        }
    }

    /// <summary>Runs a query for the first column of its first row as text (<see langword="null"/> without a row).</summary>
    public string? ScalarText()
    {
        try
        {
            return Step() ? raw.sqlite3_column_text(_statement, 0).utf8_to_string() : null;
        }
        finally
        {
            Clear();
        }
    }

    public void Dispose() => _statement.Dispose();

    /// <summary>Steps once: true on a row, false when done, throws on an error.</summary>
    private bool Step()
    {
        var rc = raw.sqlite3_step(_statement);
        if (rc != raw.SQLITE_DONE && rc != raw.SQLITE_ROW)
        {
            Check(rc);
        }

        return rc == raw.SQLITE_ROW;
    }

    private void Clear()
    {
        raw.sqlite3_reset(_statement);
        raw.sqlite3_clear_bindings(_statement);
    }

    private RawStatement Bound(int rc)
    {
        Check(rc);
        return this;
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            throw new SqliteException(raw.sqlite3_errmsg(_db).utf8_to_string(), rc, raw.sqlite3_extended_errcode(_db));
        }
    }
}
