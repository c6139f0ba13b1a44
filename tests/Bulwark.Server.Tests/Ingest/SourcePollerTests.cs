using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.Server.Ingest;
using Bulwark.Storage.Sqlite.Ingest;
using Bulwark.TestUtils;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.Server.Tests.Ingest;

/// <summary>
/// The polling fallback against a loopback fake of the Okta System Log API, on a fake clock: the tests advance it only
/// while the poller waits (<see cref="SourcePoller.WhenWaitingAsync"/>), so nothing here sleeps.
/// </summary>
public sealed class SourcePollerTests : IAsyncLifetime
{
    private const string Source = "okta";
    private const string ApiToken = "SSWS 00aBcDeF-okta-api-token-never-logged-42";
    private static readonly DateTimeOffset Start = new(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly FakeTimeProvider _time = new(Start);
    private readonly TempDirectory _data = new();
    private readonly TestSecrets _secrets = new();
    private readonly CapturedLogs _logs = new();
    private FakeOktaSystemLog _okta = null!;
    private BulwarkTestServer? _server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private BulwarkTestServer Server => _server ?? throw new InvalidOperationException("The server is stopped.");

    private SourcePoller Poller => Server.Services.GetRequiredService<SourcePoller>();

    private IEventStore Events => Server.Services.GetRequiredService<IEventStore>();

    public async ValueTask InitializeAsync()
    {
        _secrets["OKTA_HOOK"] = "okta-event-hook-authorization-value";
        _secrets["OKTA_API"] = ApiToken;
        _okta = await FakeOktaSystemLog.StartAsync(_time);
        await StartServerAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopServerAsync();
        await _okta.DisposeAsync();
        _data.Dispose();
    }

    [Fact]
    public async Task FirstPoll_SinceLookbackWithTheCredential_FollowsEveryPageAndEachItemBecomesOneEvent()
    {
        _okta.Add("00u-old", minutesAgo: 120);
        var ids = Enumerable.Range(0, 5).Select(i => _okta.Add("00u-" + i, minutesAgo: 50 - (i * 10))).ToList();
        _okta.EchoCredential = true;

        await StartPollingAsync();

        var requests = _okta.Requests;
        requests.Count.ShouldBe(4);
        var first = requests[0];
        first.Path.ShouldBe("/api/v1/logs");
        first.Query.Keys.ShouldBe(["since"]);
        first.Query["since"].ShouldBe(Rfc3339(_time.GetUtcNow() - TimeSpan.FromHours(1)));
        requests.ShouldAllBe(r => r.Authorization == ApiToken && r.Accept == "application/json");
        requests.Skip(1).Select(r => r.Query.GetValueOrDefault("after")).ShouldBe([ids[1], ids[3], ids[4]]);
        requests.Skip(1).ShouldAllBe(r => !r.Query.ContainsKey("since"));

        var logged = await Events.QueryEventsAsync(new EventQuery(Source: Source), Ct);
        logged.Select(e => e.Event.Id).ShouldBe(ids);
        logged.ShouldAllBe(e => e.Event.Platform == "okta" && e.Event.EventType == "session_new" && e.Event.Actor!.Ip == "198.51.100.7");
        logged.Select(e => e.Event.AccountId).ShouldBe(Enumerable.Range(0, 5).Select(i => "00u-" + i));

        var snapshots = await Events.ReadSnapshotsAsync(0, 100, Ct);
        snapshots.Count.ShouldBe(3);
        snapshots.ShouldAllBe(s => s.Source == Source && s.Verification == VerificationOutcome.Verified && s.ContentType!.StartsWith("application/json"));
        snapshots.ShouldAllBe(s => s.DeliveryId!.StartsWith("poll:") && s.DeliveryId.Length == "poll:".Length + 64);
        snapshots.Select(s => Header(s, SourcePoller.PageUrlHeader)).ShouldBe(requests.Take(3).Select(r => _okta.Absolute(r.PathAndQuery)));
        snapshots.ShouldAllBe(s => Header(s, "Link") != null && Header(s, "X-Okta-Request-Id") != null);
        snapshots.SelectMany(s => s.Headers).Select(h => h.Key.ToLowerInvariant()).ShouldNotContain("set-cookie");
        await AssertTheCredentialNeverLeakedAsync();
    }

    [Fact]
    public async Task NextPoll_AfterTheInterval_ResumesFromTheCursorAndFetchesOnlyNewItems()
    {
        var before = Enumerable.Range(0, 3).Select(i => _okta.Add("00u-" + i, minutesAgo: 30 - i)).ToList();
        await StartPollingAsync();
        var seen = _okta.Requests.Count;
        var snapshots = Events.LastSnapshotSeq;
        var added = new[] { _okta.Add("00u-new-1", minutesAgo: 0), _okta.Add("00u-new-2", minutesAgo: 0) };

        var wake = await AdvanceToWakeAsync();
        await CaughtUpAsync();

        wake.ShouldBe(Start + SourcePoller.RefreshEvery + TimeSpan.FromMinutes(1));
        var later = _okta.Requests.Skip(seen).ToList();
        later.Select(r => r.Query.GetValueOrDefault("after")).ShouldBe([before[^1], added[^1]]);
        later.ShouldAllBe(r => !r.Query.ContainsKey("since") && r.At == wake);
        (await Events.QueryEventsAsync(new EventQuery(Source: Source), Ct)).Select(e => e.Event.Id).ShouldBe([.. before, .. added]);
        Events.LastSnapshotSeq.ShouldBe(snapshots + 1);
    }

    [Fact]
    public async Task APageThatIsNotJson_KeepsTheCursor_AndIsRetriedWithBackoff()
    {
        var before = Enumerable.Range(0, 3).Select(i => _okta.Add("00u-" + i, minutesAgo: 30 - i)).ToList();
        await StartPollingAsync();
        var seen = _okta.Requests.Count;
        var snapshots = Events.LastSnapshotSeq;
        var added = _okta.Add("00u-new", minutesAgo: 0);
        _okta.AnswerHtmlNext();

        await AdvanceToWakeAsync();
        var retry = await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct) - _time.GetUtcNow();
        retry.ShouldBeInRange(TimeSpan.FromTicks(1), SourcePoller.MinBackoff);
        Events.LastSnapshotSeq.ShouldBe(snapshots);
        await AdvanceToWakeAsync();
        await CaughtUpAsync();

        var later = _okta.Requests.Skip(seen).ToList();
        later.Select(r => r.Query.GetValueOrDefault("after")).ShouldBe([before[^1], before[^1], added]);
        later.ShouldAllBe(r => !r.Query.ContainsKey("since"));
        (await Events.QueryEventsAsync(new EventQuery(Source: Source), Ct)).Select(e => e.Event.Id).ShouldBe([.. before, added]);
        _logs.Entries.ShouldContain(e => e.Level == LogLevel.Warning && e.Message.Contains("not JSON (text/html)"));
    }

