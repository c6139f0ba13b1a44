using System.Reflection;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Flags;
using Bulwark.Server.Flags;
using Bulwark.Storage;
using Bulwark.Storage.Sqlite;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

public sealed class FlagSnapshotCacheTests : IAsyncLifetime
{
    private readonly TempDirectory _data = new();
    private readonly SqliteControlStore _store;
    private readonly IControlStore _gated;
    private readonly GatedStore _gate;

    public FlagSnapshotCacheTests()
    {
        _store = new SqliteControlStore(new SqliteStoreOptions { DataDirectory = _data.Path }, TimeProvider.System);
        _gated = GatedStore.Wrap(_store);
        _gate = (GatedStore)(object)_gated;
    }

    public async ValueTask InitializeAsync() => await _store.MigrateAsync(Ct);

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        _data.Dispose();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// The real store, with its flag listings counted and, while the gate is closed, held after reading and before
    /// answering: what a slow read looks like to the cache.
    /// </summary>
#pragma warning disable CA1852 // DispatchProxy derives from it at run time.
    internal class GatedStore : DispatchProxy
#pragma warning restore CA1852
    {
        private IControlStore _inner = null!;
        private volatile TaskCompletionSource? _closed;
        private int _listings;

        public int Listings => Volatile.Read(ref _listings);

        /// <summary>Signalled each time a listing reaches the gate.</summary>
        public SemaphoreSlim Arrived { get; } = new(0);

        public static IControlStore Wrap(IControlStore inner)
        {
            var proxy = Create<IControlStore, GatedStore>();
            ((GatedStore)(object)proxy)._inner = inner;
            return proxy;
        }

        /// <summary>While set, a listing fails as a store that cannot be read does.</summary>
        public bool Failing { get; set; }

        public void Close() => _closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Open() => Interlocked.Exchange(ref _closed, null)?.TrySetResult();

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod!.Name == nameof(IControlStore.ListFlagsAsync))
            {
                Interlocked.Increment(ref _listings);
                return ListAsync((CancellationToken)args![0]!);
            }

            try
            {
                return targetMethod.Invoke(_inner, args);
            }
            catch (TargetInvocationException error)
            {
                throw error.InnerException!;
            }
        }

        private async Task<(IReadOnlyList<FlagRecord>, long)> ListAsync(CancellationToken cancellationToken)
        {
            var read = Failing ? throw new IOException("store unavailable") : await _inner.ListFlagsAsync(cancellationToken);
            Arrived.Release();
            if (_closed is { } closed)
            {
                await closed.Task;
            }

            return read;
        }
    }

    private static async Task<Exception?> FailureOf(Func<Task> action)
    {
        try
        {
            await action();
            return null;
        }
        catch (Exception error)
        {
            return error;
        }
    }

    private Task<long> PutAsync(string key, FlagState state) => _store.WriteAsync(tx =>
    {
        var version = tx.PutFlag(new FlagRecord
        {
            Definition = FlagKind.Instance.Read(JsonNode.Parse($$"""{"key":"{{key}}","type":"kill-switch","owner":"o","purpose":"p"}""")!.AsObject()).Value!,
            Status = new FlagStatus(state, 0),
            Version = 0,
            CreatedAt = tx.Now,
            UpdatedAt = tx.Now,
        });
        tx.Append(new AuditDraft { Actor = "test", Action = "flag.put", Target = "flag/" + key, After = "{}" });
        return version;
    }, Ct);

    [Fact]
    public async Task AThousandReadersAfterAnAnnouncement_ShareOneStoreRead_AndTheSameSnapshot()
    {
        var sut = new FlagSnapshotCache(_gated);
        await sut.GetAsync(Ct);
        var before = _gate.Listings;
        _gate.Close();
        sut.Announce(await PutAsync("a", FlagState.EmergencyOff));
        await _gate.Arrived.WaitAsync(Ct);

        var readers = Enumerable.Range(0, 1000).Select(_ => sut.GetAsync(Ct).AsTask()).ToArray();
        _gate.Open();
        var snapshots = await Task.WhenAll(readers);

        (_gate.Listings - before).ShouldBe(1);
        snapshots.Distinct().ShouldHaveSingleItem().Compiled["a"].Status.State.ShouldBe(FlagState.EmergencyOff);
    }

    [Fact]
    public async Task Waiters_WakeOnlyOnceTheNewSnapshotIsPublished()
    {
        var sut = new FlagSnapshotCache(_gated);
        var first = await sut.GetAsync(Ct);
        _gate.Close();
        var newer = sut.NewerThan(first.Version);
        var version = await PutAsync("a", FlagState.Global);
        sut.Announce(version);
        await _gate.Arrived.WaitAsync(Ct);

        newer.IsCompleted.ShouldBeFalse();
        _gate.Open();
        await newer.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        var read = sut.GetAsync(Ct);
        read.IsCompletedSuccessfully.ShouldBeTrue();
        (await read).Version.ShouldBe(version);
    }

    [Fact]
    public async Task AChangeAnnouncedWhileALoadIsInFlight_IsLoadedToo()
    {
        var sut = new FlagSnapshotCache(_gated);
        await sut.GetAsync(Ct);
        _gate.Close();
        sut.Announce(await PutAsync("a", FlagState.Global));
        await _gate.Arrived.WaitAsync(Ct);

        // The load in flight has read without "b": write it and announce it while that load is still running.
        var secondVersion = await PutAsync("b", FlagState.EmergencyOff);
        sut.Announce(secondVersion);
        _gate.Open();
        var last = sut.NewerThan(secondVersion - 1);
        await last.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        var snapshot = await sut.GetAsync(Ct);
        snapshot.Version.ShouldBe(secondVersion);
        snapshot.Compiled.Keys.Order(StringComparer.Ordinal).ShouldBe(["a", "b"]);
        _gate.Listings.ShouldBe(3);
    }

    [Fact]
    public async Task AFailedLoad_FaultsItsReaders_AndTheNextReaderTriesAgain()
    {
        var sut = new FlagSnapshotCache(_gated);
        await sut.GetAsync(Ct);
        var version = await PutAsync("a", FlagState.Global);
        _gate.Failing = true;

        sut.Announce(version);

        (await FailureOf(() => sut.GetAsync(Ct).AsTask())).ShouldBeOfType<IOException>();
        var listings = _gate.Listings;
        _gate.Failing = false;
        (await sut.GetAsync(Ct)).Version.ShouldBe(version);
        _gate.Listings.ShouldBe(listings + 1);
    }
}
