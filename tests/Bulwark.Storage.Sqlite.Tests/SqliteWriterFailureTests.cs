using Bulwark.Audit;
using Bulwark.Storage;
using Bulwark.Storage.Sqlite;
using Bulwark.TestUtils;

namespace Bulwark.StorageSqlite.Tests;

/// <summary>
/// When SQLite rolls back the whole transaction underneath the writer (as it does on a full disk or an I/O error),
/// every caller in that batch is told, none is left waiting, and the writer keeps serving with an intact chain.
/// </summary>
public sealed class SqliteWriterFailureTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private SqliteControlStore _store = null!;

    public async ValueTask InitializeAsync()
    {
        _store = new SqliteControlStore(new SqliteStoreOptions { DataDirectory = _directory.Path }, new FakeTimeProvider());
        await _store.MigrateAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        _directory.Dispose();
    }

    [Fact]
    public async Task TransactionLostUnderTheWriter_FailsEveryCallerInTheBatchAndTheWriterRecovers()
    {
        var ct = TestContext.Current.CancellationToken;
        await _store.WriteAsync(tx => tx.Append(Draft("before")), ct);

        // Hold the writer inside one unit so the next writes queue up and are committed together as one batch.
        using var gate = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = _store.WriteAsync(tx => { entered.TrySetResult(); gate.Wait(ct); return tx.Append(Draft("blocker")); }, ct);
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        var before = _store.WriteAsync(tx => tx.Append(Draft("same-batch-before")), ct);
        var saboteur = _store.WriteAsync<AuditEntry>(
            tx =>
            {
                using var rollback = ((SqliteWriteTransaction)tx).Connection.CreateCommand();
                rollback.CommandText = "ROLLBACK";
                rollback.ExecuteNonQuery();
                throw new IOException("disk full");
            },
            ct);
        var after = _store.WriteAsync(tx => tx.Append(Draft("same-batch-after")), ct);
        gate.Set();

        await blocker.WaitAsync(TimeSpan.FromSeconds(30), ct);
        await Should.ThrowAsync<IOException>(() => saboteur.WaitAsync(TimeSpan.FromSeconds(30), ct));
        (await Record.ExceptionAsync(() => before.WaitAsync(TimeSpan.FromSeconds(30), ct))).ShouldNotBeOfType<TimeoutException>();
        before.IsFaulted.ShouldBeTrue();
        (await Record.ExceptionAsync(() => after.WaitAsync(TimeSpan.FromSeconds(30), ct))).ShouldNotBeOfType<TimeoutException>();
        after.IsFaulted.ShouldBeTrue();

        var next = await _store.WriteAsync(tx => tx.Append(Draft("after-recovery")), ct);
        var verifier = new AuditVerifier();
        var head = await _store.ScanAuditAsync(verifier.Add, ct);
        verifier.Complete(head).Ok.ShouldBeTrue();
        head.Seq.ShouldBe(next.Seq);
        var targets = (await _store.ReadAuditAsync(0, 10, ct)).Select(e => e.Target).ToList();
        targets.ShouldNotContain("same-batch-before");
        targets.ShouldNotContain("same-batch-after");
        targets.ShouldBe(["before", "blocker", "after-recovery"]);
    }

    [Fact]
    public async Task WriterThatCannotReopenTheDatabase_StopsAsNotReadyAndFailsWritesInsteadOfHanging()
    {
        var ct = TestContext.Current.CancellationToken;
        var doomed = _store.WriteAsync<AuditEntry>(
            tx =>
            {
                using var rollback = ((SqliteWriteTransaction)tx).Connection.CreateCommand();
                rollback.CommandText = "ROLLBACK";
                rollback.ExecuteNonQuery();
                Directory.Delete(_directory.Path, recursive: true);
                throw new IOException("volume gone");
            },
            ct);

        await Should.ThrowAsync<IOException>(() => doomed.WaitAsync(TimeSpan.FromSeconds(30), ct));
        await WaitUntilNotReadyAsync(TimeSpan.FromSeconds(30));
        _store.IsReady.ShouldBeFalse();
        await Should.ThrowAsync<InvalidOperationException>(() => _store.WriteAsync(tx => tx.Append(Draft("later")), ct));
    }

    private async Task WaitUntilNotReadyAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        while (_store.IsReady)
        {
            await Task.Yield();
            timeout.Token.ThrowIfCancellationRequested();
        }
    }

    private static AuditDraft Draft(string target) => new() { Actor = "tester", Action = "test.change", Target = target };
}
