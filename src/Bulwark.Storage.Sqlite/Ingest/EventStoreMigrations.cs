namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>
/// The event log file's schema (<c>events.db</c>: events, consumer offsets, quarantine, cursors), as numbered steps
/// that only ever get appended to (its own series, recorded in its own <c>schema_migrations</c>). Times are Unix
/// milliseconds. Steps 1 and 2 are the one-file layout, which also held the raw snapshots and delivery ids; step 3
/// drops those after <see cref="SqliteEventStore"/> has copied them into the raw file (<see cref="RawStoreMigrations"/>),
/// and drops the type and platform indexes (queries on those walk the log by offset).
/// </summary>
internal static class EventStoreMigrations
{
    /// <summary>The step that drops the raw tables: their rows are copied into the raw file before it runs.</summary>
    public const int DropsRawTables = 3;

    public static IReadOnlyList<(int Version, string Sql)> Steps { get; } =
    [
        (1, """
            CREATE TABLE raw_snapshots (
                seq          INTEGER PRIMARY KEY AUTOINCREMENT,
                id           TEXT NOT NULL UNIQUE,
                source       TEXT NOT NULL,
                received_at  INTEGER NOT NULL,
                headers      TEXT NOT NULL,
                body         BLOB NOT NULL,
                sha256       BLOB NOT NULL,
                content_type TEXT,
                verification INTEGER NOT NULL,
                delivery_id  TEXT
            );
            CREATE TRIGGER raw_snapshots_no_update BEFORE UPDATE ON raw_snapshots
                BEGIN SELECT RAISE(ABORT, 'raw snapshots are immutable'); END;
            CREATE TRIGGER raw_snapshots_no_delete BEFORE DELETE ON raw_snapshots
                BEGIN SELECT RAISE(ABORT, 'raw snapshots are immutable'); END;
            CREATE TRIGGER raw_snapshots_no_replace BEFORE INSERT ON raw_snapshots
                WHEN EXISTS (SELECT 1 FROM raw_snapshots WHERE seq = NEW.seq OR id = NEW.id)
                BEGIN SELECT RAISE(ABORT, 'raw snapshots are immutable'); END;
            CREATE TABLE delivery_ids (
                source      TEXT NOT NULL,
                delivery_id TEXT NOT NULL,
                snapshot_id TEXT NOT NULL,
                expires_at  INTEGER NOT NULL,
                PRIMARY KEY (source, delivery_id)
            );
            CREATE INDEX delivery_ids_by_expiry ON delivery_ids (expires_at);
            CREATE TABLE events (
                "offset"    INTEGER PRIMARY KEY AUTOINCREMENT,
                source      TEXT NOT NULL,
                id          TEXT NOT NULL,
                platform    TEXT NOT NULL,
                event_type  TEXT NOT NULL,
                account_id  TEXT NOT NULL,
                ts          INTEGER NOT NULL,
                received_at INTEGER NOT NULL,
                snapshot_id TEXT,
                doc         TEXT NOT NULL,
                UNIQUE (source, id)
            );
            CREATE INDEX events_by_account ON events (account_id, "offset");
            CREATE INDEX events_by_type ON events (event_type, "offset");
            CREATE INDEX events_by_platform ON events (platform, "offset");
            CREATE INDEX events_by_ts ON events (ts);
            CREATE TABLE consumer_offsets (
                consumer   TEXT PRIMARY KEY,
                "offset"   INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            );
            CREATE TABLE quarantine (
                id          TEXT PRIMARY KEY,
                snapshot_id TEXT NOT NULL UNIQUE,
                source      TEXT NOT NULL,
                reason      TEXT NOT NULL,
                issues      TEXT NOT NULL,
                created_at  INTEGER NOT NULL,
                updated_at  INTEGER NOT NULL,
                attempts    INTEGER NOT NULL,
                status      INTEGER NOT NULL
            );
            CREATE INDEX quarantine_by_status ON quarantine (status, created_at);
            CREATE INDEX quarantine_by_created ON quarantine (created_at);
            """),
        (2, """
            CREATE TABLE cursors (
                name       TEXT PRIMARY KEY,
                value      TEXT NOT NULL,
                updated_at INTEGER NOT NULL
            );
            """),
        (DropsRawTables, """
            DROP TABLE raw_snapshots;
            DROP TABLE delivery_ids;
            DROP INDEX events_by_type;
            DROP INDEX events_by_platform;
            """),
    ];