    [Fact]
    public async Task Restart_ResumesFromTheStoredCursor()
    {
        var before = Enumerable.Range(0, 3).Select(i => _okta.Add("00u-" + i, minutesAgo: 30 - i)).ToList();
        await StartPollingAsync();
        await StopServerAsync();
        var seen = _okta.Requests.Count;
        var added = _okta.Add("00u-while-down", minutesAgo: 0);

        await StartServerAsync();
        await CaughtUpAsync();

        var later = _okta.Requests.Skip(seen).ToList();
        later.Select(r => r.Query.GetValueOrDefault("after")).ShouldBe([before[^1], added]);
        later.ShouldAllBe(r => !r.Query.ContainsKey("since"));
        (await Events.QueryEventsAsync(new EventQuery(Source: Source), Ct)).Select(e => e.Event.Id).ShouldBe([.. before, added]);
    }

    [Fact]
    public async Task RefetchedIdenticalPages_AfterACrashBeforeTheCursorWasSaved_AreDuplicates()
    {
        for (var i = 0; i < 5; i++)
        {
            _okta.Add("00u-" + i, minutesAgo: 30 - i);
        }

        await StartPollingAsync();
        var snapshots = Events.LastSnapshotSeq;
        var secondPage = _okta.Absolute(_okta.Requests[1].PathAndQuery);
        await StopServerAsync();

        // As if the server died after storing the second page and before saving the cursor past it.
        await using (var events = new SqliteEventStore(Path.Combine(_data.Path, SqliteEventStoreOptions.FileName), _time))
        {
            await events.MigrateAsync(Ct);
            var cursor = new JsonObject { ["url"] = _okta.LogsUrl.AbsoluteUri, ["next"] = secondPage };
            await events.SetCursorAsync("poll/" + Source, cursor.ToJsonString(), Ct);
        }

        var seen = _okta.Requests.Count;
        await StartServerAsync();
        await CaughtUpAsync();

        _okta.Requests.Skip(seen).Select(r => _okta.Absolute(r.PathAndQuery)).First().ShouldBe(secondPage);
        _okta.Requests.Count.ShouldBe(seen + 3);
        Events.LastSnapshotSeq.ShouldBe(snapshots);
        (await Events.QueryEventsAsync(new EventQuery(Source: Source), Ct)).Count.ShouldBe(5);
    }

