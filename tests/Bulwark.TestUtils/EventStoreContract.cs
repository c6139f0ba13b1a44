using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.Json;
using Shouldly;

namespace Bulwark.TestUtils;

/// <summary>
/// The behaviour every <see cref="IEventStore"/> adapter must have. Subclass it once per adapter (SQLite now,
/// PostgreSQL or RabbitMQ later) and implement <see cref="OpenStoreCoreAsync"/>; the tests run unchanged. Times in these
/// tests are whole milliseconds, the precision every adapter keeps.
/// </summary>
public abstract class EventStoreContract : IAsyncLifetime
{
    /// <summary>The most events one query answers with.</summary>
    protected const int MaxQueryLimit = 1000;

    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly List<IEventStore> _opened = [];

    protected FakeTimeProvider Time { get; } = new();

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Opens (and migrates) a store over the adapter's fixture storage, empty on the first call of a test.</summary>
    protected abstract Task<IEventStore> OpenStoreCoreAsync(TimeProvider time);

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await store.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    protected async Task<IEventStore> OpenStoreAsync()
    {
        var store = await OpenStoreCoreAsync(Time);
        _opened.Add(store);
        return store;
    }

    protected RawDelivery Delivery(
        string? deliveryId,
        string body = "{\"ok\":true}",
        string source = "okta-prod",
        DateTimeOffset? at = null,
        TimeSpan? retention = null) =>
        Delivery(deliveryId, Encoding.UTF8.GetBytes(body), source, at, retention);

    protected RawDelivery Delivery(string? deliveryId, byte[] body, string source = "okta-prod", DateTimeOffset? at = null, TimeSpan? retention = null)
    {
        var received = at ?? Time.GetUtcNow();
        return new RawDelivery(
            source,
            received,
            [new("content-type", "application/json"), new("webhook-id", deliveryId ?? "none")],
            body,
            "application/json",
            VerificationOutcome.Verified,
            deliveryId,
            received + (retention ?? TimeSpan.FromDays(1)));
    }

    protected NormalizedEvent Event(
        string id,
        string account = "acct-1",
        string type = "login_failed",
        string platform = "okta",
        string source = "okta-prod",
        DateTimeOffset? at = null) =>
        new(id, source, platform, type, account, at ?? Time.GetUtcNow(), ReceivedAt: Time.GetUtcNow());

    protected static NormalizeResult Clean(params NormalizedEvent[] events) => new(events, []);

    protected async Task<RawSnapshot> SnapshotAsync(IEventStore store, string? deliveryId = null, string source = "okta-prod")
    {
        var receipt = await store.AcceptDeliveryAsync(Delivery(deliveryId, source: source), Ct);
        return (await store.GetSnapshotAsync(receipt.SnapshotId, Ct)).ShouldNotBeNull();
    }

    [Fact]
    public async Task MigrateAsync_CalledAgain_KeepsTheVersion()
    {
        var store = await OpenStoreAsync();
        var version = await store.MigrateAsync(Ct);

        version.ShouldBeGreaterThan(0);
        (await store.MigrateAsync(Ct)).ShouldBe(version);
    }

    [Fact]
    public async Task AcceptDeliveryAsync_NewDelivery_StoresTheSnapshotByteExactWithItsSha256()
    {
        var store = await OpenStoreAsync();
        byte[] body = [0x7b, 0x00, 0xff, 0xfe, 0x22, 0xc3, 0x28, 0x7d, 0x0a];
        var at = Time.GetUtcNow().AddMilliseconds(123);
        var delivery = new RawDelivery(
            "stripe-live",
            at,
            [new("content-type", "application/octet-stream"), new("x-forwarded-for", "10.0.0.1"), new("X-Forwarded-For", "10.0.0.2"), new("x-note", "naïve \"quoted\" ✓")],
            body,
            "application/octet-stream",
            VerificationOutcome.BadSignature,
            "evt_1",
            at.AddHours(24));

        var receipt = await store.AcceptDeliveryAsync(delivery, Ct);

        receipt.Status.ShouldBe(DeliveryStatus.Accepted);
        receipt.SnapshotId.ShouldStartWith("raw_");
        receipt.SnapshotId.Length.ShouldBe(30);
        var snapshot = (await store.GetSnapshotAsync(receipt.SnapshotId, Ct)).ShouldNotBeNull();
        snapshot.Seq.ShouldBe(1);
        snapshot.Id.ShouldBe(receipt.SnapshotId);
        snapshot.Source.ShouldBe("stripe-live");
        snapshot.ReceivedAt.ShouldBe(at);
        snapshot.Headers.ShouldBe(delivery.Headers);
        snapshot.Body.ShouldBe(body);
        snapshot.Sha256.ShouldBe(SHA256.HashData(body));
        snapshot.ContentType.ShouldBe("application/octet-stream");
        snapshot.Verification.ShouldBe(VerificationOutcome.BadSignature);
        snapshot.DeliveryId.ShouldBe("evt_1");
        store.LastSnapshotSeq.ShouldBe(1);
    }

    [Fact]
    public async Task AcceptDeliveryAsync_EmptyBodyNoHeadersNoIds_IsStoredAsGiven()
    {
        var store = await OpenStoreAsync();
        var at = Time.GetUtcNow();
        var delivery = new RawDelivery("internal", at, [], ReadOnlyMemory<byte>.Empty, null, VerificationOutcome.MissingSignature, null, at);

        var receipt = await store.AcceptDeliveryAsync(delivery, Ct);

        var snapshot = (await store.GetSnapshotAsync(receipt.SnapshotId, Ct)).ShouldNotBeNull();
        snapshot.Body.ShouldBeEmpty();
        snapshot.Sha256.ShouldBe(SHA256.HashData(ReadOnlySpan<byte>.Empty));
        snapshot.Headers.ShouldBeEmpty();
        snapshot.ContentType.ShouldBeNull();
        snapshot.DeliveryId.ShouldBeNull();
        snapshot.Verification.ShouldBe(VerificationOutcome.MissingSignature);
    }