    public static int Latest => Steps[^1].Version;
}

/// <summary>
/// The raw file's schema (<c>raw.db</c>: raw snapshots, which also serve as the record of delivery ids), its own series
/// like <see cref="EventStoreMigrations"/>. Raw snapshots refuse every UPDATE and DELETE, and an INSERT OR REPLACE over
/// an existing one (REPLACE deletes without firing delete triggers). Step 1 kept delivery ids in a table of their own;
/// step 2 moves them into the snapshots (each snapshot's <c>dedupe_until</c>, and an index on source and delivery id):
/// one B-tree written per delivery instead of two (the table and its expiry index), and nothing to sweep.
/// </summary>
internal static class RawStoreMigrations
{
    /// <summary>
    /// The step that folds the delivery id table into the snapshots: it runs after the one-file layout's delivery ids
    /// have been copied into that table (<see cref="EventStoreMigrations.DropsRawTables"/>).
    /// </summary>
    public const int DedupeInSnapshots = 2;

    public static IReadOnlyList<(int Version, string Sql)> Steps { get; } =
    [
        (1, """
            CREATE TABLE raw_snapshots (
                seq          INTEGER PRIMARY KEY AUTOINCREMENT,
                id           TEXT NOT NULL UNIQUE,
                source       TEXT NOT NULL,
                received_at  INTEGER NOT NULL,
                headers      TEXT NOT NULL,
                body         BLOB NOT NULL,
                sha256       BLOB NOT NULL,
                content_type TEXT,
                verification INTEGER NOT NULL,
                delivery_id  TEXT
            );
            CREATE TRIGGER raw_snapshots_no_update BEFORE UPDATE ON raw_snapshots
                BEGIN SELECT RAISE(ABORT, 'raw snapshots are immutable'); END;
            CREATE TRIGGER raw_snapshots_no_delete BEFORE DELETE ON raw_snapshots
                BEGIN SELECT RAISE(ABORT, 'raw snapshots are immutable'); END;
            CREATE TRIGGER raw_snapshots_no_replace BEFORE INSERT ON raw_snapshots
                WHEN EXISTS (SELECT 1 FROM raw_snapshots WHERE seq = NEW.seq OR id = NEW.id)
                BEGIN SELECT RAISE(ABORT, 'raw snapshots are immutable'); END;
            CREATE TABLE delivery_ids (
                source      TEXT NOT NULL,
                delivery_id TEXT NOT NULL,
                snapshot_id TEXT NOT NULL,
                expires_at  INTEGER NOT NULL,
                PRIMARY KEY (source, delivery_id)
            ) WITHOUT ROWID;
            CREATE INDEX delivery_ids_by_expiry ON delivery_ids (expires_at);
            """),

        // Each snapshot keeps how long its delivery id is remembered; the claims still live are copied over (the
        // immutability trigger steps aside for that one UPDATE). Claims already swept stay forgotten.
        (DedupeInSnapshots, """
            ALTER TABLE raw_snapshots ADD COLUMN dedupe_until INTEGER;
            DROP TRIGGER raw_snapshots_no_update;
            UPDATE raw_snapshots SET dedupe_until = d.expires_at FROM delivery_ids AS d
                WHERE d.snapshot_id = raw_snapshots.id AND d.source = raw_snapshots.source
                    AND d.delivery_id = raw_snapshots.delivery_id;
            CREATE TRIGGER raw_snapshots_no_update BEFORE UPDATE ON raw_snapshots
                BEGIN SELECT RAISE(ABORT, 'raw snapshots are immutable'); END;
            DROP TABLE delivery_ids;
            CREATE INDEX raw_snapshots_by_delivery ON raw_snapshots (source, delivery_id) WHERE delivery_id IS NOT NULL;
            """),
    ];

    public static int Latest => Steps[^1].Version;
}
