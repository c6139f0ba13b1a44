using System.Diagnostics.CodeAnalysis;
using Bulwark.Ingest;
using Bulwark.Server.Ingest;
using Bulwark.Storage.Sqlite;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests.Ingest;

/// <summary>The registry keeps the newest definition of a source live, whatever order its refreshes and puts run in.</summary>
public sealed class SourceRegistryTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private readonly FakeTimeProvider _time = new();
    private readonly GatedResolver _resolver = new();
    private SqliteControlStore _store = null!;
    private SourceRegistry _registry = null!;

    public async ValueTask InitializeAsync()
    {
        _store = new SqliteControlStore(new SqliteStoreOptions { DataDirectory = _directory.Path }, _time);
        await _store.MigrateAsync(TestContext.Current.CancellationToken);
        _registry = new SourceRegistry(_store, _resolver, _time);
        (await _registry.GetAsync("gh", TestContext.Current.CancellationToken)).ShouldBeNull();
    }

    public async ValueTask DisposeAsync()
    {
        _registry.Dispose();
        await _store.DisposeAsync();
        _directory.Dispose();
    }

    [Fact]
    public async Task APutAppliedWhileAStaleSourceIsResolvedAgain_StaysLive()
    {
        _registry.Apply(Record("OLD", version: 1));
        _time.Advance(SourceRegistry.ResolveEvery + TimeSpan.FromSeconds(1));

        // A delivery finds the source stale and resolves its secrets again; a put rotating the secret commits meanwhile.
        _resolver.HoldNext();
        var delivery = Task.Run(() => _registry.GetAsync("gh", CancellationToken.None).AsTask(), TestContext.Current.CancellationToken);
        _resolver.Entered.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken).ShouldBeTrue();
        _registry.Apply(Record("NEW", version: 2));
        _resolver.Release.Set();

        (await delivery)!.Definition.Secrets[0].Target.ShouldBe("NEW");
        (await _registry.GetAsync("gh", TestContext.Current.CancellationToken))!.Definition.Secrets[0].Target.ShouldBe("NEW");
        (await _registry.GetAsync("gh", TestContext.Current.CancellationToken))!.Secrets.Secrets.ShouldBe(["value-of-NEW"]);
    }

    [Fact]
    public async Task PutsAppliedOutOfOrder_LeaveTheNewerLive()
    {
        _registry.Apply(Record("SECOND", version: 7));
        _registry.Apply(Record("FIRST", version: 6));

        (await _registry.GetAsync("gh", TestContext.Current.CancellationToken))!.Definition.Secrets[0].Target.ShouldBe("SECOND");

        _registry.Apply(Record("THIRD", version: 8));
        (await _registry.GetAsync("gh", TestContext.Current.CancellationToken))!.Definition.Secrets[0].Target.ShouldBe("THIRD");
    }

    [Fact]
    public async Task AStaleSource_IsResolvedAgain()
    {
        _registry.Apply(Record("KEY", version: 1));
        var first = await _registry.GetAsync("gh", TestContext.Current.CancellationToken);
        (await _registry.GetAsync("gh", TestContext.Current.CancellationToken)).ShouldBeSameAs(first);

        _time.Advance(SourceRegistry.ResolveEvery + TimeSpan.FromSeconds(1));
        var again = await _registry.GetAsync("gh", TestContext.Current.CancellationToken);

        again.ShouldNotBeSameAs(first);
        again!.ResolvedAt.ShouldBe(_time.GetUtcNow());
    }

    private static SourceRecord Record(string secretVariable, long version) => new()
    {
        Definition = new SourceDefinition
        {
            Name = "gh",
            Scheme = "github",
            Normalizer = "event-v1",
            Secrets = [new SecretReference("env", secretVariable)],
        },
        Version = version,
        CreatedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
    };

    /// <summary>Resolves <c>env:NAME</c> to <c>value-of-NAME</c>; <see cref="HoldNext"/> makes the next call wait for <see cref="Release"/>.</summary>
    private sealed class GatedResolver : ISecretResolver
    {
        private int _holdNext;

        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public void HoldNext() => Volatile.Write(ref _holdNext, 1);

        public bool TryResolve(SecretReference reference, [NotNullWhen(true)] out string? value, out string reason)
        {
            if (Interlocked.Exchange(ref _holdNext, 0) == 1)
            {
                Entered.Set();
                Release.Wait(TimeSpan.FromSeconds(30));
            }

            value = "value-of-" + reference.Target;
            reason = string.Empty;
            return true;
        }
    }
}