    [Fact]
    public async Task AcceptDeliveryAsync_SameDeliveryIdWithinRetention_IsADuplicateOfTheFirstSnapshot()
    {
        var store = await OpenStoreAsync();
        var first = await store.AcceptDeliveryAsync(Delivery("d-1", "{\"n\":1}"), Ct);
        Time.Advance(TimeSpan.FromMinutes(30));

        var again = await store.AcceptDeliveryAsync(Delivery("d-1", "{\"n\":2}"), Ct);
        var otherSource = await store.AcceptDeliveryAsync(Delivery("d-1", "{\"n\":3}", source: "auth0-prod"), Ct);

        again.ShouldBe(new DeliveryReceipt(DeliveryStatus.Duplicate, first.SnapshotId));
        otherSource.Status.ShouldBe(DeliveryStatus.Accepted);
        otherSource.SnapshotId.ShouldNotBe(first.SnapshotId);
        (await store.ReadSnapshotsAsync(0, 10, Ct)).Select(s => Encoding.UTF8.GetString(s.Body)).ShouldBe(["{\"n\":1}", "{\"n\":3}"]);
        store.LastSnapshotSeq.ShouldBe(2);
    }

    [Fact]
    public async Task AcceptDeliveryAsync_SameDeliveryIdOnceRetentionEnded_IsAcceptedAgainAndRememberedAnew()
    {
        var store = await OpenStoreAsync();
        var first = await store.AcceptDeliveryAsync(Delivery("d-1", retention: TimeSpan.FromHours(1)), Ct);
        Time.Advance(TimeSpan.FromHours(1));

        var second = await store.AcceptDeliveryAsync(Delivery("d-1", retention: TimeSpan.FromHours(1)), Ct);
        Time.Advance(TimeSpan.FromMinutes(59));
        var third = await store.AcceptDeliveryAsync(Delivery("d-1", retention: TimeSpan.FromHours(1)), Ct);

        second.Status.ShouldBe(DeliveryStatus.Accepted);
        second.SnapshotId.ShouldNotBe(first.SnapshotId);
        third.ShouldBe(new DeliveryReceipt(DeliveryStatus.Duplicate, second.SnapshotId));
        (await store.ReadSnapshotsAsync(0, 10, Ct)).Select(s => s.Id).ShouldBe([first.SnapshotId, second.SnapshotId]);
    }

    [Fact]
    public async Task AcceptDeliveryAsync_WithoutDeliveryId_AcceptsEveryCopy()
    {
        var store = await OpenStoreAsync();

        var receipts = new List<DeliveryReceipt>();
        for (var i = 0; i < 3; i++)
        {
            receipts.Add(await store.AcceptDeliveryAsync(Delivery(null), Ct));
        }

        receipts.ShouldAllBe(r => r.Status == DeliveryStatus.Accepted);
        receipts.Select(r => r.SnapshotId).Distinct().Count().ShouldBe(3);
    }

    [Fact]
    public async Task AcceptDeliveryAsync_ConcurrentDeliveriesOfOneId_AcceptsExactlyOneAndTheRestPointAtIt()
    {
        var store = await OpenStoreAsync();
        var shared = Enumerable.Range(0, 64).Select(i => store.AcceptDeliveryAsync(Delivery("same", "{\"copy\":" + i + "}"), Ct));
        var others = Enumerable.Range(0, 64).Select(i => store.AcceptDeliveryAsync(Delivery("other-" + i), Ct));
        var all = shared.Zip(others, (s, o) => new[] { s, o }).SelectMany(p => p).ToList();

        var receipts = await Task.WhenAll(all).WaitAsync(Patience, Ct);

        var sameReceipts = receipts.Where((_, i) => i % 2 == 0).ToList();
        var accepted = sameReceipts.Where(r => r.Status == DeliveryStatus.Accepted).ShouldHaveSingleItem();
        sameReceipts.Where(r => r.Status == DeliveryStatus.Duplicate).ShouldAllBe(r => r.SnapshotId == accepted.SnapshotId);
        receipts.Where((_, i) => i % 2 == 1).ShouldAllBe(r => r.Status == DeliveryStatus.Accepted);
        (await store.ReadSnapshotsAsync(0, 1000, Ct)).Count.ShouldBe(65);
        store.LastSnapshotSeq.ShouldBe(65);
    }

    [Fact]
    public async Task ReadSnapshotsAsync_AfterManyDeliveries_PagesInArrivalOrder()
    {
        var store = await OpenStoreAsync();
        var ids = new List<string>();
        for (var i = 0; i < 25; i++)
        {
            // Later deliveries may carry earlier receive times: arrival order is what counts.
            ids.Add((await store.AcceptDeliveryAsync(Delivery("d-" + i, at: Time.GetUtcNow().AddSeconds(-i)), Ct)).SnapshotId);
        }

        var pages = new List<RawSnapshot>();
        var after = 0L;
        while (true)
        {
            var page = await store.ReadSnapshotsAsync(after, 10, Ct);
            if (page.Count == 0)
            {
                break;
            }

            page.Count.ShouldBeLessThanOrEqualTo(10);
            pages.AddRange(page);
            after = page[^1].Seq;
        }

        pages.Select(s => s.Id).ShouldBe(ids);
        pages.Select(s => s.Seq).ShouldBe(pages.Select(s => s.Seq).Order());
        pages.Select(s => s.Seq).Distinct().Count().ShouldBe(25);
        store.LastSnapshotSeq.ShouldBe(pages[^1].Seq);
    }

    [Fact]
    public async Task GetSnapshotAsync_UnknownId_ReturnsNull()
    {
        var store = await OpenStoreAsync();
        await store.AcceptDeliveryAsync(Delivery("d-1"), Ct);

        (await store.GetSnapshotAsync("raw_00000000000000000000000000", Ct)).ShouldBeNull();
    }

    [Fact]
    public async Task CompleteNormalizationAsync_CleanResult_AppendsEventsFromTheSnapshotAndAdvancesTheOffset()
    {
        var store = await OpenStoreAsync();
        var snapshot = await SnapshotAsync(store, "d-1");

        var (append, quarantine) = await store.CompleteNormalizationAsync("normalizer", snapshot, Clean(Event("e-1"), Event("e-2")), Time.GetUtcNow(), Ct);

        append.ShouldBe(new AppendReceipt(2, 0, store.LastOffset));
        quarantine.ShouldBeNull();
        var events = await store.ReadEventsAsync(0, 10, Ct);
        events.Select(e => (e.Event.Id, e.SnapshotId)).ShouldBe([("e-1", snapshot.Id), ("e-2", snapshot.Id)]);
        events[^1].Offset.ShouldBe(store.LastOffset);
        (await store.GetOffsetAsync("normalizer", Ct)).ShouldBe(snapshot.Seq);
        (await store.ListQuarantineAsync(null, 10, null, Ct)).ShouldBeEmpty();
    }

