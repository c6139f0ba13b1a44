using Bulwark.Audit;
using Bulwark.Response;
using Bulwark.Storage.Sqlite;
using Bulwark.TestUtils;
using Microsoft.Data.Sqlite;

namespace Bulwark.StorageSqlite.Tests;

/// <summary>Evidence records are write-once in the file itself, not only through the store's interface.</summary>
public sealed class EvidenceWriteOnceTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData("UPDATE evidence SET sha256 = 'forged'")]
    [InlineData("UPDATE evidence SET content = '{}'")]
    [InlineData("DELETE FROM evidence")]
    public async Task AnEvidenceRow_RefusesUpdatesAndDeletes_EvenWithDirectSql(string sql)
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider();
        await using (var store = new SqliteControlStore(new SqliteStoreOptions { DataDirectory = _directory.Path }, time))
        {
            await store.MigrateAsync(ct);
            await store.WriteAsync(
                tx =>
                {
                    tx.InsertEvidence(new StoredEvidence
                    {
                        Id = "evd_1",
                        IncidentId = "inc_1",
                        IdempotencyKey = "bwk-1",
                        Sha256 = EvidenceSnapshot.Hash("{}"),
                        Events = 0,
                        Detections = 0,
                        CreatedBy = "tester",
                        CreatedAt = AuditChain.Truncate(time.GetUtcNow()),
                        Content = "{}",
                    });
                    return tx.Append(new AuditDraft { Actor = "tester", Action = "evidence.snapshot", Target = "evidence/evd_1" });
                },
                ct);
        }

        var path = _directory.Combine(SqliteStoreOptions.FileName);
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            Should.Throw<SqliteException>(() => command.ExecuteNonQuery()).Message.ShouldContain("write-once");
        }

        SqliteFile.Query(path, "SELECT sha256 FROM evidence").ShouldBe([EvidenceSnapshot.Hash("{}")]);
    }
}
