namespace Bulwark.Storage.Sqlite;

/// <summary>Options of the embedded SQLite store.</summary>
public sealed class SqliteStoreOptions
{
    /// <summary>The database file name inside the data directory.</summary>
    public const string FileName = "bulwark.db";

    /// <summary>The data directory; the database is <c>DIR/bulwark.db</c> with its WAL beside it.</summary>
    /// <value>Default <c>./.bulwark</c>.</value>
    public string DataDirectory { get; set; } = ".bulwark";

    /// <summary>
    /// Whether every commit is flushed to the disk before it is acknowledged (<c>synchronous=FULL</c>); when false,
    /// <c>synchronous=NORMAL</c> survives a process crash but may lose the last commits on power loss.
    /// </summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool FlushEachCommit { get; set; } = true;

    /// <summary>How many callers' write work may share one transaction (group commit).</summary>
    /// <value>Default 256.</value>
    public int MaxWritesPerCommit { get; set; } = 256;

    /// <summary>Where the store reports its metrics.</summary>
    /// <value>Default <see cref="StoreInstruments.Unobserved"/>.</value>
    public StoreInstruments Instruments { get; set; } = StoreInstruments.Unobserved;

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => Path.Combine(DataDirectory, FileName);
}