    [Fact]
    public async Task ReadEventKeysAsync_AfterAnOffset_GivesEachEventsIndexedFieldsInOffsetOrder()
    {
        var store = await OpenStoreAsync();
        var at = Time.GetUtcNow().AddMinutes(-3);
        NormalizedEvent[] appended =
        [
            Event("e-1", account: "acct-1", type: "login_failed", platform: "okta", source: "okta-prod", at: at),
            Event("e-2", account: "acct-2", type: "password_reset", platform: "auth0", source: "auth0-eu", at: at.AddSeconds(1)),
            Event("e-3", account: "acct-3", type: "x-thing", platform: "internal", source: "svc", at: at.AddSeconds(2)),
        ];
        await store.AppendEventsAsync(appended, Ct);
        var logged = await store.ReadEventsAsync(0, 10, Ct);

        var keys = await store.ReadEventKeysAsync(logged[0].Offset, 10, Ct);

        keys.ShouldBe(logged.Skip(1).Select(l => new LoggedEventKey(l.Offset, l.Event.Source, l.Event.Id, l.Event.Platform, l.Event.EventType, l.Event.AccountId, l.Event.Timestamp)));
        keys.Select(k => (k.Id, k.Platform, k.EventType, k.AccountId, k.Timestamp)).ShouldBe(appended.Skip(1).Select(e => (e.Id, e.Platform, e.EventType, e.AccountId, e.Timestamp)));
        (await store.ReadEventKeysAsync(0, 1, Ct)).ShouldHaveSingleItem().Id.ShouldBe("e-1");
    }

    [Fact]
    public async Task CompleteNormalizationAsync_EventWithoutReceiveTime_TakesTheSnapshots()
    {
        var store = await OpenStoreAsync();
        var snapshot = await SnapshotAsync(store, "d-1");
        Time.Advance(TimeSpan.FromSeconds(5));

        await store.CompleteNormalizationAsync("normalizer", snapshot, Clean(Event("e-1") with { ReceivedAt = null }), Time.GetUtcNow(), Ct);

        (await store.ReadEventsAsync(0, 10, Ct)).ShouldHaveSingleItem().Event.ReceivedAt.ShouldBe(snapshot.ReceivedAt);
    }

    [Fact]
    public async Task CompleteNormalizationAsync_IssuesThenRetries_KeepsOneEntryThatCountsAttemptsAndResolves()
    {
        var store = await OpenStoreAsync();
        var snapshot = await SnapshotAsync(store, "d-1");
        var opened = Time.GetUtcNow();
        var issues = new[] { new NormalizeIssue(1, "no account id"), new NormalizeIssue(3, "unknown event type 'x'") };

        var (firstAppend, first) = await store.CompleteNormalizationAsync("normalizer", snapshot, new NormalizeResult([Event("e-0")], issues), opened, Ct);

        firstAppend.Appended.ShouldBe(1);
        first.ShouldNotBeNull();
        first.Id.ShouldStartWith("q_");
        first.SnapshotId.ShouldBe(snapshot.Id);
        first.Source.ShouldBe(snapshot.Source);
        first.Reason.ShouldContain("2 items");
        first.Reason.ShouldContain("no account id");
        first.Issues.ShouldBe(issues);
        first.Status.ShouldBe(QuarantineStatus.Open);
        (first.Attempts, first.CreatedAt, first.UpdatedAt).ShouldBe((1, opened, opened));
        (await store.GetQuarantineAsync(first.Id, Ct)).ShouldBeEquivalentTo(first);

        Time.Advance(TimeSpan.FromMinutes(10));
        var retried = Time.GetUtcNow();
        var (secondAppend, second) = await store.CompleteNormalizationAsync(
            "normalizer", snapshot, new NormalizeResult([Event("e-0"), Event("e-1")], [new NormalizeIssue(3, "still unknown")]), retried, Ct);

        secondAppend.ShouldBe(new AppendReceipt(1, 1, store.LastOffset));
        second.ShouldNotBeNull();
        second.Id.ShouldBe(first.Id);
        (second.Attempts, second.CreatedAt, second.UpdatedAt, second.Status).ShouldBe((2, opened, retried, QuarantineStatus.Open));
        second.Issues.ShouldBe([new NormalizeIssue(3, "still unknown")]);
        second.Reason.ShouldContain("1 item could not");

        Time.Advance(TimeSpan.FromMinutes(10));
        var fixedAt = Time.GetUtcNow();
        var (thirdAppend, third) = await store.CompleteNormalizationAsync("normalizer", snapshot, Clean(Event("e-0"), Event("e-1"), Event("e-3")), fixedAt, Ct);

        thirdAppend.ShouldBe(new AppendReceipt(1, 2, store.LastOffset));
        third.ShouldNotBeNull();
        (third.Id, third.Attempts, third.CreatedAt, third.UpdatedAt, third.Status).ShouldBe((first.Id, 3, opened, fixedAt, QuarantineStatus.Resolved));
        (await store.GetQuarantineAsync(first.Id, Ct))!.Status.ShouldBe(QuarantineStatus.Resolved);
        (await store.ListQuarantineAsync(QuarantineStatus.Open, 10, null, Ct)).ShouldBeEmpty();
        (await store.ListQuarantineAsync(QuarantineStatus.Resolved, 10, null, Ct)).ShouldHaveSingleItem().Id.ShouldBe(first.Id);
        (await store.ReadEventsAsync(0, 10, Ct)).Select(e => e.Event.Id).ShouldBe(["e-0", "e-1", "e-3"]);
    }

    [Fact]
    public async Task CompleteNormalizationAsync_IssuesBeyondTheKeptOnes_AreCountedInTheReason()
    {
        var store = await OpenStoreAsync();
        var snapshot = await SnapshotAsync(store, "d-1");
        var issues = new[] { new NormalizeIssue(0, "not an object"), new NormalizeIssue(1, "not an object") };

        var (_, entry) = await store.CompleteNormalizationAsync(
            "normalizer", snapshot, new NormalizeResult([], issues) { MoreIssues = 5_000 }, Time.GetUtcNow(), Ct);

        entry!.Reason.ShouldStartWith("5002 items could not be normalized (item 0: not an object; item 1: not an object; and 5000 more)");
        entry.Issues.ShouldBe(issues);
    }

