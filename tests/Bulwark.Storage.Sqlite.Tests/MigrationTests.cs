using Bulwark.Audit;
using Bulwark.Storage.Sqlite;
using Bulwark.TestUtils;
using Microsoft.Data.Sqlite;

namespace Bulwark.StorageSqlite.Tests;

public sealed class MigrationTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Version1Database_UpgradesInPlace_KeepingIdentitiesAndAVerifiableChain()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = _directory.Combine(SqliteStoreOptions.FileName);
        var entry = AuditChain.Link(new AuditDraft { Actor = "system:bootstrap", Action = "identity.create", Target = "identity/admin", After = "{\"name\":\"admin\"}" }, AuditHead.Empty, new DateTimeOffset(2026, 11, 1, 8, 0, 0, TimeSpan.Zero));
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"""
                CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
                {Migrations.Steps[0].Sql}
                INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0);
                INSERT INTO identities (name, roles, description, created_at, updated_at) VALUES ('admin', 'admin', NULL, 1, 1);
                INSERT INTO audit (seq, time, actor, action, target, before, after, reason, correlation_id, prev_hash, hash)
                VALUES (1, {(entry.Time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10}, '{entry.Actor}', '{entry.Action}', '{entry.Target}', NULL, '{entry.After}', NULL, NULL, '{entry.PrevHash}', '{entry.Hash}');
                INSERT INTO audit_head (id, seq, hash) VALUES (1, 1, '{entry.Hash}');
                """;
            command.ExecuteNonQuery();
        }

        await using var store = new SqliteControlStore(new SqliteStoreOptions { DataDirectory = _directory.Path }, new FakeTimeProvider());

        (await store.MigrateAsync(ct)).ShouldBe(Migrations.Latest);
        (await store.GetIdentityAsync("admin", ct)).ShouldNotBeNull();
        (await store.ListFlagsAsync(ct)).Version.ShouldBe(0);
        var verifier = new AuditVerifier();
        verifier.Complete(await store.ScanAuditAsync(verifier.Add, ct)).Ok.ShouldBeTrue();
        SqliteFile.Query(path, "SELECT version FROM schema_migrations ORDER BY version").ShouldBe(Migrations.Steps.Select(s => (object?)(long)s.Version));
    }
}
