using Bulwark.Identity;

namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>Options of the embedded ingest store (<see cref="SqliteEventStore"/>).</summary>
public sealed class SqliteEventStoreOptions
{
    /// <summary>The usual file name of the ingest database, beside the control store's <c>bulwark.db</c>.</summary>
    public const string FileName = "events.db";

    /// <summary>
    /// The name of the ingest store's raw file (raw snapshots and delivery ids), in the directory of the event log's file.
    /// </summary>
    public const string RawFileName = "raw.db";

    /// <summary>
    /// Whether every commit is flushed to the disk before it is acknowledged (<c>synchronous=FULL</c>); when false,
    /// <c>synchronous=NORMAL</c> survives a process crash but may lose the last commits on power loss.
    /// </summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool FlushEachCommit { get; set; } = true;

    /// <summary>How many callers' writes may share one transaction, so one flush (group commit), in each of the two files.</summary>
    /// <value>Default 512.</value>
    public int MaxWritesPerCommit { get; set; } = 512;

    /// <summary>
    /// How many of the snapshots committed last are kept in memory, so that reading them in order (the normalizer,
    /// right behind the deliveries, at most a batch of 256 behind when it keeps up) needs no query; reads further back
    /// go to the file. Keep it small: everything the tail holds lives long enough to be copied by the garbage
    /// collector's young generations, and at 2,048 snapshots (with 4,096 events) their pauses were twice as long and
    /// set the webhook endpoint's p99 (<c>bench/results/webhook-ingest.md</c>).
    /// </summary>
    /// <value>Default 512.</value>
    public int RecentSnapshots { get; set; } = 512;

    /// <summary>
    /// How many of the events appended last are kept in memory, so that the event log's consumers (detection, metrics),
    /// reading right behind the writer, get them without a query; reads further back go to the file. Small for the
    /// same reason as <see cref="RecentSnapshots"/>.
    /// </summary>
    /// <value>Default 1,024.</value>
    public int RecentEvents { get; set; } = 1024;

    /// <summary>
    /// How often a checkpointer of each file, on a connection of its own, copies committed WAL pages into the database
    /// file (<c>PRAGMA wal_checkpoint(PASSIVE)</c>, which never blocks the writer). The writer still checkpoints when its
    /// WAL reaches 8,192 pages, because only it can start the WAL over, but by then most pages are copied and flushed,
    /// so it stalls acknowledgements for the remainder only. <see cref="TimeSpan.Zero"/> turns it off.
    /// </summary>
    /// <value>Default 250 ms.</value>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The randomness in snapshot and quarantine ids.</summary>
    /// <value>Default <see cref="SystemRandomSource.Instance"/>.</value>
    public IRandomSource Random { get; set; } = SystemRandomSource.Instance;
}