    [Fact]
    public async Task CompleteNormalizationAsync_BodyFailure_QuarantinesWithTheFailureAsTheReason()
    {
        var store = await OpenStoreAsync();
        var snapshot = await SnapshotAsync(store, "d-1");

        var (append, entry) = await store.CompleteNormalizationAsync("normalizer", snapshot, NormalizeResult.Failed("the body is not JSON"), Time.GetUtcNow(), Ct);

        append.ShouldBe(new AppendReceipt(0, 0, 0));
        entry.ShouldNotBeNull();
        entry.Reason.ShouldBe("the body is not JSON");
        entry.Issues.ShouldBeEmpty();
        (await store.GetOffsetAsync("normalizer", Ct)).ShouldBe(snapshot.Seq);
    }

    [Fact]
    public async Task CompleteNormalizationAsync_OlderSnapshotAfterANewerOne_DoesNotMoveTheOffsetBack()
    {
        var store = await OpenStoreAsync();
        var older = await SnapshotAsync(store, "d-1");
        var newer = await SnapshotAsync(store, "d-2");

        await store.CompleteNormalizationAsync("normalizer", newer, Clean(Event("e-2")), Time.GetUtcNow(), Ct);
        await store.CompleteNormalizationAsync("normalizer", older, Clean(Event("e-1")), Time.GetUtcNow(), Ct);

        (await store.GetOffsetAsync("normalizer", Ct)).ShouldBe(newer.Seq);
        (await store.ReadEventsAsync(0, 10, Ct)).Select(e => e.Event.Id).ShouldBe(["e-2", "e-1"]);
    }

    [Fact]
    public async Task CompleteNormalizationAsync_WithoutAConsumer_RecordsTheEventsAndMovesNoOffset()
    {
        var store = await OpenStoreAsync();
        var first = await SnapshotAsync(store, "d-1");
        var later = await SnapshotAsync(store, "d-2");
        await store.CompleteNormalizationAsync("normalizer", first, Clean(Event("e-1")), Time.GetUtcNow(), Ct);

        // A replay normalizes a snapshot the normalizer has not reached: the normalizer's place stays where it was.
        var (append, _) = await store.CompleteNormalizationAsync(null, later, Clean(Event("e-2")), Time.GetUtcNow(), Ct);

        append.Appended.ShouldBe(1);
        (await store.GetOffsetAsync("normalizer", Ct)).ShouldBe(first.Seq);
        (await store.ReadEventsAsync(0, 10, Ct)).Select(e => e.Event.Id).ShouldBe(["e-1", "e-2"]);
    }

    [Fact]
    public async Task CompleteNormalizationAsync_WhileReadersRead_ShowsAllEventsOfASnapshotOrNone()
    {
        var store = await OpenStoreAsync();
        var snapshots = new List<RawSnapshot>();
        for (var i = 0; i < 20; i++)
        {
            snapshots.Add(await SnapshotAsync(store, "d-" + i));
        }

        var writes = snapshots.Select(s => store.CompleteNormalizationAsync(
            "normalizer", s, Clean([.. Enumerable.Range(0, 50).Select(n => Event($"{s.Id}-{n}"))]), Time.GetUtcNow(), Ct)).ToList();
        var reads = 0;
        while (writes.Any(w => !w.IsCompleted) || reads < 3)
        {
            var events = await store.ReadEventsAsync(0, 10_000, Ct);
            events.GroupBy(e => e.SnapshotId).ShouldAllBe(g => g.Count() == 50);
            reads++;
        }

        await Task.WhenAll(writes).WaitAsync(Patience, Ct);
        (await store.ReadEventsAsync(0, 10_000, Ct)).Count.ShouldBe(1000);
    }

    [Fact]
    public async Task CompleteNormalizationsAsync_SeveralSnapshots_RecordsEachInOrderAndMovesTheOffsetToTheLast()
    {
        var store = await OpenStoreAsync();
        var first = await SnapshotAsync(store, "d-1");
        var second = await SnapshotAsync(store, "d-2");
        var third = await SnapshotAsync(store, "d-3");

        var outcomes = await store.CompleteNormalizationsAsync(
            "normalizer",
            [
                new Normalization(first, Clean(Event("e-1"), Event("e-2"))),
                new Normalization(second, NormalizeResult.Failed("the body is not JSON")),
                new Normalization(third, Clean(Event("e-2"), Event("e-3"))),
            ],
            Time.GetUtcNow(),
            Ct);

        outcomes.Select(o => (o.Append.Appended, o.Append.Duplicates)).ShouldBe([(2, 0), (0, 0), (1, 1)]);
        outcomes[0].Quarantine.ShouldBeNull();
        outcomes[1].Quarantine.ShouldNotBeNull().SnapshotId.ShouldBe(second.Id);
        outcomes[2].Quarantine.ShouldBeNull();
        outcomes[2].Append.LastOffset.ShouldBe(store.LastOffset);
        var events = await store.ReadEventsAsync(0, 10, Ct);
        events.Select(e => (e.Event.Id, e.SnapshotId)).ShouldBe([("e-1", first.Id), ("e-2", first.Id), ("e-3", third.Id)]);
        (await store.GetOffsetAsync("normalizer", Ct)).ShouldBe(third.Seq);
        (await store.ListQuarantineAsync(QuarantineStatus.Open, 10, null, Ct)).ShouldHaveSingleItem().Reason.ShouldBe("the body is not JSON");
    }

    [Fact]
    public async Task CompleteNormalizationsAsync_None_WritesNothing()
    {
        var store = await OpenStoreAsync();
        await SnapshotAsync(store, "d-1");

        (await store.CompleteNormalizationsAsync("normalizer", [], Time.GetUtcNow(), Ct)).ShouldBeEmpty();

        (await store.GetOffsetAsync("normalizer", Ct)).ShouldBe(0);
        store.LastOffset.ShouldBe(0);
    }

