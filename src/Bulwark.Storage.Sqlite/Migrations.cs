namespace Bulwark.Storage.Sqlite;

/// <summary>
/// The schema, as numbered steps that only ever get appended to. A database records the steps it has taken in
/// <c>schema_migrations</c>; each step runs in its own transaction.
/// </summary>
internal static class Migrations
{
    public static IReadOnlyList<(int Version, string Sql)> Steps { get; } =
    [
        (1, """
            CREATE TABLE identities (
                name        TEXT PRIMARY KEY,
                roles       TEXT NOT NULL,
                description TEXT,
                created_at  INTEGER NOT NULL,
                updated_at  INTEGER NOT NULL
            );
            CREATE TABLE tokens (
                id         TEXT PRIMARY KEY,
                identity   TEXT NOT NULL,
                hash       BLOB NOT NULL UNIQUE,
                label      TEXT,
                created_at INTEGER NOT NULL,
                revoked_at INTEGER
            );
            CREATE INDEX tokens_by_identity ON tokens (identity);
            CREATE TABLE audit (
                seq            INTEGER PRIMARY KEY,
                time           INTEGER NOT NULL,
                actor          TEXT NOT NULL,
                action         TEXT NOT NULL,
                target         TEXT NOT NULL,
                before         TEXT,
                after          TEXT,
                reason         TEXT,
                correlation_id TEXT,
                prev_hash      TEXT NOT NULL,
                hash           TEXT NOT NULL
            );
            CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
                BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
            CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
                BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
            CREATE TABLE audit_head (
                id   INTEGER PRIMARY KEY CHECK (id = 1),
                seq  INTEGER NOT NULL,
                hash TEXT NOT NULL
            );
            CREATE TABLE idempotency (
                scope        TEXT NOT NULL,
                key          TEXT NOT NULL,
                fingerprint  TEXT NOT NULL,
                status       INTEGER NOT NULL,
                content_type TEXT,
                location     TEXT,
                body         BLOB NOT NULL,
                created_at   INTEGER NOT NULL,
                PRIMARY KEY (scope, key)
            );
            CREATE INDEX idempotency_by_created ON idempotency (created_at);
            """),
        (2, """
            CREATE TABLE flags (
                key          TEXT PRIMARY KEY,
                definition   TEXT NOT NULL,
                state        INTEGER NOT NULL,
                millipercent INTEGER NOT NULL,
                archived     INTEGER NOT NULL,
                version      INTEGER NOT NULL,
                created_at   INTEGER NOT NULL,
                updated_at   INTEGER NOT NULL
            );
            CREATE TABLE flag_changes (
                id                TEXT PRIMARY KEY,
                flag_key          TEXT NOT NULL,
                from_state        INTEGER NOT NULL,
                from_millipercent INTEGER NOT NULL,
                to_state          INTEGER NOT NULL,
                to_millipercent   INTEGER NOT NULL,
                requested_by      TEXT NOT NULL,
                reason            TEXT,
                created_at        INTEGER NOT NULL,
                expires_at        INTEGER NOT NULL,
                status            INTEGER NOT NULL,
                decided_by        TEXT,
                decided_at        INTEGER
            );
            CREATE INDEX flag_changes_by_status ON flag_changes (status, created_at);
            CREATE TABLE counters (
                name  TEXT PRIMARY KEY,
                value INTEGER NOT NULL
            );
            INSERT INTO counters (name, value) VALUES ('flags_version', 0);
            """),
        (3, """
            CREATE TABLE throttles (
                name        TEXT PRIMARY KEY,
                definition  TEXT NOT NULL,
                tightening  TEXT,
                version     INTEGER NOT NULL,
                created_at  INTEGER NOT NULL,
                updated_at  INTEGER NOT NULL
            );
            INSERT INTO counters (name, value) VALUES ('throttles_version', 0);
            """),
        (4, """
            CREATE TABLE mass_actions (
                id               TEXT PRIMARY KEY,
                name             TEXT NOT NULL UNIQUE,
                definition       TEXT NOT NULL,
                state            INTEGER NOT NULL,
                created_by       TEXT NOT NULL,
                created_at       INTEGER NOT NULL,
                updated_at       INTEGER NOT NULL,
                approval         TEXT,
                approved_by      TEXT,
                approved_at      INTEGER,
                halt             TEXT,
                completed_at     INTEGER,
                granted          INTEGER NOT NULL,
                succeeded        INTEGER NOT NULL,
                failed           INTEGER NOT NULL,
                window_succeeded INTEGER NOT NULL,
                window_failed    INTEGER NOT NULL,
                errors           TEXT NOT NULL,
                cap_tat          INTEGER NOT NULL
            );
            CREATE INDEX mass_actions_by_created ON mass_actions (created_at);
            CREATE INDEX audit_by_target ON audit (target, seq);
            """),
        (5, """
            CREATE TABLE sources (
                name        TEXT PRIMARY KEY,
                definition  TEXT NOT NULL,
                version     INTEGER NOT NULL,
                created_at  INTEGER NOT NULL,
                updated_at  INTEGER NOT NULL
            );
            INSERT INTO counters (name, value) VALUES ('sources_version', 0);
            """),
        (6, """
            CREATE TABLE detections (
                seq               INTEGER PRIMARY KEY AUTOINCREMENT,
                id                TEXT NOT NULL UNIQUE,
                incident_id       TEXT,
                rule              TEXT NOT NULL,
                detected_event_at INTEGER NOT NULL,
                created_at        INTEGER NOT NULL,
                doc               TEXT NOT NULL
            );
            CREATE INDEX detections_by_incident ON detections (incident_id, seq);
            CREATE INDEX detections_by_rule ON detections (rule, seq);
            CREATE TABLE incidents (
                seq        INTEGER PRIMARY KEY AUTOINCREMENT,
                id         TEXT NOT NULL UNIQUE,
                status     INTEGER NOT NULL,
                severity   INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                doc        TEXT NOT NULL
            );
            CREATE INDEX incidents_by_status ON incidents (status, seq);
            CREATE INDEX incidents_by_severity ON incidents (severity, seq);
            CREATE TABLE definitions (
                kind       TEXT NOT NULL,
                name       TEXT NOT NULL,
                document   TEXT NOT NULL,
                version    INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                PRIMARY KEY (kind, name)
            );
            """),
        (7, """
            CREATE TABLE runs (
                seq         INTEGER PRIMARY KEY AUTOINCREMENT,
                id          TEXT NOT NULL UNIQUE,
                playbook    TEXT NOT NULL,
                incident_id TEXT NOT NULL,
                status      TEXT NOT NULL,
                active      INTEGER NOT NULL,
                created_at  INTEGER NOT NULL,
                updated_at  INTEGER NOT NULL,
                doc         TEXT NOT NULL
            );
            CREATE UNIQUE INDEX runs_by_playbook_incident ON runs (playbook, incident_id);
            CREATE INDEX runs_by_incident ON runs (incident_id, seq);
            CREATE INDEX runs_active ON runs (active, seq);
            CREATE TABLE approvals (
                seq        INTEGER PRIMARY KEY AUTOINCREMENT,
                id         TEXT NOT NULL UNIQUE,
                run_id     TEXT NOT NULL,
                step_id    TEXT,
                status     TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                doc        TEXT NOT NULL
            );
            CREATE INDEX approvals_by_status ON approvals (status, seq);
            CREATE INDEX approvals_by_run ON approvals (run_id, seq);
            """),
        (8, """
            CREATE TABLE throttle_blocks (
                throttle       TEXT NOT NULL,
                key            TEXT NOT NULL,
                until          INTEGER NOT NULL,
                reason         TEXT,
                set_by         TEXT NOT NULL,
                created_at     INTEGER NOT NULL,
                updated_at     INTEGER NOT NULL,
                previous_until INTEGER,
                change_key     TEXT,
                PRIMARY KEY (throttle, key)
            );
            CREATE INDEX throttle_blocks_by_until ON throttle_blocks (until);
            CREATE TABLE evidence (
                seq             INTEGER PRIMARY KEY AUTOINCREMENT,
                id              TEXT NOT NULL UNIQUE,
                incident_id     TEXT NOT NULL,
                idempotency_key TEXT NOT NULL UNIQUE,
                sha256          TEXT NOT NULL,
                events          INTEGER NOT NULL,
                detections      INTEGER NOT NULL,
                created_by      TEXT NOT NULL,
                created_at      INTEGER NOT NULL,
                content         TEXT NOT NULL
            );
            CREATE INDEX evidence_by_incident ON evidence (incident_id, seq);
            CREATE TRIGGER evidence_no_update BEFORE UPDATE ON evidence
                BEGIN SELECT RAISE(ABORT, 'evidence records are write-once'); END;
            CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence
                BEGIN SELECT RAISE(ABORT, 'evidence records are write-once'); END;
            """),

        // An incident that grows after its run started gets a follow-up run for the accounts and IPs that joined it.
        (9, """
            DROP INDEX runs_by_playbook_incident;
            CREATE INDEX runs_by_playbook_incident ON runs (playbook, incident_id, seq);
            """),
    ];

    public static int Latest => Steps[^1].Version;
}