    [Fact]
    public async Task ApiWithoutANextLinkOnItsLastPage_EachPollAsksFromTheLastOneLessTheOverlap_AndStoresOnlyWhatIsNew()
    {
        _okta.NextOnLastPage = false;
        _okta.PageSize = 10;
        var old = Enumerable.Range(0, 3).Select(i => _okta.Add("00u-" + i, minutesAgo: 30 - i)).ToList();
        await StartPollingAsync();
        var first = _okta.Requests.ShouldHaveSingleItem();
        first.Query["since"].ShouldBe(Rfc3339(first.At - TimeSpan.FromHours(1)));
        Events.LastSnapshotSeq.ShouldBe(1);

        // Nothing new: asked from the first poll's request less the overlap (1 minute), the page is empty.
        await AdvanceToWakeAsync();
        await CaughtUpAsync();
        var second = _okta.Requests[^1];
        second.Query["since"].ShouldBe(Rfc3339(first.At - TimeSpan.FromMinutes(1)));
        Events.LastSnapshotSeq.ShouldBe(1);

        // One new event: only it is stored.
        var added = _okta.Add("00u-new", minutesAgo: 0);
        await AdvanceToWakeAsync();
        await CaughtUpAsync();
        var third = _okta.Requests[^1];
        third.Query["since"].ShouldBe(Rfc3339(second.At - TimeSpan.FromMinutes(1)));
        Events.LastSnapshotSeq.ShouldBe(2);

        // After a restart, the next poll asks from where the last one left (kept with the cursor). The overlap brings the
        // new event again, in the same bytes as before under another since: a duplicate, nothing stored.
        await StopServerAsync();
        await StartServerAsync();
        await CaughtUpAsync();
        var fourth = _okta.Requests[^1];
        fourth.Query["since"].ShouldBe(Rfc3339(third.At - TimeSpan.FromMinutes(1)));
        Events.LastSnapshotSeq.ShouldBe(2);
        (await Events.QueryEventsAsync(new EventQuery(Source: Source), Ct)).Select(e => e.Event.Id).ShouldBe([.. old, added]);
    }

    [Fact]
    public async Task ApiWithoutANextLinkOnItsLastPage_AChainOfPagesThatTookLong_ResumesFromItsFirstPage()
    {
        // Three pages; the first says no request is left for ten minutes, so the chain ends ten minutes after it began.
        _okta.NextOnLastPage = false;
        for (var i = 0; i < 5; i++)
        {
            _okta.Add("00u-" + i, minutesAgo: 30 - i);
        }

        _okta.ExhaustedUntil = Start + SourcePoller.RefreshEvery + TimeSpan.FromMinutes(10);
        await PutSourceAsync(Poll(), HttpStatusCode.Created);
        await AdvanceRefreshAsync();
        await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct);
        var first = _okta.Requests.ShouldHaveSingleItem();
        _okta.ExhaustedUntil = null;
        await AdvanceToWakeAsync();
        await CaughtUpAsync();
        _okta.Requests.Count.ShouldBe(3);
        _okta.Requests[^1].At.ShouldBe(first.At + TimeSpan.FromMinutes(10));

        // Events that appeared while the chain ran, with times before its end, are still asked for.
        await AdvanceToWakeAsync();
        await CaughtUpAsync();
        _okta.Requests[^1].Query["since"].ShouldBe(Rfc3339(first.At - TimeSpan.FromMinutes(1)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PageThatSaysNoRequestIsLeft_NextPageWaitsForTheReset_AtMostAnHour_AlsoAcrossARestart(bool pastYear9999)
    {
        for (var i = 0; i < 3; i++)
        {
            _okta.Add("00u-" + i, minutesAgo: 30 - i);
        }

        // Ten days away, or a number of seconds no time can hold: either is as far as the wait goes.
        _okta.ExhaustedReset = pastYear9999 ? "10000000000000" : (Start + TimeSpan.FromDays(10)).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

        await PutSourceAsync(Poll(), HttpStatusCode.Created);
        await AdvanceRefreshAsync();
        var wake = await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct);

        var page = _okta.Requests.ShouldHaveSingleItem();
        wake.ShouldBe(page.At + SourcePoller.MaxThrottleWait);

        // A restart keeps the wait: the API said no request is left.
        await StopServerAsync();
        await StartServerAsync();
        (await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct)).ShouldBe(wake);
        _okta.Requests.Count.ShouldBe(1);

        _okta.ExhaustedReset = null;
        _time.Advance(wake - _time.GetUtcNow());
        await CaughtUpAsync();
        (await Events.QueryEventsAsync(new EventQuery(Source: Source), Ct)).Count.ShouldBe(3);
        _okta.Requests.Skip(1).ShouldAllBe(r => r.At >= wake);
    }