    [Fact]
    public async Task AppendEventsAsync_SameSourceAndId_KeepsTheFirstAndCountsDuplicates()
    {
        var store = await OpenStoreAsync();
        var first = await store.AppendEventsAsync([Event("e-1", account: "first"), Event("e-2")], Ct);

        var second = await store.AppendEventsAsync([Event("e-1", account: "second"), Event("e-3"), Event("e-3"), Event("e-1", source: "auth0-prod")], Ct);

        (first.Appended, first.Duplicates).ShouldBe((2, 0));
        (second.Appended, second.Duplicates).ShouldBe((2, 2));
        var events = await store.ReadEventsAsync(0, 10, Ct);
        first.LastOffset.ShouldBe(events[1].Offset);
        second.LastOffset.ShouldBe(events[^1].Offset);
        events.Select(e => (e.Event.Source, e.Event.Id, e.Event.AccountId)).ShouldBe(
            [("okta-prod", "e-1", "first"), ("okta-prod", "e-2", "acct-1"), ("okta-prod", "e-3", "acct-1"), ("auth0-prod", "e-1", "acct-1")]);
        events.ShouldAllBe(e => e.SnapshotId == null);
        store.LastOffset.ShouldBe(events[^1].Offset);
    }

    [Fact]
    public async Task AppendEventsAsync_EveryField_RoundTrips()
    {
        var store = await OpenStoreAsync();
        var details = new JsonObject
        {
            ["reason"] = "bad_password",
            ["attempt"] = 3,
            ["geo"] = new JsonObject { ["lat"] = 52.52, ["lon"] = 13.405 },
            ["tags"] = new JsonArray("a", "b"),
            ["note"] = "naïve <tag> & \"quotes\" ✓",
        };
        var full = new NormalizedEvent(
            "evt-full",
            "okta-prod",
            "okta",
            "x-custom_thing",
            "00u123",
            new DateTimeOffset(2026, 11, 20, 23, 59, 58, 7, TimeSpan.FromHours(2)),
            new EventActor("00u999", "2001:db8::1", "Mozilla/5.0 (X11)", "DE", "dev-1"),
            new DateTimeOffset(2026, 11, 21, 8, 0, 0, 250, TimeSpan.Zero),
            "corr-1",
            details);
        var sparse = new NormalizedEvent("evt-sparse", "okta-prod", "okta", "session_new", "00u124", Time.GetUtcNow().AddDays(-1), new EventActor(Ip: "10.1.2.3"));

        await store.AppendEventsAsync([full, sparse], Ct);

        var events = await store.ReadEventsAsync(0, 10, Ct);
        var readFull = events[0].Event;
        readFull.ShouldBe(full with { Details = readFull.Details });
        readFull.Timestamp.Offset.ShouldBe(TimeSpan.Zero);
        CanonicalJson.AreEqual(readFull.Details, details).ShouldBeTrue();
        var readSparse = events[1].Event;
        readSparse.ShouldBe(sparse with { ReceivedAt = Time.GetUtcNow() });
        readSparse.Details.ShouldBeNull();
    }

    [Fact]
    public async Task ReadEventsAsync_AfterManyAppends_PagesInOffsetOrder()
    {
        var store = await OpenStoreAsync();
        for (var i = 0; i < 5; i++)
        {
            await store.AppendEventsAsync([.. Enumerable.Range(0, 5).Select(n => Event($"e-{i}-{n}"))], Ct);
        }

        var read = new List<LoggedEvent>();
        var after = 0L;
        IReadOnlyList<LoggedEvent> page;
        while ((page = await store.ReadEventsAsync(after, 7, Ct)).Count > 0)
        {
            read.AddRange(page);
            after = page[^1].Offset;
        }

        read.Select(e => e.Event.Id).ShouldBe(Enumerable.Range(0, 25).Select(i => $"e-{i / 5}-{i % 5}"));
        read.Select(e => e.Offset).ShouldBe(read.Select(e => e.Offset).Order());
        read.Select(e => e.Offset).Distinct().Count().ShouldBe(25);
        after.ShouldBe(store.LastOffset);
    }

    [Fact]
    public async Task QueryEventsAsync_EachFilter_SelectsMatchingEventsInOffsetOrder()
    {
        var store = await OpenStoreAsync();
        var t0 = Time.GetUtcNow();
        await store.AppendEventsAsync(
            [
                Event("a", account: "alice", type: "login_failed", platform: "okta", source: "okta-prod", at: t0),
                Event("b", account: "bob", type: "login_failed", platform: "auth0", source: "auth0-prod", at: t0.AddMinutes(1)),
                Event("c", account: "alice", type: "password_reset", platform: "okta", source: "okta-prod", at: t0.AddMinutes(2)),
                Event("d", account: "alice", type: "login_failed", platform: "x", source: "x-main", at: t0.AddMinutes(3)),
                Event("e", account: "carol", type: "session_new", platform: "okta", source: "okta-prod", at: t0.AddMinutes(-5)),
                Event("f", account: "alice", type: "login_failed", platform: "okta", source: "okta-prod", at: t0.AddMinutes(4)),
            ],
            Ct);

        async Task<List<string>> Ids(EventQuery query) => [.. (await store.QueryEventsAsync(query, Ct)).Select(e => e.Event.Id)];

        (await Ids(new EventQuery())).ShouldBe(["a", "b", "c", "d", "e", "f"]);
        (await Ids(new EventQuery(Account: "alice"))).ShouldBe(["a", "c", "d", "f"]);
        (await Ids(new EventQuery(Type: "login_failed"))).ShouldBe(["a", "b", "d", "f"]);
        (await Ids(new EventQuery(Platform: "okta"))).ShouldBe(["a", "c", "e", "f"]);
        (await Ids(new EventQuery(Source: "auth0-prod"))).ShouldBe(["b"]);
        (await Ids(new EventQuery(Since: t0.AddMinutes(1)))).ShouldBe(["b", "c", "d", "f"]);
        (await Ids(new EventQuery(Until: t0.AddMinutes(1)))).ShouldBe(["a", "e"]);
        (await Ids(new EventQuery(Since: t0, Until: t0.AddMinutes(3)))).ShouldBe(["a", "b", "c"]);
        (await Ids(new EventQuery(Account: "alice", Type: "login_failed", Platform: "okta"))).ShouldBe(["a", "f"]);
        (await Ids(new EventQuery(Account: "nobody"))).ShouldBeEmpty();

        var firstPage = await store.QueryEventsAsync(new EventQuery(Account: "alice", Limit: 2), Ct);
        firstPage.Select(e => e.Event.Id).ShouldBe(["a", "c"]);
        (await Ids(new EventQuery(Account: "alice", AfterOffset: firstPage[^1].Offset, Limit: 2))).ShouldBe(["d", "f"]);
        (await Ids(new EventQuery(Account: "alice", AfterOffset: store.LastOffset))).ShouldBeEmpty();
    }

