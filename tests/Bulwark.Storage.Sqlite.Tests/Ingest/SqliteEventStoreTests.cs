using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.Storage.Sqlite.Ingest;
using Bulwark.TestUtils;
using Microsoft.Data.Sqlite;

namespace Bulwark.StorageSqlite.Tests.Ingest;

/// <summary>The ingest store contract over a real SQLite file, and what only the SQLite adapter promises.</summary>
public sealed class SqliteEventStoreTests : EventStoreContract
{
    private readonly TempDirectory _directory = new();

    private string DatabasePath => _directory.Combine("data", SqliteEventStoreOptions.FileName);

    private string RawPath => _directory.Combine("data", SqliteEventStoreOptions.RawFileName);

    protected override async Task<IEventStore> OpenStoreCoreAsync(TimeProvider time) => await OpenSqliteAsync(DatabasePath, time);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }

    private static async Task<SqliteEventStore> OpenSqliteAsync(string path, TimeProvider time, SqliteEventStoreOptions? options = null)
    {
        var store = new SqliteEventStore(path, time, options);
        await store.MigrateAsync();
        return store;
    }

    private async Task<SqliteEventStore> OpenSqliteStoreAsync() => (SqliteEventStore)await OpenStoreAsync();

    [Theory]
    [InlineData(5, true)] // SQLITE_BUSY
    [InlineData(6, true)] // SQLITE_LOCKED
    [InlineData(8, true)] // SQLITE_READONLY
    [InlineData(10, true)] // SQLITE_IOERR
    [InlineData(10 | (4 << 8), true)] // SQLITE_IOERR_FSYNC, an extended code
    [InlineData(11, true)] // SQLITE_CORRUPT
    [InlineData(13, true)] // SQLITE_FULL
    [InlineData(14, true)] // SQLITE_CANTOPEN
    [InlineData(26, true)] // SQLITE_NOTADB
    [InlineData(1, false)] // SQLITE_ERROR: a statement the server got wrong
    [InlineData(18, false)] // SQLITE_TOOBIG
    [InlineData(19, false)] // SQLITE_CONSTRAINT: a row the store refuses
    public async Task IsUnavailable_ErrorsOfTheDiskOrTheLocks_NotRefusals(int code, bool unavailable)
    {
        var store = await OpenSqliteStoreAsync();

        store.IsUnavailable(new SqliteException("test", code)).ShouldBe(unavailable);
    }

    [Fact]
    public async Task IsUnavailable_AClosedStore_WhatItsCallsThenThrow()
    {
        var store = await OpenSqliteStoreAsync();
        await store.DisposeAsync();

        var read = await Should.ThrowAsync<Exception>(() => store.ReadEventsAsync(0, 10, Ct));
        var write = await Should.ThrowAsync<Exception>(() => store.SetOffsetAsync("c", 1, Ct));

        store.IsUnavailable(read).ShouldBeTrue(read.GetType().Name);
        store.IsUnavailable(write).ShouldBeTrue(write.GetType().Name);
        store.IsUnavailable(new InvalidOperationException("a bug")).ShouldBeFalse();
    }

    [Fact]
    public async Task IsUnavailable_AStoreNeverOpened_WhatItsWritesThrow()
    {
        await using var store = new SqliteEventStore(Path.Combine(Path.GetDirectoryName(DatabasePath)!, "never-migrated.db"), Time);

        var write = await Should.ThrowAsync<EventStoreUnavailableException>(() => store.SetOffsetAsync("c", 1, Ct));

        store.IsUnavailable(write).ShouldBeTrue();
    }

    /// <summary>Whether the database file itself (not its WAL) holds <paramref name="text"/>, read beside SQLite.</summary>
    private static bool MainFileHolds(string path, string text)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        file.CopyTo(copy);
        return copy.ToArray().AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;
    }

    private static SqliteConnection Connect(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        return connection;
    }

    private static int Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteNonQuery();
    }

    /// <summary>
    /// Holds a writer (the raw file's, or the event log's) inside one caller's work, so that the writes queued
    /// meanwhile share its next commit.
    /// </summary>
    private static async Task<(Task Blocker, ManualResetEventSlim Gate)> HoldTheWriterAsync(SqliteEventStore store, bool log = false)
    {
        var gate = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Func<Func<SqliteEventWriter, int>, CancellationToken, Task<int>> write = log ? store.WriteLogAsync : store.WriteRawAsync;
        var blocker = write(
            _ =>
            {
                entered.TrySetResult();
                gate.Wait(Ct);
                return 0;
            },
            Ct);
        await entered.Task.WaitAsync(Patience, Ct);
        return (blocker, gate);
    }

    [Fact]
    public async Task RawSnapshots_UpdateDeleteOrReplaceThroughAnotherConnection_AreRefused()
    {
        var store = await OpenSqliteStoreAsync();
        var receipt = await store.AcceptDeliveryAsync(Delivery("d-1", "{\"original\":true}"), Ct);
        var before = await store.GetSnapshotAsync(receipt.SnapshotId, Ct);

        using (var connection = Connect(RawPath))
        {
            Should.Throw<SqliteException>(() => Execute(connection, "UPDATE raw_snapshots SET body = x'00'")).Message.ShouldContain("immutable");
            Should.Throw<SqliteException>(() => Execute(connection, "UPDATE raw_snapshots SET verification = 1 WHERE seq = 1")).Message.ShouldContain("immutable");
            Should.Throw<SqliteException>(() => Execute(connection, "DELETE FROM raw_snapshots")).Message.ShouldContain("immutable");
            Should.Throw<SqliteException>(() => Execute(connection, $"""
                INSERT OR REPLACE INTO raw_snapshots (seq, id, source, received_at, headers, body, sha256, content_type, verification, delivery_id)
                VALUES (1, '{receipt.SnapshotId}', 'evil', 0, '[]', x'00', x'00', NULL, 1, NULL)
                """)).Message.ShouldContain("immutable");
        }

        var after = (await store.GetSnapshotAsync(receipt.SnapshotId, Ct)).ShouldNotBeNull();
        after.ShouldBeEquivalentTo(before);
        (await store.ReadSnapshotsAsync(0, 10, Ct)).Count.ShouldBe(1);
    }

    [Fact]
    public async Task ReopenedStore_AfterDispose_HasEverythingAndKeepsDeduping()
    {
        var store = await OpenSqliteStoreAsync();
        var first = await store.AcceptDeliveryAsync(Delivery("d-1"), Ct);
        var snapshot = (await store.GetSnapshotAsync(first.SnapshotId, Ct))!;
        var (_, entry) = await store.CompleteNormalizationAsync("normalizer", snapshot, new NormalizeResult([Event("e-1")], [new NormalizeIssue(2, "odd")]), Time.GetUtcNow(), Ct);
        await store.AppendEventsAsync([Event("e-2"), Event("e-3")], Ct);
        await store.SetOffsetAsync("detector", 2, Ct);
        var events = await store.ReadEventsAsync(0, 10, Ct);
        await store.DisposeAsync();

        await using var reopened = await OpenSqliteAsync(DatabasePath, Time);

        (reopened.LastSnapshotSeq, reopened.LastOffset).ShouldBe((1L, 3L));
        (await reopened.GetSnapshotAsync(first.SnapshotId, Ct)).ShouldBeEquivalentTo(snapshot);
        (await reopened.ReadEventsAsync(0, 10, Ct)).Select(e => (e.Offset, e.Event.Id, e.SnapshotId)).ShouldBe(events.Select(e => (e.Offset, e.Event.Id, e.SnapshotId)));
        (await reopened.GetQuarantineAsync(entry!.Id, Ct)).ShouldBeEquivalentTo(entry);
        (await reopened.GetOffsetAsync("normalizer", Ct)).ShouldBe(1);
        (await reopened.GetOffsetAsync("detector", Ct)).ShouldBe(2);
        (await reopened.AcceptDeliveryAsync(Delivery("d-1"), Ct)).ShouldBe(new DeliveryReceipt(DeliveryStatus.Duplicate, first.SnapshotId));
        (await reopened.AppendEventsAsync([Event("e-3"), Event("e-4")], Ct)).ShouldBe(new AppendReceipt(1, 1, 4));
        reopened.WaitForEventsAsync(3, Ct).IsCompletedSuccessfully.ShouldBeTrue();

        // The reopened store knows its quarantine holds an entry, so a clean normalization resolves it.
        var (_, resolved) = await reopened.CompleteNormalizationAsync("normalizer", snapshot, Clean(Event("e-1")), Time.GetUtcNow(), Ct);
        (resolved?.Id, resolved?.Status).ShouldBe((entry.Id, QuarantineStatus.Resolved));
    }

    [Fact]
    public async Task BackgroundCheckpoint_OnTheTickAfterACommit_CopiesItIntoTheDatabaseFile()
    {
        var store = await OpenSqliteStoreAsync();
        var marker = "checkpointed-" + Guid.NewGuid().ToString("N");
        await store.AcceptDeliveryAsync(Delivery("d-1", Encoding.UTF8.GetBytes(marker)), Ct);

        // Committed into the WAL only: the writer checkpoints by itself at 8,192 pages.
        MainFileHolds(RawPath, marker).ShouldBeFalse();

        Time.Advance(new SqliteEventStoreOptions().CheckpointInterval);

        SpinWait.SpinUntil(() => store.RawCheckpoints >= 1, Patience).ShouldBeTrue();
        MainFileHolds(RawPath, marker).ShouldBeTrue();
        (await store.ReadSnapshotsAsync(0, 10, Ct)).ShouldHaveSingleItem().Body.ToArray().ShouldBe(Encoding.UTF8.GetBytes(marker));
    }

    [Fact]
    public async Task ReadSnapshotsAsync_JustCommittedFromMemory_EqualTheSnapshotsTheFileHolds()
    {
        var store = await OpenSqliteStoreAsync();
        for (var i = 0; i < 20; i++)
        {
            await store.AcceptDeliveryAsync(Delivery("d-" + i, "{\"n\":" + i + "}"), Ct);
        }

        var recent = await store.ReadSnapshotsAsync(0, 100, Ct);
        var middle = await store.ReadSnapshotsAsync(recent[4].Seq, 3, Ct);
        await store.DisposeAsync();
        await using var reopened = await OpenSqliteAsync(DatabasePath, Time);

        var stored = await reopened.ReadSnapshotsAsync(0, 100, Ct);
        stored.Count.ShouldBe(20);
        recent.ShouldBeEquivalentTo(stored);
        middle.ShouldBeEquivalentTo(stored.Skip(5).Take(3).ToList());
    }

    [Fact]
    public async Task ReadSnapshotsAsync_FurtherBackThanTheRecentOnesKept_ReadsThemFromTheFile()
    {
        var store = await OpenSqliteAsync(DatabasePath, Time, new SqliteEventStoreOptions { RecentSnapshots = 4 });
        try
        {
            var receipts = new List<DeliveryReceipt>();
            for (var i = 0; i < 10; i++)
            {
                receipts.Add(await store.AcceptDeliveryAsync(Delivery("d-" + i), Ct));
            }

            (await store.ReadSnapshotsAsync(0, 100, Ct)).Select(s => s.Id).ShouldBe(receipts.Select(r => r.SnapshotId));
            (await store.ReadSnapshotsAsync(2, 3, Ct)).Select(s => s.Seq).ShouldBe([3L, 4L, 5L]);
            (await store.ReadSnapshotsAsync(5, 100, Ct)).Select(s => s.Seq).ShouldBe([6L, 7L, 8L, 9L, 10L]);
            (await store.ReadSnapshotsAsync(7, 100, Ct)).Select(s => s.Id).ShouldBe(receipts.Skip(7).Select(r => r.SnapshotId));
            (await store.ReadSnapshotsAsync(10, 100, Ct)).ShouldBeEmpty();
        }
        finally
        {
            await store.DisposeAsync();
        }
    }

    [Fact]
    public async Task ReadEventsAsync_JustAppendedFromMemory_EqualTheEventsTheFileHolds()
    {
        var store = await OpenSqliteStoreAsync();
        var snapshot = await SnapshotAsync(store, "d-1");
        var details = new JsonObject { ["reason"] = "bad <password>", ["geo"] = new JsonObject { ["lat"] = 52.52 }, ["tags"] = new JsonArray("a", "b") };
        var full = new NormalizedEvent(
            "e-full", "okta-prod", "okta", "x-custom", "00u1", new DateTimeOffset(2026, 11, 20, 23, 59, 58, 7, TimeSpan.FromHours(2)),
            new EventActor("00u9", "2001:db8::1", "curl/8", "DE", "dev-1"), null, "corr-1", details);
        await store.CompleteNormalizationAsync("normalizer", snapshot, Clean(full, Event("e-2", account: "acct-2")), Time.GetUtcNow(), Ct);
        await store.AppendEventsAsync([Event("e-3"), Event("e-2", account: "acct-2"), Event("e-4", type: "password_reset")], Ct);

        var recent = await store.ReadEventsAsync(0, 100, Ct);
        var recentKeys = await store.ReadEventKeysAsync(0, 100, Ct);
        var middle = await store.ReadEventsAsync(recent[0].Offset, 2, Ct);
        await store.DisposeAsync();
        await using var reopened = await OpenSqliteAsync(DatabasePath, Time);

        var stored = await reopened.ReadEventsAsync(0, 100, Ct);
        stored.Count.ShouldBe(4);
        Documents(recent).ShouldBe(Documents(stored));
        Documents(middle).ShouldBe(Documents(stored.Skip(1).Take(2).ToList()));
        recentKeys.ShouldBe(await reopened.ReadEventKeysAsync(0, 100, Ct));
        recent[0].Event.Timestamp.Offset.ShouldBe(TimeSpan.Zero); // as read back from the stored document, not as given
    }

    [Fact]
    public async Task ReadEventsAsync_RecentEventsFromMemory_OlderOnesFromTheFile()
    {
        var store = await OpenSqliteAsync(DatabasePath, Time, new SqliteEventStoreOptions { RecentEvents = 4 });
        try
        {
            for (var i = 1; i <= 10; i++)
            {
                await store.AppendEventsAsync([Event("e-" + i)], Ct);
            }

            // Changed behind the store's back, so that each read shows where it was served from.
            using (var connection = Connect(DatabasePath))
            {
                Execute(connection, "UPDATE events SET account_id = 'changed', doc = replace(doc, '\"acct-1\"', '\"changed\"')");
            }

            (await store.ReadEventsAsync(0, 100, Ct)).Select(e => e.Event.AccountId).ShouldBe(Enumerable.Repeat("changed", 10));
            (await store.ReadEventsAsync(5, 100, Ct)).Select(e => (e.Offset, e.Event.AccountId)).ShouldBe(
                [(6L, "changed"), (7L, "changed"), (8L, "changed"), (9L, "changed"), (10L, "changed")]);
            (await store.ReadEventsAsync(6, 100, Ct)).Select(e => (e.Offset, e.Event.AccountId)).ShouldBe(
                [(7L, "acct-1"), (8L, "acct-1"), (9L, "acct-1"), (10L, "acct-1")]);
            (await store.ReadEventsAsync(7, 2, Ct)).Select(e => e.Event.Id).ShouldBe(["e-8", "e-9"]);
            (await store.ReadEventKeysAsync(5, 100, Ct)).Select(k => k.AccountId).ShouldBe(Enumerable.Repeat("changed", 5));
            (await store.ReadEventKeysAsync(8, 100, Ct)).Select(k => (k.Offset, k.AccountId)).ShouldBe([(9L, "acct-1"), (10L, "acct-1")]);
            (await store.ReadEventsAsync(10, 100, Ct)).ShouldBeEmpty();
        }
        finally
        {
            await store.DisposeAsync();
        }
    }

    /// <summary>Each event as its canonical v1 document, with its offset and snapshot: what a consumer sees.</summary>
    private static List<(long Offset, string Document, string? SnapshotId)> Documents(IReadOnlyList<LoggedEvent> events) =>
        [.. events.Select(e => (e.Offset, Encoding.UTF8.GetString(EventJson.ToUtf8Bytes(e.Event)), e.SnapshotId))];

    [Fact]
    public async Task MigrateAsync_OnAnExistingFileAgainAndAgain_AppliesEachStepOnce()
    {
        var store = await OpenSqliteStoreAsync();
        await store.AcceptDeliveryAsync(Delivery("d-1"), Ct);
        (await store.MigrateAsync(Ct)).ShouldBe(EventStoreMigrations.Latest);
        await store.DisposeAsync();

        for (var i = 0; i < 2; i++)
        {
            await using var reopened = new SqliteEventStore(DatabasePath, Time);
            (await reopened.MigrateAsync(Ct)).ShouldBe(EventStoreMigrations.Latest);
            (await reopened.MigrateAsync(Ct)).ShouldBe(EventStoreMigrations.Latest);
            reopened.LastSnapshotSeq.ShouldBe(1);
        }

        SqliteFile.Query(DatabasePath, "SELECT version FROM schema_migrations ORDER BY version")
            .ShouldBe(EventStoreMigrations.Steps.Select(s => (object?)(long)s.Version));
        SqliteFile.Query(RawPath, "SELECT version FROM schema_migrations ORDER BY version")
            .ShouldBe(RawStoreMigrations.Steps.Select(s => (object?)(long)s.Version));
        SqliteFile.Query(DatabasePath, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .ShouldBe(["consumer_offsets", "cursors", "events", "quarantine", "schema_migrations"]);
        SqliteFile.Query(RawPath, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .ShouldBe(["raw_snapshots", "schema_migrations"]);
    }

    /// <summary>Writes an <c>events.db</c> of the one-file layout (its steps 1 and 2) holding three snapshots, their delivery ids, an event and an offset.</summary>
    private void WriteOneFileLayout()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DatabasePath)!);
        using var connection = Connect(DatabasePath);
        Execute(connection, "PRAGMA journal_mode=WAL; CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);");
        foreach (var (version, sql) in EventStoreMigrations.Steps.Where(s => s.Version < EventStoreMigrations.DropsRawTables))
        {
            Execute(connection, sql + $"\nINSERT INTO schema_migrations VALUES ({version}, 0);");
        }

        var expires = Time.GetUtcNow().AddDays(1).ToUnixTimeMilliseconds();
        for (var i = 1; i <= 3; i++)
        {
            Execute(connection, $"""
                INSERT INTO raw_snapshots ({SqliteEventRows.SnapshotColumns}) VALUES ({i}, 'raw_old{i}', 'okta-prod', 1000, '[["x-n","{i}"]]', x'7b7d', x'00', 'application/json', 1, 'old-{i}');
                INSERT INTO delivery_ids VALUES ('okta-prod', 'old-{i}', 'raw_old{i}', {expires});
                """);
        }

        Execute(connection, """
            INSERT INTO events (source, id, platform, event_type, account_id, ts, received_at, snapshot_id, doc)
            VALUES ('okta-prod', 'e-old', 'okta', 'login_failed', 'acct-1', 0, 0, 'raw_old1', '{}');
            INSERT INTO consumer_offsets VALUES ('normalizer', 1, 0);
            """);
    }

    [Fact]
    public async Task MigrateAsync_OneFileLayout_MovesSnapshotsAndDeliveryIdsIntoTheRawFile()
    {
        WriteOneFileLayout();

        var store = await OpenSqliteStoreAsync();

        store.LastSnapshotSeq.ShouldBe(3);
        (await store.ReadSnapshotsAsync(0, 10, Ct)).Select(s => (s.Seq, s.Id, s.DeliveryId, s.Headers[0].Value))
            .ShouldBe([(1L, "raw_old1", "old-1", "1"), (2L, "raw_old2", "old-2", "2"), (3L, "raw_old3", "old-3", "3")]);
        (await store.AcceptDeliveryAsync(Delivery("old-2"), Ct)).ShouldBe(new DeliveryReceipt(DeliveryStatus.Duplicate, "raw_old2"));
        (await SnapshotAsync(store, "new-1")).Seq.ShouldBe(4);
        (await store.GetOffsetAsync("normalizer", Ct)).ShouldBe(1);
        store.LastOffset.ShouldBe(1);
        SqliteFile.Query(DatabasePath, "SELECT name FROM sqlite_master WHERE name IN ('raw_snapshots', 'delivery_ids', 'events_by_type', 'events_by_platform')").ShouldBeEmpty();
        using var connection = Connect(RawPath);
        Should.Throw<SqliteException>(() => Execute(connection, "DELETE FROM raw_snapshots WHERE seq = 1")).Message.ShouldContain("immutable");
    }

    [Fact]
    public async Task MigrateAsync_RawFileWithItsDeliveryIdTable_KeepsTheLiveClaimsOnly_AndSnapshotsStayImmutable()
    {
        // A raw file of step 1: delivery ids in a table of their own, pointing at the snapshot that claimed them.
        Directory.CreateDirectory(Path.GetDirectoryName(RawPath)!);
        var live = Time.GetUtcNow().AddDays(1).ToUnixTimeMilliseconds();
        var ended = Time.GetUtcNow().AddMinutes(-1).ToUnixTimeMilliseconds();
        using (var raw = Connect(RawPath))
        {
            Execute(raw, "PRAGMA journal_mode=WAL;");
            Execute(raw, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);");
            Execute(raw, RawStoreMigrations.Steps[0].Sql + "\nINSERT INTO schema_migrations VALUES (1, 0);");
            (string Id, string Delivery)[] rows =
                [("raw_a", "live"), ("raw_b", "ended"), ("raw_c", "swept"), ("raw_d1", "retaken"), ("raw_d2", "retaken")];
            foreach (var (id, delivery) in rows)
            {
                Execute(raw, $"""
                    INSERT INTO raw_snapshots
                        (id, source, received_at, headers, body, sha256, content_type, verification, delivery_id)
                    VALUES ('{id}', 'okta-prod', 1000, '[]', x'7b7d', x'00', 'application/json', 1, '{delivery}');
                    """);
            }

            Execute(raw, $"""
                INSERT INTO delivery_ids VALUES ('okta-prod', 'live', 'raw_a', {live});
                INSERT INTO delivery_ids VALUES ('okta-prod', 'ended', 'raw_b', {ended});
                INSERT INTO delivery_ids VALUES ('okta-prod', 'retaken', 'raw_d2', {live});
                """);
        }

        var store = await OpenSqliteStoreAsync();

        store.LastSnapshotSeq.ShouldBe(5);
        (await store.AcceptDeliveryAsync(Delivery("live"), Ct)).ShouldBe(new(DeliveryStatus.Duplicate, "raw_a"));
        (await store.AcceptDeliveryAsync(Delivery("retaken"), Ct)).ShouldBe(new(DeliveryStatus.Duplicate, "raw_d2"));
        (await store.AcceptDeliveryAsync(Delivery("ended"), Ct)).Status.ShouldBe(DeliveryStatus.Accepted);
        (await store.AcceptDeliveryAsync(Delivery("swept"), Ct)).Status.ShouldBe(DeliveryStatus.Accepted);
        store.LastSnapshotSeq.ShouldBe(7);
        SqliteFile.Query(RawPath, "SELECT name FROM sqlite_master WHERE name LIKE 'delivery_ids%'").ShouldBeEmpty();
        using var connection = Connect(RawPath);
        Should.Throw<SqliteException>(() => Execute(connection, "UPDATE raw_snapshots SET dedupe_until = NULL WHERE seq = 1"))
            .Message.ShouldContain("immutable");
        Should.Throw<SqliteException>(() => Execute(connection, "DELETE FROM raw_snapshots WHERE seq = 2"))
            .Message.ShouldContain("immutable");
    }

    [Fact]
    public async Task MigrateAsync_CrashAfterCopyingBeforeDropping_CopiesOnlyWhatIsMissingAndLosesNothing()
    {
        WriteOneFileLayout();

        // The crash left the raw file with the first two snapshots and one delivery id copied; events.db still has all.
        using (var raw = Connect(RawPath))
        {
            Execute(raw, "PRAGMA journal_mode=WAL; CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);");
            Execute(raw, RawStoreMigrations.Steps[0].Sql + "\nINSERT INTO schema_migrations VALUES (1, 0);");
            Execute(raw, $"ATTACH DATABASE '{DatabasePath}' AS old; INSERT INTO raw_snapshots SELECT * FROM old.raw_snapshots WHERE seq <= 2; INSERT INTO delivery_ids SELECT * FROM old.delivery_ids WHERE delivery_id = 'old-1'; DETACH DATABASE old;");
        }

        var store = await OpenSqliteStoreAsync();

        (await store.ReadSnapshotsAsync(0, 10, Ct)).Select(s => s.Id).ShouldBe(["raw_old1", "raw_old2", "raw_old3"]);
        foreach (var i in new[] { 1, 2, 3 })
        {
            (await store.AcceptDeliveryAsync(Delivery("old-" + i), Ct)).ShouldBe(new DeliveryReceipt(DeliveryStatus.Duplicate, "raw_old" + i));
        }
    }

    [Fact]
    public async Task CrashBetweenTheFiles_EventLogBehindTheRawFile_NormalizesEverySnapshotAgainAndLogsEachEventOnce()
    {
        // Acknowledged snapshots are in the raw file; the event log's last normalization never reached its disk. On
        // restart the normalizer's offset (kept beside the events) says where to resume: nothing skipped, nothing doubled.
        var store = await OpenSqliteStoreAsync();
        var snapshots = new List<RawSnapshot>();
        for (var i = 0; i < 6; i++)
        {
            snapshots.Add(await SnapshotAsync(store, "d-" + i));
        }

        await store.CompleteNormalizationsAsync("normalizer", [.. snapshots.Take(2).Select(s => new Normalization(s, Clean(Event("e-" + s.Seq))))], Time.GetUtcNow(), Ct);
        await store.DisposeAsync();
        var logBefore = _directory.Combine("log-before");
        Directory.CreateDirectory(logBefore);
        foreach (var suffix in new[] { string.Empty, "-wal" })
        {
            if (File.Exists(DatabasePath + suffix))
            {
                File.Copy(DatabasePath + suffix, Path.Combine(logBefore, SqliteEventStoreOptions.FileName + suffix));
            }
        }

        await using (var reopened = await OpenSqliteAsync(DatabasePath, Time))
        {
            await reopened.CompleteNormalizationsAsync("normalizer", [.. snapshots.Skip(2).Take(3).Select(s => new Normalization(s, Clean(Event("e-" + s.Seq))))], Time.GetUtcNow(), Ct);
        }

        foreach (var suffix in new[] { string.Empty, "-wal", "-shm" })
        {
            File.Delete(DatabasePath + suffix);
            var saved = Path.Combine(logBefore, SqliteEventStoreOptions.FileName + suffix);
            if (File.Exists(saved))
            {
                File.Copy(saved, DatabasePath + suffix);
            }
        }

        await using var recovered = await OpenSqliteAsync(DatabasePath, Time);
        var offset = await recovered.GetOffsetAsync("normalizer", Ct);
        offset.ShouldBe(snapshots[1].Seq);
        recovered.LastSnapshotSeq.ShouldBe(snapshots[^1].Seq);
        var pending = await recovered.ReadSnapshotsAsync(offset, 100, Ct);
        pending.Select(s => s.Id).ShouldBe(snapshots.Skip(2).Select(s => s.Id));

        // The worker normalizes them again, in batches that overlap what was recorded before (as after a crash mid-batch).
        await recovered.CompleteNormalizationsAsync("normalizer", [.. snapshots.Skip(1).Select(s => new Normalization(s, Clean(Event("e-" + s.Seq))))], Time.GetUtcNow(), Ct);

        (await recovered.ReadEventsAsync(0, 100, Ct)).Select(e => e.Event.Id).ShouldBe(snapshots.Select(s => "e-" + s.Seq));
        (await recovered.GetOffsetAsync("normalizer", Ct)).ShouldBe(snapshots[^1].Seq);
    }

    [Fact]
    public async Task AbandonedStore_ItsFilesAsLeftOnDisk_KeepEveryAcknowledgedWrite()
    {
        // The first store is never disposed: its writer connection is dropped as a crash would drop it, without a
        // checkpoint or a clean close. Everything acknowledged must be in the database file and its WAL already.
        var abandoned = await OpenSqliteAsync(DatabasePath, Time);
        var receipts = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => abandoned.AcceptDeliveryAsync(Delivery("d-" + i), Ct))).WaitAsync(Patience, Ct);
        var snapshot = (await abandoned.GetSnapshotAsync(receipts[0].SnapshotId, Ct))!;
        await abandoned.CompleteNormalizationAsync("normalizer", snapshot, Clean(Event("e-1"), Event("e-2")), Time.GetUtcNow(), Ct);
        await abandoned.SetOffsetAsync("detector", 2, Ct);

        var crashed = _directory.Combine("crashed", SqliteEventStoreOptions.FileName);
        Directory.CreateDirectory(Path.GetDirectoryName(crashed)!);
        foreach (var name in new[] { SqliteEventStoreOptions.FileName, SqliteEventStoreOptions.RawFileName })
        {
            var file = _directory.Combine("data", name);
            File.Copy(file, _directory.Combine("crashed", name));
            File.Exists(file + "-wal").ShouldBeTrue();
            File.Copy(file + "-wal", _directory.Combine("crashed", name) + "-wal");
        }

        try
        {
            foreach (var path in new[] { crashed, DatabasePath })
            {
                await using var recovered = await OpenSqliteAsync(path, Time);
                recovered.LastSnapshotSeq.ShouldBe(200);
                recovered.LastOffset.ShouldBe(2);
                (await recovered.ReadSnapshotsAsync(0, 1000, Ct)).Select(s => s.Id).Order(StringComparer.Ordinal)
                    .ShouldBe(receipts.Select(r => r.SnapshotId).Order(StringComparer.Ordinal));
                (await recovered.ReadEventsAsync(0, 10, Ct)).Select(e => e.Event.Id).ShouldBe(["e-1", "e-2"]);
                (await recovered.GetOffsetAsync("normalizer", Ct)).ShouldBe(snapshot.Seq);
                (await recovered.GetOffsetAsync("detector", Ct)).ShouldBe(2);
                (await recovered.AcceptDeliveryAsync(Delivery("d-7"), Ct)).ShouldBe(new DeliveryReceipt(DeliveryStatus.Duplicate, receipts[7].SnapshotId));
            }
        }
        finally
        {
            await abandoned.DisposeAsync();
        }
    }

    [Fact]
    public async Task GroupCommit_WritesQueuedBehindABusyWriter_ShareOneTransaction()
    {
        var store = await OpenSqliteStoreAsync();
        var (blocker, gate) = await HoldTheWriterAsync(store);
        using (gate)
        {
            var commitsBefore = store.Commits;
            var writes = Enumerable.Range(0, 300).Select(i => store.AcceptDeliveryAsync(Delivery("d-" + i), Ct)).ToList();
            gate.Set();

            await Task.WhenAll(writes).WaitAsync(Patience, Ct);
            await blocker;
            (store.Commits - commitsBefore).ShouldBe(2);
            store.LastSnapshotSeq.ShouldBe(300L);
        }
    }

    [Fact]
    public async Task TwoWriters_EventLogWriterBusy_DeliveriesAreStillAcceptedAndTheLogCatchesUp()
    {
        var store = await OpenSqliteStoreAsync();
        var (blocker, gate) = await HoldTheWriterAsync(store, log: true);
        using (gate)
        {
            var append = store.AppendEventsAsync([Event("e-1")], Ct);

            // The raw file's writer commits while the event log's is held inside a caller's work.
            var receipts = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => store.AcceptDeliveryAsync(Delivery("d-" + i), Ct))).WaitAsync(Patience, Ct);
            receipts.ShouldAllBe(r => r.Status == DeliveryStatus.Accepted);
            store.LastSnapshotSeq.ShouldBe(50);
            append.IsCompleted.ShouldBeFalse();
            store.LastOffset.ShouldBe(0);

            gate.Set();
            await blocker;
            (await append.WaitAsync(Patience, Ct)).ShouldBe(new AppendReceipt(1, 0, 1));
        }
    }

    [Fact]
    public async Task TwoWriters_RawFileWriterBusy_EventsAndOffsetsAreStillWritten()
    {
        var store = await OpenSqliteStoreAsync();
        var snapshot = await SnapshotAsync(store, "d-1");
        var (blocker, gate) = await HoldTheWriterAsync(store);
        using (gate)
        {
            var delivery = store.AcceptDeliveryAsync(Delivery("d-2"), Ct);

            await store.CompleteNormalizationAsync("normalizer", snapshot, Clean(Event("e-1")), Time.GetUtcNow(), Ct).WaitAsync(Patience, Ct);
            await store.SetOffsetAsync("detector", 1, Ct).WaitAsync(Patience, Ct);
            (await store.GetOffsetAsync("normalizer", Ct)).ShouldBe(snapshot.Seq);
            delivery.IsCompleted.ShouldBeFalse();

            gate.Set();
            await blocker;
            (await delivery.WaitAsync(Patience, Ct)).Status.ShouldBe(DeliveryStatus.Accepted);
        }
    }

    [Fact]
    public async Task CompleteNormalizationsAsync_ManySnapshots_TakesOneCommit()
    {
        var store = await OpenSqliteStoreAsync();
        var snapshots = new List<RawSnapshot>();
        for (var i = 0; i < 100; i++)
        {
            snapshots.Add(await SnapshotAsync(store, "d-" + i));
        }

        var commitsBefore = store.LogCommits;
        await store.CompleteNormalizationsAsync("normalizer", [.. snapshots.Select(s => new Normalization(s, Clean(Event("e-" + s.Seq))))], Time.GetUtcNow(), Ct);

        (store.LogCommits - commitsBefore).ShouldBe(1);
        (await store.ReadEventsAsync(0, 1000, Ct)).Count.ShouldBe(100);
        (await store.GetOffsetAsync("normalizer", Ct)).ShouldBe(snapshots[^1].Seq);
    }

    [Fact]
    public async Task CompleteNormalizationsAsync_OneEventRefusedBySqlite_WritesNothingOfTheBatch()
    {
        var store = await OpenSqliteStoreAsync();
        var good = await SnapshotAsync(store, "d-1");
        var poisoned = await SnapshotAsync(store, "d-2");
        using (var other = Connect(DatabasePath))
        {
            Execute(other, "CREATE TRIGGER refuse_poison BEFORE INSERT ON events WHEN NEW.id = 'poison' BEGIN SELECT RAISE(ABORT, 'poison'); END");
        }

        var error = await Should.ThrowAsync<SqliteException>(() => store.CompleteNormalizationsAsync(
            "normalizer",
            [new Normalization(good, Clean(Event("e-1"))), new Normalization(poisoned, NormalizeResult.Failed("odd")), new Normalization(poisoned, Clean(Event("poison")))],
            Time.GetUtcNow(),
            Ct));

        error.Message.ShouldContain("poison");
        (await store.ReadEventsAsync(0, 10, Ct)).ShouldBeEmpty();
        (await store.ListQuarantineAsync(null, 10, null, Ct)).ShouldBeEmpty();
        (await store.GetOffsetAsync("normalizer", Ct)).ShouldBe(0);
        store.LastOffset.ShouldBe(0);
        (await store.AppendEventsAsync([Event("e-2")], Ct)).Appended.ShouldBe(1);
    }

    [Fact]
    public async Task GroupCommit_SameDeliveryIdTwiceInOneBatch_AcceptsTheFirstAndTheSecondIsItsDuplicate()
    {
        var store = await OpenSqliteStoreAsync();
        var (blocker, gate) = await HoldTheWriterAsync(store);
        using (gate)
        {
            var first = store.AcceptDeliveryAsync(Delivery("same", "{\"n\":1}"), Ct);
            var second = store.AcceptDeliveryAsync(Delivery("same", "{\"n\":2}"), Ct);
            gate.Set();
            await blocker;

            var accepted = await first.WaitAsync(Patience, Ct);
            accepted.Status.ShouldBe(DeliveryStatus.Accepted);
            (await second.WaitAsync(Patience, Ct)).ShouldBe(new DeliveryReceipt(DeliveryStatus.Duplicate, accepted.SnapshotId));
            (await store.ReadSnapshotsAsync(0, 10, Ct)).ShouldHaveSingleItem().Id.ShouldBe(accepted.SnapshotId);
        }
    }

    [Fact]
    public async Task GroupCommit_NoCallerFails_RunsEachCallersWorkOnceInOneCommit()
    {
        var store = await OpenSqliteStoreAsync();
        var runs = new int[3];
        var (blocker, gate) = await HoldTheWriterAsync(store);
        Task<DeliveryReceipt>[] writes;
        long commitsBefore;
        using (gate)
        {
            writes = [.. Enumerable.Range(0, runs.Length).Select(i => store.WriteRawAsync(
                w =>
                {
                    Interlocked.Increment(ref runs[i]);
                    return w.Accept(SqliteEventRows.Prepare(Delivery($"d-{i}"), $"raw_{i}"));
                },
                Ct))];
            commitsBefore = store.Commits;
            gate.Set();
            await blocker;
        }

        foreach (var write in writes)
        {
            (await write.WaitAsync(Patience, Ct)).Status.ShouldBe(DeliveryStatus.Accepted);
        }

        runs.ShouldBe([1, 1, 1]);
        (store.Commits - commitsBefore).ShouldBe(2); // the blocker's batch, then the three together
        (await store.ReadSnapshotsAsync(0, 10, Ct)).Select(s => s.DeliveryId).ShouldBe(["d-0", "d-1", "d-2"]);
    }

    [Fact]
    public async Task GroupCommit_OneCallerFailsInsideTheBatch_OnlyItsWorkIsRolledBack()
    {
        var store = await OpenSqliteStoreAsync();
        var (blocker, gate) = await HoldTheWriterAsync(store);
        using (gate)
        {
            var before = store.AcceptDeliveryAsync(Delivery("before"), Ct);
            var saboteur = store.WriteRawAsync<DeliveryReceipt>(
                w =>
                {
                    w.Accept(SqliteEventRows.Prepare(Delivery("sabotaged"), "raw_sabotaged"));
                    throw new InvalidDataException("changed my mind");
                },
                Ct);
            var after = store.AcceptDeliveryAsync(Delivery("after"), Ct);
            gate.Set();
            await blocker;

            await Should.ThrowAsync<InvalidDataException>(() => saboteur.WaitAsync(Patience, Ct));
            (await before.WaitAsync(Patience, Ct)).Status.ShouldBe(DeliveryStatus.Accepted);
            (await after.WaitAsync(Patience, Ct)).Status.ShouldBe(DeliveryStatus.Accepted);
        }

        var (logBlocker, logGate) = await HoldTheWriterAsync(store, log: true);
        using (logGate)
        {
            var logSaboteur = store.WriteLogAsync<AppendReceipt>(
                w =>
                {
                    w.Append([SqliteEventRows.Prepare(Event("sabotaged-event"), Time.GetUtcNow(), null)]);
                    throw new InvalidDataException("changed my mind");
                },
                Ct);
            var events = store.AppendEventsAsync([Event("e-1")], Ct);
            logGate.Set();
            await logBlocker;

            await Should.ThrowAsync<InvalidDataException>(() => logSaboteur.WaitAsync(Patience, Ct));
            (await events.WaitAsync(Patience, Ct)).Appended.ShouldBe(1);
        }

        (await store.GetSnapshotAsync("raw_sabotaged", Ct)).ShouldBeNull();
        (await store.ReadSnapshotsAsync(0, 10, Ct)).Select(s => s.DeliveryId).ShouldBe(["before", "after"]);
        (await store.ReadEventsAsync(0, 10, Ct)).Select(e => e.Event.Id).ShouldBe(["e-1"]);
        store.LastSnapshotSeq.ShouldBe((await store.ReadSnapshotsAsync(0, 10, Ct))[^1].Seq);
        store.LastOffset.ShouldBe((await store.ReadEventsAsync(0, 10, Ct))[^1].Offset);
        (await store.AcceptDeliveryAsync(Delivery("sabotaged"), Ct)).Status.ShouldBe(DeliveryStatus.Accepted);
    }

    [Fact]
    public async Task TransactionLostUnderTheWriter_FailsEveryCallerInTheBatchAndTheWriterRecovers()
    {
        var store = await OpenSqliteStoreAsync();
        await store.AcceptDeliveryAsync(Delivery("earlier"), Ct);
        var (blocker, gate) = await HoldTheWriterAsync(store);
        using (gate)
        {
            var before = store.AcceptDeliveryAsync(Delivery("same-batch-before"), Ct);
            var saboteur = store.WriteRawAsync<int>(
                w =>
                {
                    using var rollback = w.Connection.CreateCommand();
                    rollback.CommandText = "ROLLBACK";
                    rollback.ExecuteNonQuery();
                    throw new IOException("disk full");
                },
                Ct);
            var after = store.AcceptDeliveryAsync(Delivery("same-batch-after"), Ct);
            gate.Set();

            await Should.ThrowAsync<IOException>(() => saboteur.WaitAsync(Patience, Ct));
            (await Record.ExceptionAsync(() => before.WaitAsync(Patience, Ct))).ShouldNotBeNull().ShouldNotBeOfType<TimeoutException>();
            (await Record.ExceptionAsync(() => after.WaitAsync(Patience, Ct))).ShouldNotBeNull().ShouldNotBeOfType<TimeoutException>();
            await Record.ExceptionAsync(() => blocker.WaitAsync(Patience, Ct));
        }

        var next = await store.AcceptDeliveryAsync(Delivery("after-recovery"), Ct);
        var snapshots = await store.ReadSnapshotsAsync(0, 10, Ct);
        snapshots.Select(s => s.DeliveryId).ShouldBe(["earlier", "after-recovery"]);
        snapshots[^1].Id.ShouldBe(next.SnapshotId);
        store.LastSnapshotSeq.ShouldBe(snapshots[^1].Seq);
        store.IsReady.ShouldBeTrue();
    }

    [Fact]
    public async Task AcceptDeliveryAsync_CancelledWhileQueued_ThrowsAndWritesNothing()
    {
        var store = await OpenSqliteStoreAsync();
        var (blocker, gate) = await HoldTheWriterAsync(store);
        using (gate)
        {
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            var cancelled = store.AcceptDeliveryAsync(Delivery("cancelled"), cancel.Token);
            var kept = store.AcceptDeliveryAsync(Delivery("kept"), Ct);
            await cancel.CancelAsync();
            gate.Set();
            await blocker;

            await Should.ThrowAsync<OperationCanceledException>(() => cancelled.WaitAsync(Patience, Ct));
            (await kept.WaitAsync(Patience, Ct)).Status.ShouldBe(DeliveryStatus.Accepted);
        }

        (await store.ReadSnapshotsAsync(0, 10, Ct)).Select(s => s.DeliveryId).ShouldBe(["kept"]);
    }

    [Fact]
    public async Task DisposeAsync_WithWritesQueued_CommitsThemAllBeforeClosing()
    {
        var store = await OpenSqliteStoreAsync();
        var writes = Enumerable.Range(0, 300).Select(i => store.AcceptDeliveryAsync(Delivery("d-" + i), Ct)).ToList();

        await store.DisposeAsync();

        var receipts = await Task.WhenAll(writes).WaitAsync(Patience, Ct);
        await using var reopened = await OpenSqliteAsync(DatabasePath, Time);
        (await reopened.ReadSnapshotsAsync(0, 1000, Ct)).Select(s => s.Id).ShouldBe(receipts.Select(r => r.SnapshotId), ignoreOrder: true);
    }

    [Fact]
    public async Task StoredRows_HeadersEventDocumentAndEnums_HaveTheirPinnedForm()
    {
        var store = await OpenSqliteStoreAsync();
        var at = new DateTimeOffset(2026, 11, 21, 9, 30, 15, 42, TimeSpan.Zero);
        var receipt = await store.AcceptDeliveryAsync(
            new RawDelivery("okta-prod", at, [new("content-type", "application/json"), new("x-a", "1"), new("x-a", "2")], "{}"u8.ToArray(), "application/json", VerificationOutcome.BadSignature, "d-1", at.AddDays(1)),
            Ct);
        var snapshot = (await store.GetSnapshotAsync(receipt.SnapshotId, Ct))!;
        var e = new NormalizedEvent(
            "evt-1",
            "okta-prod",
            "okta",
            "login_failed",
            "00u1",
            new DateTimeOffset(2026, 11, 21, 10, 0, 0, 5, TimeSpan.FromHours(1)),
            new EventActor(Ip: "192.0.2.1", UserAgent: "curl/8", Country: "DE"),
            at,
            "c-1",
            new JsonObject { ["reason"] = "bad <password>", ["count"] = 2 });
        await store.CompleteNormalizationAsync("normalizer", snapshot, new NormalizeResult([e], [new NormalizeIssue(1, "no actor")]), at, Ct);
        await store.CompleteNormalizationAsync("normalizer", snapshot, NormalizeResult.Failed("bad"), at, Ct);

        SqliteFile.Query(RawPath, "SELECT headers FROM raw_snapshots").ShouldBe(["""[["content-type","application/json"],["x-a","1"],["x-a","2"]]"""]);
        SqliteFile.Query(RawPath, "SELECT received_at FROM raw_snapshots").ShouldBe([at.ToUnixTimeMilliseconds()]);
        SqliteFile.Query(RawPath, "SELECT verification FROM raw_snapshots").ShouldBe([4L]);
        SqliteFile.Query(DatabasePath, "SELECT doc FROM events").ShouldBe([
            """{"schema_version":"v1","id":"evt-1","source":"okta-prod","platform":"okta","event_type":"login_failed","account_id":"00u1","actor":{"ip":"192.0.2.1","user_agent":"curl/8","country":"DE"},"timestamp":"2026-11-21T09:00:00.005Z","received_at":"2026-11-21T09:30:15.042Z","correlation_id":"c-1","details":{"reason":"bad <password>","count":2}}""",
        ]);
        SqliteFile.Query(DatabasePath, "SELECT ts FROM events").ShouldBe([e.Timestamp.ToUnixTimeMilliseconds()]);
        SqliteFile.Query(DatabasePath, "SELECT status || ',' || attempts || ',' || issues FROM quarantine").ShouldBe(["1,2,[]"]);

        await store.CompleteNormalizationAsync("normalizer", snapshot, Clean(e), at, Ct);
        SqliteFile.Query(DatabasePath, "SELECT status FROM quarantine").ShouldBe([2L]);
        SqliteFile.Query(DatabasePath, "SELECT count(*) FROM events").ShouldBe([1L]);
    }

    [Fact]
    public async Task TimeWindowReads_QueryPlans_SeekAnIndexInsteadOfScanningTheFile()
    {
        var store = await OpenSqliteStoreAsync();
        await store.AcceptDeliveryAsync(Delivery("d-1"), Ct);
        await store.AppendEventsAsync([Event("e-1")], Ct);

        static string Plan(string path, string sql)
        {
            using var connection = Connect(path);
            using var command = connection.CreateCommand();
            command.CommandText = "EXPLAIN QUERY PLAN " + sql;
            using var reader = command.ExecuteReader();
            var details = new List<string>();
            while (reader.Read())
            {
                details.Add(reader.GetString(3));
            }

            return string.Join(" | ", details);
        }

        // The window of snapshots is found by the id index (ids begin with the receive time) and read in its order.
        foreach (var where in (string[])[SqliteEventStore.SnapshotsReceivedSql, SqliteEventStore.SnapshotsReceivedAfterSql])
        {
            var plan = Plan(RawPath, $"SELECT {SqliteEventRows.SnapshotColumns} FROM raw_snapshots {where}");
            plan.ShouldMatch(@"^SEARCH raw_snapshots USING INDEX sqlite_autoindex_raw_snapshots_\d \(id>\? AND id<\?\)$");
        }

        // A page of a time window walks the log by offset (between the window's ends when they are known): the time index
        // would read and sort the rest of the window's rows for every page. With an account, its index.
        foreach (var query in (EventQuery[])[new(Since: DateTimeOffset.UnixEpoch, Until: DateTimeOffset.UnixEpoch), new(Type: "x", Since: DateTimeOffset.UnixEpoch)])
        {
            Plan(DatabasePath, $"SELECT {SqliteEventRows.EventColumns} FROM events {SqliteEventStore.EventQuerySql(query)}")
                .ShouldBe("SEARCH events USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)");
        }

        Plan(DatabasePath, $"SELECT {SqliteEventRows.EventColumns} FROM events {SqliteEventStore.EventQuerySql(new(Account: "a", Since: DateTimeOffset.UnixEpoch))}")
            .ShouldStartWith("SEARCH events USING INDEX events_by_account (account_id=? AND offset>? AND offset<?)");

        // A window's first event is found (or probed for) through the time index alone, never the events' rows.
        foreach (var sql in (string[])[SqliteEventStore.FirstOffsetSql, SqliteEventStore.WindowProbeSql, SqliteEventStore.WindowEndsSql])
        {
            Plan(DatabasePath, sql).ShouldContain("SEARCH events USING COVERING INDEX events_by_ts (ts>? AND ts<?)");
            Plan(DatabasePath, sql).ShouldNotContain("SCAN events");
        }
    }

    [Fact]
    public async Task QueryEventsAsync_WindowsLargerAndSmallerThanTheProbe_BothStartAtTheirFirstEvent()
    {
        var store = await OpenSqliteStoreAsync();
        var t0 = Time.GetUtcNow();
        var count = SqliteEventStore.WindowProbe + 100;

        // Events before the windows come last in time but first in the log, so a window's first offset is not 1.
        await store.AppendEventsAsync([.. Enumerable.Range(0, 50).Select(i => Event("early-" + i, at: t0.AddDays(-1)))], Ct);
        await store.AppendEventsAsync([.. Enumerable.Range(0, count).Select(i => Event("e-" + i, at: t0.AddMilliseconds(i)))], Ct);
        var offsets = new Dictionary<string, long>();
        for (var after = 0L; await store.ReadEventsAsync(after, 1000, Ct) is { Count: > 0 } page; after = page[^1].Offset)
        {
            foreach (var e in page)
            {
                offsets[e.Event.Id] = e.Offset;
            }
        }

        // Larger than the probe: a page walks the log from its start; smaller: it starts at the window. The same answers.
        var large = t0.AddMilliseconds(10);
        (await store.QueryEventsAsync(new EventQuery(Since: large, Limit: 2), Ct)).Select(e => e.Event.Id).ShouldBe(["e-10", "e-11"]);
        (await store.FindFirstOffsetAsync(large, null, Ct)).ShouldBe(offsets["e-10"]);
        var small = t0.AddMilliseconds(count - 20);
        (await store.QueryEventsAsync(new EventQuery(Since: small, Limit: 2), Ct)).Select(e => e.Event.Id)
            .ShouldBe([$"e-{count - 20}", $"e-{count - 19}"]);
        (await store.FindFirstOffsetAsync(small, null, Ct)).ShouldBe(offsets[$"e-{count - 20}"]);
        (await store.QueryEventsAsync(new EventQuery(Since: small, Until: small.AddMilliseconds(5), AfterOffset: offsets[$"e-{count - 18}"]), Ct))
            .Select(e => e.Event.Id).ShouldBe([$"e-{count - 17}", $"e-{count - 16}"]);
    }

    [Fact]
    public async Task TimeWindows_BoundsInsideAMillisecond_TakeThatWholeMillisecondIn()
    {
        var store = await OpenSqliteStoreAsync();
        var t = new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
        var snapshot = (await store.AcceptDeliveryAsync(Delivery("d-1", at: t), Ct)).SnapshotId;
        await store.AppendEventsAsync([Event("e-1", at: t)], Ct);
        var half = TimeSpan.FromTicks(TimeSpan.TicksPerMillisecond / 2);

        // Times are kept in whole milliseconds: a window that starts or ends inside t's millisecond holds what is in it.
        foreach (var (since, until) in new (DateTimeOffset, DateTimeOffset?)[] { (t + half, null), (t - TimeSpan.FromSeconds(1), t + half), (t + half, t + half + half) })
        {
            (await store.ReadSnapshotsReceivedAsync(since, until, null, 10, Ct)).ShouldHaveSingleItem().Id.ShouldBe(snapshot);
            (await store.FindFirstOffsetAsync(since, until, Ct)).ShouldBe(1);
            (await store.QueryEventsAsync(new EventQuery(Since: since, Until: until), Ct)).ShouldHaveSingleItem().Event.Id.ShouldBe("e-1");
        }

        // Whole-millisecond bounds stay exact: since inclusive, until exclusive.
        (await store.ReadSnapshotsReceivedAsync(t - TimeSpan.FromSeconds(1), t, null, 10, Ct)).ShouldBeEmpty();
        (await store.FindFirstOffsetAsync(t + TimeSpan.FromMilliseconds(1), null, Ct)).ShouldBeNull();
        (await store.QueryEventsAsync(new EventQuery(Until: t), Ct)).ShouldBeEmpty();
    }
}