    [Fact]
    public async Task TooManyRequests_WithXRateLimitReset_NoRequestBeforeTheResetThenResumes()
    {
        _okta.Add("00u-0", minutesAgo: 5);
        await StartPollingAsync();
        var added = _okta.Add("00u-1", minutesAgo: 0);
        var nextPoll = await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct);
        var reset = nextPoll + TimeSpan.FromSeconds(45);
        _okta.FailNext(429, ("X-Rate-Limit-Limit", "60"), ("X-Rate-Limit-Remaining", "0"), ("X-Rate-Limit-Reset", reset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)));
        var seen = _okta.Requests.Count;

        await AdvanceToWakeAsync();
        (await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct)).ShouldBe(reset);
        _okta.Requests.Count.ShouldBe(seen + 1);

        _time.Advance(reset - _time.GetUtcNow() - TimeSpan.FromSeconds(1));
        (await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct)).ShouldBe(reset);
        _okta.Requests.Count.ShouldBe(seen + 1);

        _time.Advance(TimeSpan.FromSeconds(1));
        await CaughtUpAsync();

        _okta.Requests.Skip(seen + 1).ShouldAllBe(r => r.At >= reset);
        _okta.Requests.Count.ShouldBe(seen + 3);
        (await Events.QueryEventsAsync(new EventQuery(Source: Source), Ct)).Select(e => e.Event.Id).ShouldContain(added);
        using var admin = Server.CreateAdminClient();
        (await admin.GetStringAsync("/metrics", Ct)).ShouldMatch("""bulwark_ingest_polls_total\{[^}]*outcome="throttled"[^}]*\} 1""");
    }

    [Fact]
    public async Task ServerErrors_BackOffExponentiallyWithJitter_ThenRecover()
    {
        _okta.Add("00u-0", minutesAgo: 5);
        await StartPollingAsync();
        var added = _okta.Add("00u-1", minutesAgo: 0);
        _okta.FailNext(500);
        _okta.FailNext(503);
        await AdvanceToWakeAsync();

        var firstRetry = await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct) - _time.GetUtcNow();
        firstRetry.ShouldBeInRange(TimeSpan.FromTicks(1), SourcePoller.MinBackoff);
        await AdvanceToWakeAsync();
        var secondRetry = await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct) - _time.GetUtcNow();
        secondRetry.ShouldBeInRange(TimeSpan.FromTicks(1), 2 * SourcePoller.MinBackoff);
        await AdvanceToWakeAsync();
        await CaughtUpAsync();

        (await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct)).ShouldBe(_time.GetUtcNow() + TimeSpan.FromMinutes(1));
        (await Events.QueryEventsAsync(new EventQuery(Source: Source), Ct)).Select(e => e.Event.Id).ShouldContain(added);
        _logs.Entries.ShouldContain(e => e.Level == LogLevel.Warning && e.Message.Contains("HTTP 500"));
        _logs.Entries.ShouldContain(e => e.Level == LogLevel.Warning && e.Message.Contains("HTTP 503"));
        await AssertTheCredentialNeverLeakedAsync();
    }

    [Fact]
    public async Task RequestWithoutAnAnswer_TimesOutOnTheClock_ThenIsRetried()
    {
        _okta.Add("00u-0", minutesAgo: 5);
        await StartPollingAsync();
        var added = _okta.Add("00u-1", minutesAgo: 0);
        _okta.HangNext();
        var seen = _okta.Requests.Count;
        await AdvanceToWakeAsync();
        await _okta.WaitForRequestsAsync(seen + 1).WaitAsync(Patience, Ct);

        _time.Advance(SourcePoller.RequestTimeout);

        var retry = await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct) - _time.GetUtcNow();
        retry.ShouldBeInRange(TimeSpan.FromTicks(1), SourcePoller.MinBackoff);
        _logs.Entries.ShouldContain(e => e.Level == LogLevel.Warning && e.Message.Contains("no answer within 30 s"));
        await AdvanceToWakeAsync();
        await CaughtUpAsync();
        (await Events.QueryEventsAsync(new EventQuery(Source: Source), Ct)).Select(e => e.Event.Id).ShouldContain(added);
    }

    [Fact]
    public void Backoff_ManyDraws_StayWithinTheDoublingCeilingAndSpreadOverIt()
    {
        for (var failures = 1; failures <= 12; failures++)
        {
            var ceiling = TimeSpan.FromTicks(Math.Min(SourcePoller.MaxBackoff.Ticks, SourcePoller.MinBackoff.Ticks << (failures - 1)));
            var draws = Enumerable.Range(0, 500).Select(_ => Poller.Backoff(failures)).ToList();

            draws.ShouldAllBe(d => d > TimeSpan.Zero && d <= ceiling);
            draws.ShouldContain(d => d < ceiling / 4);
            draws.ShouldContain(d => d > ceiling * 3 / 4);
        }
    }

    [Fact]
    public async Task CredentialWithALineBreak_IsNeverSent_AndLoggedWithoutItsValue()
    {
        _okta.Add("00u-0", minutesAgo: 5);
        _secrets["OKTA_API"] = "SSWS token-of-a-file\r\nX-Injected: 1";
        await StartPollingAsync(expectEvents: false);

        (await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct)).ShouldBe(_time.GetUtcNow() + SourcePoller.MaxBackoff);
        _okta.Requests.ShouldBeEmpty();
        var error = _logs.Entries.Where(e => e.Level == LogLevel.Error).ShouldHaveSingleItem();
        error.Message.ShouldContain("control character");
        error.Message.ShouldNotContain("token-of-a-file");
    }

    [Fact]
    public async Task Unauthorized_LogsAClearErrorAndBacksOffToTheMaximum()
    {
        _okta.Add("00u-0", minutesAgo: 5);
        _okta.FailNext(401);
        await StartPollingAsync(expectEvents: false);

        (await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct)).ShouldBe(_time.GetUtcNow() + SourcePoller.MaxBackoff);
        _okta.Requests.Count.ShouldBe(1);
        var error = _logs.Entries.Where(e => e.Level == LogLevel.Error).ShouldHaveSingleItem();
        error.Message.ShouldContain("401");
        error.Message.ShouldContain("env:OKTA_API");

        await AdvanceToWakeAsync();
        await CaughtUpAsync();
        (await Events.QueryEventsAsync(new EventQuery(Source: Source), Ct)).Count.ShouldBe(1);
        await AssertTheCredentialNeverLeakedAsync();
    }

    [Fact]
    public async Task PageLargerThanMaxBody_IsNotStored_AndLogged()
    {
        _okta.PageSize = 6;
        for (var i = 0; i < 6; i++)
        {
            _okta.Add("00u-" + i, minutesAgo: 30 - i);
        }


        await StartPollingAsync(maxBody: 1024, expectEvents: false);

        (await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct)).ShouldBe(_time.GetUtcNow() + SourcePoller.MaxBackoff);
        Events.LastSnapshotSeq.ShouldBe(0);
        _logs.Entries.ShouldContain(e => e.Level == LogLevel.Error && e.Message.Contains("max_body (1024 bytes)"));
    }

    [Fact]
    public async Task NextLinkToAnotherOrigin_IsNotFollowed()
    {
        _okta.Add("00u-0", minutesAgo: 5);
        _okta.LinkHost = "localhost";

        await StartPollingAsync(expectEvents: false);

        (await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct)).ShouldBe(_time.GetUtcNow() + SourcePoller.MaxBackoff);
        _okta.Requests.ShouldHaveSingleItem().Host.ShouldStartWith("127.0.0.1:");
        _logs.Entries.ShouldContain(e => e.Level == LogLevel.Error && e.Message.Contains("another origin"));
    }

    [Fact]
    public async Task PollBlockRemoved_StopsPolling()
    {
        _okta.Add("00u-0", minutesAgo: 5);
        await StartPollingAsync();
        var seen = _okta.Requests.Count;

        await PutSourceAsync(poll: null, HttpStatusCode.OK);
        await AdvanceRefreshAsync();
        await Poller.WhenRefreshWaitingAsync(Ct).WaitAsync(Patience, Ct);
        _time.Advance(TimeSpan.FromMinutes(10));
        await Poller.WhenRefreshWaitingAsync(Ct).WaitAsync(Patience, Ct);

        _okta.Requests.Count.ShouldBe(seen);
        _logs.Entries.ShouldContain(e => e.Message.Contains("Stopped polling source okta"));
    }

    private static string Rfc3339(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string? Header(RawSnapshot snapshot, string name) =>
        snapshot.Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    private async Task StartServerAsync() =>
        _server = await BulwarkTestServer.StartAsync(
            dataDirectory: _data.Path,
            time: _time,
            services: s =>
            {
                s.AddSingleton<ISecretResolver>(_secrets);
                s.AddSingleton<ILoggerProvider>(_logs);
            });

    private async Task StopServerAsync()
    {
        if (_server is { } server)
        {
            _server = null;
            await server.DisposeAsync();
        }
    }

    private async Task PutSourceAsync(JsonObject? poll, HttpStatusCode expected, int? maxBody = null)
    {
        var manifest = new JsonObject
        {
            ["scheme"] = "okta",
            ["secrets"] = new JsonArray("env:OKTA_HOOK"),
        };
        if (poll is not null)
        {
            manifest["poll"] = poll;
        }

        if (maxBody is { } max)
        {
            manifest["max_body"] = max;
        }

        using var admin = Server.CreateAdminClient();
        using var response = await admin.PutAsync($"v1/sources/{Source}", BulwarkTestServer.Json(manifest), Ct);
        await Http.ReadJsonAsync(response, expected);
    }

    private JsonObject Poll() => new() { ["url"] = _okta.LogsUrl.AbsoluteUri, ["interval"] = "1m", ["auth"] = "env:OKTA_API" };

    /// <summary>Declares the polled source, lets the poller's next refresh pick it up, and waits until it is caught up.</summary>
    private async Task StartPollingAsync(int? maxBody = null, bool expectEvents = true)
    {
        await PutSourceAsync(Poll(), HttpStatusCode.Created, maxBody);
        await AdvanceRefreshAsync();
        await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct);
        if (expectEvents)
        {
            await CaughtUpAsync();
        }
    }

    private async Task AdvanceRefreshAsync()
    {
        var wake = await Poller.WhenRefreshWaitingAsync(Ct).WaitAsync(Patience, Ct);
        _time.Advance(wake - _time.GetUtcNow());
    }

    /// <summary>Waits until the source's loop waits, then moves the clock to the moment it wakes.</summary>
    private async Task<DateTimeOffset> AdvanceToWakeAsync()
    {
        var wake = await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct);
        _time.Advance(wake - _time.GetUtcNow());
        return wake;
    }

    /// <summary>Waits until the loop waits for its next poll and the normalizer has every snapshot stored so far.</summary>
    private async Task CaughtUpAsync()
    {
        await Poller.WhenWaitingAsync(Source, Ct).WaitAsync(Patience, Ct);
        await Server.Services.GetRequiredService<NormalizerWorker>().WhenNormalizedAsync(Events.LastSnapshotSeq, Ct).WaitAsync(Patience, Ct);
    }

    private async Task AssertTheCredentialNeverLeakedAsync()
    {
        var token = ApiToken["SSWS ".Length..];
        _logs.Entries.ShouldNotBeEmpty();
        foreach (var entry in _logs.Entries)
        {
            entry.Message.ShouldNotContain(token);
        }

        foreach (var snapshot in await Events.ReadSnapshotsAsync(0, 1000, Ct))
        {
            snapshot.Headers.ShouldAllBe(h => !h.Value.Contains(token) && !h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase));
            Encoding.UTF8.GetString(snapshot.Body).ShouldNotContain(token);
        }

        using var admin = Server.CreateAdminClient();
        (await admin.GetStringAsync($"v1/sources/{Source}", Ct)).ShouldNotContain(token);
    }

    /// <summary>Every log entry of the server, formatted, with its exception.</summary>
    private sealed class CapturedLogs : ILoggerProvider
    {
        private readonly ConcurrentQueue<(string Category, LogLevel Level, string Message)> _entries = new();

        public IReadOnlyList<(string Category, LogLevel Level, string Message)> Entries => [.. _entries];

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedLogs owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var structured = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")) : string.Empty;
                owner._entries.Enqueue((category, logLevel, formatter(state, exception) + " " + structured + " " + exception));
            }
        }
    }
}