    [Fact]
    public async Task QueryEventsAsync_TimeWindowByPages_ReadsItsEventsInOffsetOrderOnce()
    {
        var store = await OpenStoreAsync();
        var t0 = Time.GetUtcNow();

        // Event times out of offset order, so the window's first event is neither the log's first nor its earliest.
        await store.AppendEventsAsync(
            [
                Event("old", at: t0.AddHours(-2)),
                Event("in-1", at: t0.AddMinutes(10)),
                Event("late", at: t0.AddHours(2)),
                Event("in-2", at: t0),
                Event("edge", at: t0.AddHours(1)),
                Event("in-3", at: t0.AddMinutes(59)),
                Event("older", at: t0.AddHours(-1)),
                Event("in-4", at: t0.AddMinutes(30)),
            ],
            Ct);

        var read = new List<LoggedEvent>();
        var after = 0L;
        while (await store.QueryEventsAsync(new EventQuery(Since: t0, Until: t0.AddHours(1), AfterOffset: after, Limit: 3), Ct) is { Count: > 0 } page)
        {
            read.AddRange(page);
            after = page[^1].Offset;
        }

        read.Select(e => e.Event.Id).ShouldBe(["in-1", "in-2", "in-3", "in-4"]);
        read.Select(e => e.Offset).ShouldBe(read.Select(e => e.Offset).Order());
        (await store.QueryEventsAsync(new EventQuery(Since: t0.AddHours(3)), Ct)).ShouldBeEmpty();
        (await store.QueryEventsAsync(new EventQuery(Until: t0.AddHours(-1)), Ct)).Select(e => e.Event.Id).ShouldBe(["old"]);
    }

    [Fact]
    public async Task FindFirstOffsetAsync_ATimeWindow_FindsItsEarliestOffsetNotItsEarliestTime()
    {
        var store = await OpenStoreAsync();
        var t0 = Time.GetUtcNow();
        await store.AppendEventsAsync(
            [Event("before", at: t0.AddMinutes(-1)), Event("later", at: t0.AddMinutes(5)), Event("first", at: t0), Event("end", at: t0.AddMinutes(10))],
            Ct);
        var offsets = (await store.ReadEventsAsync(0, 10, Ct)).ToDictionary(e => e.Event.Id, e => e.Offset);

        (await store.FindFirstOffsetAsync(t0, t0.AddMinutes(10), Ct)).ShouldBe(offsets["later"]);
        (await store.FindFirstOffsetAsync(t0, null, Ct)).ShouldBe(offsets["later"]);
        (await store.FindFirstOffsetAsync(t0.AddMinutes(-1), t0, Ct)).ShouldBe(offsets["before"]);
        (await store.FindFirstOffsetAsync(t0.AddMinutes(6), null, Ct)).ShouldBe(offsets["end"]);
        (await store.FindFirstOffsetAsync(t0.AddMinutes(6), t0.AddMinutes(10), Ct)).ShouldBeNull();
        (await store.FindFirstOffsetAsync(t0.AddMinutes(11), null, Ct)).ShouldBeNull();
    }

    [Fact]
    public async Task ReadSnapshotsReceivedAsync_AWindowByPages_ReadsExactlyItsSnapshotsInReceiveOrder()
    {
        var store = await OpenStoreAsync();
        var t0 = Time.GetUtcNow();
        var until = t0.AddMinutes(10);

        // Arrival order differs from receive order; three share the window's first millisecond.
        var received = new[]
        {
            ("late", until), ("in-b", t0.AddMinutes(5)), ("before", t0.AddMilliseconds(-1)), ("start-1", t0),
            ("last", until.AddMilliseconds(-1)), ("start-2", t0), ("much-earlier", t0.AddDays(-30)), ("start-3", t0),
            ("in-a", t0.AddMilliseconds(1)), ("much-later", until.AddDays(30)),
        };
        var ids = new Dictionary<string, string>();
        foreach (var (name, at) in received)
        {
            ids[name] = (await store.AcceptDeliveryAsync(Delivery(name, at: at), Ct)).SnapshotId;
        }

        async Task<List<RawSnapshot>> ReadAsync(DateTimeOffset since, DateTimeOffset? end)
        {
            var read = new List<RawSnapshot>();
            string? after = null;
            while (await store.ReadSnapshotsReceivedAsync(since, end, after, 2, Ct) is { Count: > 0 } page)
            {
                page.Count.ShouldBeLessThanOrEqualTo(2);
                read.AddRange(page);
                after = page[^1].Id;
            }

            return read;
        }

        var window = await ReadAsync(t0, until);
        window.Select(s => s.DeliveryId).Take(3).ShouldBe(["start-1", "start-2", "start-3"], ignoreOrder: true);
        window.Select(s => s.DeliveryId).Skip(3).ShouldBe(["in-a", "in-b", "last"]);
        window.Take(3).Select(s => s.Id).ShouldBe(window.Take(3).Select(s => s.Id).Order(StringComparer.Ordinal));
        window.Select(s => s.ReceivedAt).ShouldBe(window.Select(s => s.ReceivedAt).Order());
        window.Select(s => s.Id).Distinct().Count().ShouldBe(6);
        window.ShouldAllBe(s => s.Id == ids[s.DeliveryId!]);

        (await ReadAsync(until, null)).Select(s => s.DeliveryId).ShouldBe(["late", "much-later"]);
        (await ReadAsync(t0.AddDays(-31), t0)).Select(s => s.DeliveryId).ShouldBe(["much-earlier", "before"]);
        (await ReadAsync(until.AddDays(31), null)).ShouldBeEmpty();
    }

    [Fact]
    public async Task QueryEventsAsync_LimitAboveTheMaximum_AnswersWithTheMaximum()
    {
        var store = await OpenStoreAsync();
        await store.AppendEventsAsync([.. Enumerable.Range(0, MaxQueryLimit + 5).Select(i => Event("e-" + i))], Ct);

        var events = await store.QueryEventsAsync(new EventQuery(Limit: 50_000), Ct);

        events.Count.ShouldBe(MaxQueryLimit);
        events[0].Event.Id.ShouldBe("e-0");
    }

