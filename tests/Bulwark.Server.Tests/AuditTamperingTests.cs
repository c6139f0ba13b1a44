using System.Net;
using Bulwark.Audit;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

/// <summary>
/// Tampering made directly in the SQLite file (triggers dropped first, as an attacker with file access would) is caught
/// by verification after a restart; the server still starts and serves, reports the break on /metrics, and keeps
/// chaining new entries without hiding the break.
/// </summary>
public sealed class AuditTamperingTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Restart_WithoutTampering_ChainStillVerifies()
    {
        await WriteTenEntriesAsync();
        await using var server = await BulwarkTestServer.StartAsync(_directory.Path);

        var result = await VerifyAsync(server);
        result["ok"]!.GetValue<bool>().ShouldBeTrue();
        result["entries"]!.GetValue<long>().ShouldBe(10);
    }

    [Fact]
    public async Task EditedField_IsCaughtAtThatEntry()
    {
        await WriteTenEntriesAsync();
        SqliteFile.Tamper(Database, "UPDATE audit SET reason = 'nothing to see' WHERE seq = 5;");

        await AssertBrokenAtAsync(5, "edited");
    }

    [Fact]
    public async Task EditedBeforeState_IsCaught()
    {
        await WriteTenEntriesAsync();
        SqliteFile.Tamper(Database, """UPDATE audit SET after = replace(after, '"viewer"', '"admin"') WHERE seq = 4;""");

        await AssertBrokenAtAsync(4, "edited");
    }

    [Fact]
    public async Task DeletedEntry_IsCaughtAtTheGap()
    {
        await WriteTenEntriesAsync();
        SqliteFile.Tamper(Database, "DELETE FROM audit WHERE seq = 6;");

        await AssertBrokenAtAsync(7, "deleted");
    }

    [Fact]
    public async Task DeletedLastEntries_AreCaughtAgainstTheRecordedHead()
    {
        await WriteTenEntriesAsync();
        SqliteFile.Tamper(Database, "DELETE FROM audit WHERE seq >= 9;");

        await AssertBrokenAtAsync(9, "missing from the end");
    }

    [Fact]
    public async Task ReorderedPair_IsCaught()
    {
        await WriteTenEntriesAsync();
        SqliteFile.Tamper(Database, "UPDATE audit SET seq = -5 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = 6; UPDATE audit SET seq = 6 WHERE seq = -5;");

        await AssertBrokenAtAsync(5, "does not link");
    }

    [Fact]
    public async Task InsertedEntryWithAValidOwnHash_IsCaughtByTheChain()
    {
        await WriteTenEntriesAsync();
        var previous = (string)SqliteFile.Query(Database, "SELECT hash FROM audit WHERE seq = 3").Single()!;
        var forged = AuditChain.Link(
            new AuditDraft { Actor = "admin", Action = "identity.delete", Target = "identity/evidence" },
            new AuditHead(3, previous),
            new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero));
        var micros = (forged.Time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        SqliteFile.Tamper(Database, $"""
            UPDATE audit SET seq = -seq WHERE seq >= 4;
            UPDATE audit SET seq = 1 - seq WHERE seq < 0;
            INSERT INTO audit (seq, time, actor, action, target, prev_hash, hash) VALUES (4, {micros}, 'admin', 'identity.delete', 'identity/evidence', '{previous}', '{forged.Hash}');
            """);

        await AssertBrokenAtAsync(5, "does not link");
    }

    [Fact]
    public async Task BrokenChain_ServerStillServesReportsOnMetricsAndKeepsChaining()
    {
        await WriteTenEntriesAsync();
        SqliteFile.Tamper(Database, "UPDATE audit SET actor = 'someone-else' WHERE seq = 3;");

        await using var server = await BulwarkTestServer.StartAsync(_directory.Path);
        using var admin = server.CreateAdminClient();
        var ct = TestContext.Current.CancellationToken;
        (await admin.GetAsync("/readyz", ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await VerifyAsync(server))["ok"]!.GetValue<bool>().ShouldBeFalse();
        (await admin.GetStringAsync("/metrics", ct)).ShouldContain("bulwark_audit_chain_intact 0");

        using var write = await admin.PutAsync("/v1/identities/after-damage", BulwarkTestServer.Json("""{"roles":["viewer"]}"""), ct);
        write.StatusCode.ShouldBe(HttpStatusCode.Created);

        var result = await VerifyAsync(server);
        result["ok"]!.GetValue<bool>().ShouldBeFalse();
        result["first_bad_seq"]!.GetValue<long>().ShouldBe(3);
        var entries = await server.Store.ReadAuditAsync(10, 10, ct);
        entries.Single().Seq.ShouldBe(11);
        entries.Single().PrevHash.ShouldBe((string)SqliteFile.Query(Database, "SELECT hash FROM audit WHERE seq = 10").Single()!);
        AuditChain.ComputeHash(entries.Single()).ShouldBe(entries.Single().Hash);
    }

    [Fact]
    public async Task AppendOnlyTriggers_RefuseUpdatesAndDeletesThroughSql()
    {
        await WriteTenEntriesAsync();
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Database};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM audit WHERE seq = 1";

        Should.Throw<Microsoft.Data.Sqlite.SqliteException>(() => command.ExecuteNonQuery()).Message.ShouldContain("append-only");
        command.CommandText = "UPDATE audit SET reason = 'x'";
        Should.Throw<Microsoft.Data.Sqlite.SqliteException>(() => command.ExecuteNonQuery()).Message.ShouldContain("append-only");
    }

    private string Database => Path.Combine(_directory.Path, "bulwark.db");

    /// <summary>Bootstrap writes 2 entries; 8 identity puts make 10.</summary>
    private async Task WriteTenEntriesAsync()
    {
        await using var server = await BulwarkTestServer.StartAsync(_directory.Path);
        using var admin = server.CreateAdminClient();
        for (var i = 0; i < 8; i++)
        {
            using var response = await admin.PutAsync($"/v1/identities/user-{i}", BulwarkTestServer.Json("""{"roles":["viewer"]}"""), TestContext.Current.CancellationToken);
            response.StatusCode.ShouldBe(HttpStatusCode.Created);
        }
    }

    private async Task AssertBrokenAtAsync(long seq, string problem)
    {
        await using var server = await BulwarkTestServer.StartAsync(_directory.Path);
        var result = await VerifyAsync(server);
        result["ok"]!.GetValue<bool>().ShouldBeFalse(result.ToJsonString());
        result["first_bad_seq"]!.GetValue<long>().ShouldBe(seq, result.ToJsonString());
        result["problem"]!.GetValue<string>().ShouldContain(problem);
    }

    private static async Task<System.Text.Json.Nodes.JsonNode> VerifyAsync(BulwarkTestServer server)
    {
        using var admin = server.CreateAdminClient();
        return await Http.ReadJsonAsync(await admin.GetAsync("/v1/audit/verify", TestContext.Current.CancellationToken));
    }
}