/// <summary>
/// A loopback fake of the Okta System Log API (<c>GET /api/v1/logs</c>): LogEvents in publication order, <c>since</c>,
/// <c>after</c> and <c>limit</c>, <c>Link</c> headers with <c>rel="self"</c> and <c>rel="next"</c> (a next link on the
/// empty last page too, as Okta's polling requests have), rate-limit headers, and faults on demand. Every request is
/// recorded with the fake clock's time.
/// </summary>
internal sealed class FakeOktaSystemLog : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly List<JsonObject> _log = [];
    private readonly List<RecordedRequest> _requests = [];
    private readonly Queue<(int Status, (string Name, string Value)[] Headers)> _faults = new();
    private int _hangs;
    private int _html;
    private TaskCompletionSource _requested = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private FakeOktaSystemLog(WebApplication app, TimeProvider time)
    {
        _app = app;
        _time = time;
    }

    public Uri BaseAddress { get; private set; } = null!;

    public Uri LogsUrl => new(BaseAddress, "api/v1/logs");

    /// <summary>Items per page when the request names no <c>limit</c>.</summary>
    public int PageSize { get; set; } = 2;

    /// <summary>When set, next links name this host (same port) instead of the one asked.</summary>
    public string? LinkHost { get; set; }

    /// <summary>When set, answers echo the credential in a header, as a careless API might.</summary>
    public bool EchoCredential { get; set; }

    /// <summary>
    /// Whether the last page links to where new items will appear, as Okta's does (default), or has no next link, as
    /// many APIs' last pages have.
    /// </summary>
    public bool NextOnLastPage { get; set; } = true;

    /// <summary>When set, successful pages say that no request is left until this time.</summary>
    public DateTimeOffset? ExhaustedUntil { get; set; }

    /// <summary>When set, successful pages say that no request is left, with this <c>X-Rate-Limit-Reset</c> as it is.</summary>
    public string? ExhaustedReset { get; set; }

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    public static async Task<FakeOktaSystemLog> StartAsync(TimeProvider time)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new FakeOktaSystemLog(app, time);
        app.MapGet("/api/v1/logs", fake.ServeAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake.BaseAddress = new Uri(address.TrimEnd('/') + "/");
        return fake;
    }

    public string Absolute(string pathAndQuery) => new Uri(BaseAddress, pathAndQuery).AbsoluteUri;

    /// <summary>Appends a successful <c>user.session.start</c> of <paramref name="user"/>; returns its uuid.</summary>
    public string Add(string user, int minutesAgo)
    {
        lock (_gate)
        {
            var uuid = $"00000000-0000-4000-8000-{_log.Count + 1:D12}";
            _log.Add(new JsonObject
            {
                ["uuid"] = uuid,
                ["published"] = (_time.GetUtcNow() - TimeSpan.FromMinutes(minutesAgo)).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
                ["eventType"] = "user.session.start",
                ["displayMessage"] = "User login to Okta",
                ["severity"] = "INFO",
                ["outcome"] = new JsonObject { ["result"] = "SUCCESS" },
                ["actor"] = new JsonObject { ["id"] = user, ["type"] = "User", ["alternateId"] = user + "@example.com" },
                ["client"] = new JsonObject { ["ipAddress"] = "198.51.100.7", ["userAgent"] = new JsonObject { ["rawUserAgent"] = "Mozilla/5.0" } },
                ["transaction"] = new JsonObject { ["type"] = "WEB", ["id"] = "tx-" + uuid[^4..] },
            });
            return uuid;
        }
    }

    /// <summary>Answers the next request with <paramref name="status"/> and these headers instead of a page.</summary>
    public void FailNext(int status, params (string Name, string Value)[] headers)
    {
        lock (_gate)
        {
            _faults.Enqueue((status, headers));
        }
    }

    /// <summary>Answers the next request 200 with an HTML page (a proxy's or a maintenance page) instead of the API's.</summary>
    public void AnswerHtmlNext()
    {
        lock (_gate)
        {
            _html++;
        }
    }

    /// <summary>Lets the next request wait for an answer that never comes (until the client gives up).</summary>
    public void HangNext()
    {
        lock (_gate)
        {
            _hangs++;
        }
    }

    /// <summary>Completes once <paramref name="count"/> requests have arrived.</summary>
    public async Task WaitForRequestsAsync(int count)
    {
        while (true)
        {
            Task requested;
            lock (_gate)
            {
                if (_requests.Count >= count)
                {
                    return;
                }

                requested = _requested.Task;
            }

            await requested;
        }
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task ServeAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var query = request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
        (int Status, (string Name, string Value)[] Headers)? fault;
        string body;
        bool hang;
        lock (_gate)
        {
            _requests.Add(new RecordedRequest(
                _time.GetUtcNow(), request.Host.Value ?? string.Empty, request.Path.Value ?? string.Empty, request.Path + request.QueryString, query,
                request.Headers.Authorization.ToString(), request.Headers.Accept.ToString()));
            _requested.TrySetResult();
            _requested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            hang = _hangs > 0;
            _hangs -= hang ? 1 : 0;
            fault = hang || _faults.Count == 0 ? null : _faults.Dequeue();
            body = hang || fault is not null ? string.Empty : Page(request, response, query);
        }

        if (hang)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, context.RequestAborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return;
        }

        response.Headers["X-Okta-Request-Id"] = "req-" + Guid.NewGuid().ToString("N");
        if (EchoCredential)
        {
            response.Headers["X-Debug-Credential"] = request.Headers.Authorization.ToString();
        }

        bool html;
        lock (_gate)
        {
            html = _html > 0;
            _html -= html ? 1 : 0;
        }

        if (html)
        {
            response.ContentType = "text/html";
            await response.WriteAsync("<html><body>Down for maintenance</body></html>");
            return;
        }

        if (fault is { } failure)
        {
            response.StatusCode = failure.Status;
            foreach (var (name, value) in failure.Headers)
            {
                response.Headers[name] = value;
            }

            await response.WriteAsJsonAsync(new { errorCode = "E0000047", errorSummary = "API call exceeded rate limit due to too many requests." });
            return;
        }

        response.Headers.SetCookie = "sid=fake-session; Path=/; HttpOnly";
        response.Headers["X-Rate-Limit-Limit"] = "60";
        response.Headers["X-Rate-Limit-Remaining"] = ExhaustedUntil is null && ExhaustedReset is null ? "59" : "0";
        response.Headers["X-Rate-Limit-Reset"] = ExhaustedReset
            ?? (ExhaustedUntil ?? _time.GetUtcNow() + TimeSpan.FromMinutes(1)).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        response.ContentType = "application/json";
        await response.WriteAsync(body);
    }

    private string Page(HttpRequest request, HttpResponse response, Dictionary<string, string> query)
    {
        var limit = query.TryGetValue("limit", out var limitText) ? int.Parse(limitText, CultureInfo.InvariantCulture) : PageSize;
        int start;
        if (query.TryGetValue("after", out var after))
        {
            start = _log.FindIndex(e => e["uuid"]!.GetValue<string>() == after) + 1;
        }
        else if (query.TryGetValue("since", out var sinceText))
        {
            var since = DateTimeOffset.Parse(sinceText, CultureInfo.InvariantCulture);
            start = _log.FindIndex(e => DateTimeOffset.Parse(e["published"]!.GetValue<string>(), CultureInfo.InvariantCulture) >= since);
            start = start < 0 ? _log.Count : start;
        }
        else
        {
            start = 0;
        }

        var items = _log.Skip(start).Take(limit).ToList();
        var authority = $"{request.Scheme}://{LinkHost ?? request.Host.Host}:{request.Host.Port}";
        var self = $"{request.Scheme}://{request.Host}{request.Path}{request.QueryString}";
        var cursor = items.Count > 0 ? items[^1]["uuid"]!.GetValue<string>() : after;
        var next = cursor is null ? self : $"{authority}/api/v1/logs?limit={limit}&after={cursor}";
        response.Headers.Append("Link", $"<{self}>; rel=\"self\"");
        if (NextOnLastPage || start + items.Count < _log.Count)
        {
            response.Headers.Append("Link", $"<{next}>; rel=\"next\"");
        }
        return new JsonArray([.. items.Select(i => (JsonNode)i.DeepClone())]).ToJsonString();
    }
}

/// <summary>A request the fake received, at the fake clock's time.</summary>
internal sealed record RecordedRequest(
    DateTimeOffset At, string Host, string Path, string PathAndQuery, IReadOnlyDictionary<string, string> Query, string Authorization, string Accept);