    [Fact]
    public async Task Offsets_SetForwardThenBackward_ReadBackAsSet()
    {
        var store = await OpenStoreAsync();
        (await store.GetOffsetAsync("detector", Ct)).ShouldBe(0);

        await store.SetOffsetAsync("detector", 40, Ct);
        await store.SetOffsetAsync("auditor", 7, Ct);
        (await store.GetOffsetAsync("detector", Ct)).ShouldBe(40);

        await store.SetOffsetAsync("detector", 3, Ct);
        (await store.GetOffsetAsync("detector", Ct)).ShouldBe(3);
        (await store.GetOffsetAsync("auditor", Ct)).ShouldBe(7);
    }

    [Fact]
    public async Task MoveOffsetAsync_FromWhereTheConsumerIs_Moves_ElseLeavesTheOffsetAsSet()
    {
        var store = await OpenStoreAsync();

        // A consumer that never committed is at 0.
        (await store.MoveOffsetAsync("detector", 5, 9, Ct)).ShouldBeFalse();
        (await store.GetOffsetAsync("detector", Ct)).ShouldBe(0);
        (await store.MoveOffsetAsync("detector", 0, 10, Ct)).ShouldBeTrue();
        (await store.MoveOffsetAsync("detector", 10, 25, Ct)).ShouldBeTrue();
        (await store.GetOffsetAsync("detector", Ct)).ShouldBe(25);

        // A replay rewinds it while the consumer handles the batch it read from 25: its commit loses.
        await store.SetOffsetAsync("detector", 4, Ct);
        (await store.MoveOffsetAsync("detector", 25, 40, Ct)).ShouldBeFalse();
        (await store.GetOffsetAsync("detector", Ct)).ShouldBe(4);

        // Rewound to 0, a consumer's commit from 0 moves it again; another consumer's offset is its own.
        await store.SetOffsetAsync("detector", 0, Ct);
        (await store.MoveOffsetAsync("detector", 0, 3, Ct)).ShouldBeTrue();
        (await store.MoveOffsetAsync("auditor", 0, 1, Ct)).ShouldBeTrue();
        (await store.GetOffsetAsync("detector", Ct)).ShouldBe(3);
        (await store.GetOffsetAsync("auditor", Ct)).ShouldBe(1);
    }

    [Fact]
    public async Task Cursors_SetAndReplaced_ReadBackAsSetAndSurviveAReopen()
    {
        var store = await OpenStoreAsync();
        (await store.GetCursorAsync("poll/okta", Ct)).ShouldBeNull();

        await store.SetCursorAsync("poll/okta", "{\"next\":\"https://example.okta.com/api/v1/logs?after=1\"}", Ct);
        await store.SetCursorAsync("poll/other", "naïve ✓", Ct);
        await store.SetCursorAsync("poll/okta", "{\"next\":\"https://example.okta.com/api/v1/logs?after=2\"}", Ct);

        (await store.GetCursorAsync("poll/okta", Ct)).ShouldBe("{\"next\":\"https://example.okta.com/api/v1/logs?after=2\"}");
        (await store.GetCursorAsync("poll/other", Ct)).ShouldBe("naïve ✓");
        (await store.GetCursorAsync("poll/Okta", Ct)).ShouldBeNull();
        (await store.GetOffsetAsync("poll/okta", Ct)).ShouldBe(0);

        await store.DisposeAsync();
        var reopened = await OpenStoreAsync();
        (await reopened.GetCursorAsync("poll/okta", Ct)).ShouldBe("{\"next\":\"https://example.okta.com/api/v1/logs?after=2\"}");
    }

    [Fact]
    public async Task WaitForEventsAsync_NothingNew_CompletesOnTheCommitThatAppends()
    {
        var store = await OpenStoreAsync();
        await store.AppendEventsAsync([Event("e-1")], Ct);
        store.WaitForEventsAsync(0, Ct).IsCompletedSuccessfully.ShouldBeTrue();

        // A waiter wakes only when the committed offset passes the one it waits beyond: nothing to sleep on.
        var waiting = store.WaitForEventsAsync(store.LastOffset, Ct);
        waiting.IsCompleted.ShouldBeFalse();

        await store.AppendEventsAsync([Event("e-2")], Ct);
        await waiting.WaitAsync(Patience, Ct);
        store.LastOffset.ShouldBe(2);
    }

    [Fact]
    public async Task WaitForEventsAsync_OnlyDuplicatesAppended_KeepsWaiting()
    {
        var store = await OpenStoreAsync();
        await store.AppendEventsAsync([Event("e-1")], Ct);
        var waiting = store.WaitForEventsAsync(store.LastOffset, Ct);

        await store.AppendEventsAsync([Event("e-1")], Ct);
        await store.AcceptDeliveryAsync(Delivery("d-1"), Ct);

        store.LastOffset.ShouldBe(1);
        waiting.IsCompleted.ShouldBeFalse();
        await store.AppendEventsAsync([Event("e-2")], Ct);
        await waiting.WaitAsync(Patience, Ct);
    }

    [Fact]
    public async Task WaitForEventsAsync_Cancelled_Throws()
    {
        var store = await OpenStoreAsync();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var waiting = store.WaitForEventsAsync(0, cancel.Token);

        await cancel.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(() => waiting.WaitAsync(Patience, Ct));
    }

    [Fact]
    public async Task WaitForSnapshotsAsync_NothingNew_CompletesOnTheCommitThatStoresOne()
    {
        var store = await OpenStoreAsync();
        var waiting = store.WaitForSnapshotsAsync(0, Ct);
        await store.AppendEventsAsync([Event("e-1")], Ct);
        store.LastSnapshotSeq.ShouldBe(0);
        waiting.IsCompleted.ShouldBeFalse();

        await store.AcceptDeliveryAsync(Delivery("d-1"), Ct);

        await waiting.WaitAsync(Patience, Ct);
        store.WaitForSnapshotsAsync(0, Ct).IsCompletedSuccessfully.ShouldBeTrue();
        store.LastSnapshotSeq.ShouldBe(1);
    }

    [Fact]
    public async Task WaitForSnapshotsAsync_Cancelled_Throws()
    {
        var store = await OpenStoreAsync();
        await store.AcceptDeliveryAsync(Delivery("d-1"), Ct);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var waiting = store.WaitForSnapshotsAsync(store.LastSnapshotSeq, cancel.Token);

        await cancel.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(() => waiting.WaitAsync(Patience, Ct));
    }

