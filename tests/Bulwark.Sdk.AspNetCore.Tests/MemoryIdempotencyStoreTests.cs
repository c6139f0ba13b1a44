using Bulwark.Sdk.AspNetCore.Idempotency;
using Bulwark.TestUtils;
using Microsoft.Extensions.Primitives;

namespace Bulwark.Sdk.AspNetCore.Tests;

public sealed class MemoryIdempotencyStoreTests
{
    private static readonly TimeSpan Retention = TimeSpan.FromHours(1);
    private readonly FakeTimeProvider _time = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private MemoryIdempotencyStore Store(int maxEntries) => new(maxEntries, _time);

    private static IdempotencyKey Key(string key, string scope = "user:alice") => new(scope, key);

    private IdempotentResponse Response(string fingerprint) => new()
    {
        Fingerprint = fingerprint,
        StatusCode = 201,
        Headers = new Dictionary<string, StringValues>(),
        Body = new byte[] { 1, 2, 3 },
        ExpiresAt = _time.GetUtcNow() + Retention,
    };

    private static async Task StoreAsync(MemoryIdempotencyStore sut, IdempotencyKey key, IdempotentResponse response)
    {
        (await sut.ReserveAsync(key, response.Fingerprint, Ct)).Status.ShouldBe(IdempotencyReservationStatus.Reserved);
        await sut.CompleteAsync(key, response, Ct);
    }

    [Fact]
    public async Task ReserveAsync_FreeKey_ReservesItOnce()
    {
        var sut = Store(10);

        var first = await sut.ReserveAsync(Key("k"), "f1", Ct);
        var second = await sut.ReserveAsync(Key("k"), "f2", Ct);

        first.Status.ShouldBe(IdempotencyReservationStatus.Reserved);
        second.Status.ShouldBe(IdempotencyReservationStatus.InProgress);
        second.Fingerprint.ShouldBe("f1");
    }

    [Fact]
    public async Task ReserveAsync_AfterRelease_ReservesAgain()
    {
        var sut = Store(10);
        await sut.ReserveAsync(Key("k"), "f1", Ct);

        await sut.ReleaseAsync(Key("k"), Ct);

        (await sut.ReserveAsync(Key("k"), "f2", Ct)).Status.ShouldBe(IdempotencyReservationStatus.Reserved);
        sut.Count.ShouldBe(0);
    }

    [Fact]
    public async Task ReserveAsync_StoredResponse_ReturnsItUntilItExpires()
    {
        var sut = Store(10);
        var response = Response("f1");
        await StoreAsync(sut, Key("k"), response);

        var beforeExpiry = await sut.ReserveAsync(Key("k"), "f1", Ct);
        _time.Advance(Retention);
        var atExpiry = await sut.ReserveAsync(Key("k"), "f1", Ct);

        beforeExpiry.Status.ShouldBe(IdempotencyReservationStatus.Completed);
        beforeExpiry.Response.ShouldBeSameAs(response);
        atExpiry.Status.ShouldBe(IdempotencyReservationStatus.Reserved);
        sut.Count.ShouldBe(0);
    }

    [Fact]
    public async Task ReserveAsync_SameKeyInAnotherScope_IsIndependent()
    {
        var sut = Store(10);
        await StoreAsync(sut, Key("k", "user:alice"), Response("f1"));

        var other = await sut.ReserveAsync(Key("k", "user:bob"), "f1", Ct);

        other.Status.ShouldBe(IdempotencyReservationStatus.Reserved);
    }

    [Fact]
    public async Task CompleteAsync_StoreFull_EvictsTheOldestAndStaysAtTheBound()
    {
        var sut = Store(3);
        for (var i = 1; i <= 5; i++)
        {
            await StoreAsync(sut, Key($"k{i}"), Response($"f{i}"));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        sut.Count.ShouldBe(3);
        (await sut.ReserveAsync(Key("k1"), "f1", Ct)).Status.ShouldBe(IdempotencyReservationStatus.Reserved);
        (await sut.ReserveAsync(Key("k2"), "f2", Ct)).Status.ShouldBe(IdempotencyReservationStatus.Reserved);
        foreach (var kept in new[] { 3, 4, 5 })
        {
            (await sut.ReserveAsync(Key($"k{kept}"), $"f{kept}", Ct)).Status.ShouldBe(IdempotencyReservationStatus.Completed);
        }
    }

    [Fact]
    public async Task CompleteAsync_StoreFull_NeverEvictsARequestInProgress()
    {
        var sut = Store(1);
        await sut.ReserveAsync(Key("running"), "f0", Ct);

        await StoreAsync(sut, Key("k1"), Response("f1"));
        await StoreAsync(sut, Key("k2"), Response("f2"));

        var running = await sut.ReserveAsync(Key("running"), "f0", Ct);
        running.Status.ShouldBe(IdempotencyReservationStatus.InProgress);
        sut.Count.ShouldBe(1);
    }

    [Fact]
    public void Constructor_MaxEntriesBelowOne_Throws()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => new MemoryIdempotencyStore(0, _time));
    }
}