    [Fact]
    public async Task AcceptDeliveryAsync_IdsWithDifferentRetentions_EachIsRememberedForItsOwnAndEverySnapshotStays()
    {
        var store = await OpenStoreAsync();
        var short1 = await store.AcceptDeliveryAsync(Delivery("short-1", retention: TimeSpan.FromHours(1)), Ct);
        await store.AcceptDeliveryAsync(Delivery("short-2", retention: TimeSpan.FromHours(1)), Ct);
        var kept = await store.AcceptDeliveryAsync(Delivery("long", retention: TimeSpan.FromDays(3)), Ct);
        await store.AcceptDeliveryAsync(Delivery(null), Ct);

        Time.Advance(TimeSpan.FromMinutes(59));
        (await store.AcceptDeliveryAsync(Delivery("short-1"), Ct)).ShouldBe(new(DeliveryStatus.Duplicate, short1.SnapshotId));
        Time.Advance(TimeSpan.FromMinutes(2));
        var again = await store.AcceptDeliveryAsync(Delivery("short-2"), Ct);
        var later = await store.AcceptDeliveryAsync(Delivery("long", retention: TimeSpan.FromHours(1)), Ct);

        again.Status.ShouldBe(DeliveryStatus.Accepted);
        later.ShouldBe(new DeliveryReceipt(DeliveryStatus.Duplicate, kept.SnapshotId));
        (await store.ReadSnapshotsAsync(0, 10, Ct)).Select(s => s.DeliveryId)
            .ShouldBe(["short-1", "short-2", "long", null, "short-2"]);
    }

    [Fact]
    public async Task ListQuarantineAsync_SeveralEntries_ListsNewestFirstByStatusWithinTheLimit()
    {
        var store = await OpenStoreAsync();
        var entries = new List<QuarantineEntry>();
        for (var i = 0; i < 3; i++)
        {
            var snapshot = await SnapshotAsync(store, "d-" + i);
            var (_, entry) = await store.CompleteNormalizationAsync("normalizer", snapshot, NormalizeResult.Failed("bad " + i), Time.GetUtcNow(), Ct);
            entries.Add(entry!);
            Time.Advance(TimeSpan.FromMinutes(1));
        }

        var middle = (await store.GetSnapshotAsync(entries[1].SnapshotId, Ct))!;
        await store.CompleteNormalizationAsync("normalizer", middle, Clean(), Time.GetUtcNow(), Ct);

        (await store.ListQuarantineAsync(null, 10, null, Ct)).Select(e => e.Reason).ShouldBe(["bad 2", "bad 1", "bad 0"]);
        (await store.ListQuarantineAsync(QuarantineStatus.Open, 10, null, Ct)).Select(e => e.Id).ShouldBe([entries[2].Id, entries[0].Id]);
        (await store.ListQuarantineAsync(QuarantineStatus.Resolved, 10, null, Ct)).Select(e => e.Id).ShouldBe([entries[1].Id]);
        (await store.ListQuarantineAsync(null, 1, null, Ct)).Select(e => e.Id).ShouldBe([entries[2].Id]);
        entries.Select(e => e.Id).Distinct().Count().ShouldBe(3);
    }

    [Fact]
    public async Task ListQuarantineAsync_PageByPage_ListsEachEntryOnceInOrder_EvenWithinOneMillisecond()
    {
        var store = await OpenStoreAsync();
        var ids = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            // Entries 0-3 are quarantined in the same millisecond, 4-6 a minute apart: pages must not skip or repeat.
            if (i >= 4)
            {
                Time.Advance(TimeSpan.FromMinutes(1));
            }

            var snapshot = await SnapshotAsync(store, "d-" + i);
            var (_, entry) = await store.CompleteNormalizationAsync("normalizer", snapshot, NormalizeResult.Failed("bad " + i), Time.GetUtcNow(), Ct);
            ids.Add(entry!.Id);
        }

        var resolved = (await store.GetSnapshotAsync((await store.GetQuarantineAsync(ids[5], Ct))!.SnapshotId, Ct))!;
        await store.CompleteNormalizationAsync("normalizer", resolved, Clean(), Time.GetUtcNow(), Ct);
        var newestFirst = Enumerable.Reverse(ids).ToList();

        (await PagesAsync(null, 3)).ShouldBe(newestFirst);
        (await PagesAsync(null, 1)).ShouldBe(newestFirst);
        (await PagesAsync(QuarantineStatus.Open, 2)).ShouldBe(newestFirst.Where(id => id != ids[5]).ToList());
        (await store.ListQuarantineAsync(QuarantineStatus.Resolved, 5, ids[6], Ct)).Select(e => e.Id).ShouldBe([ids[5]]);
        (await store.ListQuarantineAsync(null, 5, "q_unknown", Ct)).ShouldBeEmpty();

        async Task<List<string>> PagesAsync(QuarantineStatus? status, int limit)
        {
            var all = new List<string>();
            string? before = null;
            while (true)
            {
                var page = await store.ListQuarantineAsync(status, limit, before, Ct);
                all.AddRange(page.Select(e => e.Id));
                if (page.Count < limit)
                {
                    return all;
                }

                before = page[^1].Id;
            }
        }
    }

    [Fact]
    public async Task GetQuarantineAsync_UnknownId_ReturnsNull()
    {
        var store = await OpenStoreAsync();

        (await store.GetQuarantineAsync("q_missing", Ct)).ShouldBeNull();
    }

    [Fact]
    public async Task DisposeAsync_WithWritesQueuedAndWaiters_AnswersEveryCaller()
    {
        var store = await OpenStoreAsync();
        var waiting = store.WaitForEventsAsync(0, Ct);
        var writes = Enumerable.Range(0, 300).Select(i => store.AcceptDeliveryAsync(Delivery("d-" + i), Ct)).ToList();

        await store.DisposeAsync();

        foreach (var write in writes)
        {
            var error = await Record.ExceptionAsync(() => write.WaitAsync(Patience, Ct));
            if (error is not null)
            {
                error.ShouldBeOfType<ObjectDisposedException>();
            }
        }

        await Should.ThrowAsync<ObjectDisposedException>(() => waiting.WaitAsync(Patience, Ct));
        await Should.ThrowAsync<ObjectDisposedException>(() => store.AcceptDeliveryAsync(Delivery("late"), Ct));
        await Should.ThrowAsync<ObjectDisposedException>(() => store.WaitForSnapshotsAsync(long.MaxValue, Ct));
    }
}
