using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Storage;
using Microsoft.AspNetCore.WebUtilities;

namespace Bulwark.Server.Ingest;

/// <summary>
/// The polling fallback for platforms without webhooks. Every source with a <c>poll</c> block gets a loop that fetches
/// its audit-log API page after page (Okta System Log style: <c>?since=</c> on the first request, then the
/// <c>Link: &lt;…&gt;; rel="next"</c> header) and stores each non-empty page as a raw snapshot, so polled pages take the
/// same road as webhook deliveries: dedupe, normalizer, event log. Where to resume (the next link) is a cursor in the
/// event store, written after each page's snapshot, so a restart neither skips nor — thanks to dedupe of identical pages
/// and of event ids — doubles anything. The sources are read from the store every <see cref="RefreshEvery"/>: new ones
/// start, removed ones (or ones without <c>poll</c> any more) stop, changed ones restart.
/// </summary>
internal sealed partial class SourcePoller(
    IControlStore store,
    IEventStore events,
    ISecretResolver secrets,
    IHttpClientFactory httpClients,
    IngestInstruments instruments,
    IRandomSource random,
    TimeProvider time,
    ILogger<SourcePoller> logger) : BackgroundService
{
    /// <summary>The name of the <see cref="HttpClient"/> the poller uses (no redirects, no cookies, no request logging).</summary>
    public const string HttpClientName = "Bulwark.SourcePoller";

    /// <summary>How often the list of sources is read again.</summary>
    public static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(30);

    /// <summary>How long one request (answer and body) may take.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The ceiling of the first backoff; it doubles with each failure in a row up to <see cref="MaxBackoff"/>.</summary>
    public static readonly TimeSpan MinBackoff = TimeSpan.FromSeconds(1);

    /// <summary>The longest backoff, and the wait after answers that retrying soon cannot fix (401, 403, too large).</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(5);

    /// <summary>The longest wait a 429 can ask for; longer ones are cut to this.</summary>
    public static readonly TimeSpan MaxThrottleWait = TimeSpan.FromHours(1);

    /// <summary>A header added to each snapshot: the URL of the page (the response does not carry it).</summary>
    public const string PageUrlHeader = "Bulwark-Poll-Url";

    private static readonly MediaTypeWithQualityHeaderValue Json = new("application/json");
    private static readonly ProductInfoHeaderValue UserAgent = new("Bulwark-Poller", "1");

    private readonly ConcurrentDictionary<string, Parking> _parking = new(StringComparer.Ordinal);
    private readonly Parking _refresh = new();
    private PeriodicTimer? _refreshTimer;

    /// <summary>
    /// Completes once the loop of <paramref name="source"/> is waiting for the clock (a wait that ends after now), with
    /// the time it wakes. Lets tests on a fake clock advance it exactly when the poller is idle.
    /// </summary>
    internal Task<DateTimeOffset> WhenWaitingAsync(string source, CancellationToken cancellationToken) =>
        WhenWaitingAsync(ParkingOf(source), cancellationToken);

    /// <summary>
    /// Completes once the list of sources has been read and the next reading waits for the clock, with the time it is
    /// due at the latest (on a fake clock, exactly).
    /// </summary>
    internal Task<DateTimeOffset> WhenRefreshWaitingAsync(CancellationToken cancellationToken) => WhenWaitingAsync(_refresh, cancellationToken);

    /// <summary>The backoff after <paramref name="failures"/> failures in a row: full jitter, uniform in (0, ceiling].</summary>
    internal TimeSpan Backoff(int failures)
    {
        var doublings = Math.Clamp(failures - 1, 0, 20);
        var ceiling = Math.Min(MaxBackoff.Ticks, MinBackoff.Ticks << doublings);
        Span<byte> bytes = stackalloc byte[8];
        random.Fill(bytes);
        var fraction = (BitConverter.ToUInt64(bytes) >> 11) * (1.0 / (1UL << 53));
        return TimeSpan.FromTicks(Math.Max(1, (long)Math.Ceiling(ceiling * fraction)));
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // One timer for the service's life, there once the host has started: a server without polled sources adds
        // no timers that come and go (tests on a fake clock count them).
        _refreshTimer = new PeriodicTimer(RefreshEvery, time);
        return base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _refreshTimer?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var timer = _refreshTimer ?? throw new InvalidOperationException("The poller was not started.");
        var loops = new Dictionary<string, PollLoop>(StringComparer.Ordinal);
        try
        {
            do
            {
                try
                {
                    var (sources, _) = await store.ListSourcesAsync(stoppingToken).ConfigureAwait(false);
                    await ReconcileAsync(loops, sources, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
#pragma warning disable CA1031 // A store that fails to list sources is asked again at the next refresh; the loops keep running.
                catch (Exception error)
#pragma warning restore CA1031
                {
                    LogRefreshFailed(logger, error);
                }
            }
            while (await WaitForRefreshAsync(timer, stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var loop in loops.Values)
            {
                await loop.StopAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<bool> WaitForRefreshAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        // The next tick is due a period after the last one fired, which was just now unless the refresh took a while.
        _refresh.Set(time.GetUtcNow() + RefreshEvery);
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            _refresh.Set(null);
        }
    }

    private async Task ReconcileAsync(Dictionary<string, PollLoop> loops, IReadOnlyList<SourceRecord> sources, CancellationToken stoppingToken)
    {
        var polled = sources.Where(s => s.Definition.Poll is not null).ToDictionary(s => s.Name, StringComparer.Ordinal);

        // A changed source restarts its loop (no stale wait or backoff survives a fix); the old loop has stopped, and
        // written its last cursor, before the new one reads it.
        foreach (var (name, loop) in loops.ToList())
        {
            var current = polled.GetValueOrDefault(name);
            if (current is null || current.Version != loop.Version || loop.Task.IsCompleted)
            {
                await loop.StopAsync().ConfigureAwait(false);
                loops.Remove(name);
                if (current is null)
                {
                    LogStopped(logger, name);
                }
            }
        }

        foreach (var source in polled.Values)
        {
            if (!loops.ContainsKey(source.Name))
            {
                var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                var run = new PollRun(source.Definition);
                loops[source.Name] = new PollLoop(source.Version, stop, Task.Run(() => PollAsync(run, stop.Token), CancellationToken.None));
            }
        }
    }

    private async Task PollAsync(PollRun run, CancellationToken cancellationToken)
    {
        var parking = ParkingOf(run.Name);
        LogStarted(logger, run.Name, run.Poll.Url, run.Poll.Interval);
        var cursorLoaded = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                if (!cursorLoaded)
                {
                    (run.Next, run.Since, run.ChainStarted, run.NotBefore) = await LoadCursorAsync(run, cancellationToken).ConfigureAwait(false);
                    cursorLoaded = true;
                }

                // A wait the API asked for (a 429, or no request left) outlives a restart: the cursor keeps its end.
                var held = run.NotBefore is { } notBefore ? notBefore - time.GetUtcNow() : TimeSpan.Zero;
                wait = held > TimeSpan.Zero ? Min(held, MaxThrottleWait) : await PollPagesAsync(run, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The loop outlives a failing store (or a bug): it backs off and tries again.
            catch (Exception error)
#pragma warning restore CA1031
            {
                instruments.Polled(run.Name, PollOutcome.Error);
                wait = run.Fail(Backoff(run.Failures + 1));
                LogPollFailed(logger, error, run.Name, wait);
            }

            try
            {
                await WaitAsync(parking, wait, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Fetches pages from the cursor on until the source is caught up or a request fails; returns how long to wait.</summary>
    private async Task<TimeSpan> PollPagesAsync(PollRun run, CancellationToken cancellationToken)
    {
        // Resolved on every poll, so that a credential file rewritten for a rotation is picked up.
        string? auth = null;
        if (run.Poll.Auth is { } reference && (!secrets.TryResolve(reference, out auth, out var reason) || auth.Any(char.IsControl)))
        {
            // A value with a line break would split the header (or be dropped): it is never sent.
            reason = auth is null ? reason : "its value holds a control character (a line break?), which no header may carry";
            instruments.Polled(run.Name, PollOutcome.Error);
            var wait = run.Fail(MaxBackoff);
            LogAuthUnresolved(logger, run.Name, reference.ToString(), reason, wait);
            return wait;
        }

        // A page whose next link leads back to a page of this poll ends it: nothing new is behind a loop of links.
        var fetched = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var url = run.Next ?? FirstUrl(run.Poll, run.Since ?? time.GetUtcNow() - run.Poll.Lookback);
            if (!fetched.Add(url.AbsoluteUri))
            {
                return run.Poll.Interval;
            }

            if (await FetchPageAsync(run, url, auth, cancellationToken).ConfigureAwait(false) is { } wait)
            {
                return wait;
            }
        }
    }

    /// <summary>Fetches one page and stores it; returns how long to wait, or null to fetch the next page now.</summary>
    private async Task<TimeSpan?> FetchPageAsync(PollRun run, Uri url, string? auth, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(RequestTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var requestedAt = time.GetUtcNow();
        var fromStart = run.Next is null;
        if (fromStart)
        {
            // A chain of pages starts here: where the next one resumes is reckoned from now, however long the chain.
            run.ChainStarted = requestedAt;
        }

        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Accept.Add(Json);
            request.Headers.UserAgent.Add(UserAgent);
            if (auth is not null)
            {
                request.Headers.TryAddWithoutValidation(run.Poll.AuthHeader, auth);
            }

            using var response = await httpClients.CreateClient(HttpClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                instruments.Polled(run.Name, PollOutcome.Throttled);
                var wait = run.Fail(ThrottleWait(response) ?? Backoff(run.Failures + 1));
                LogThrottled(logger, run.Name, url, wait);
                run.NotBefore = time.GetUtcNow() + wait;
                await SaveCursorAsync(run, run.Next, run.Since, cancellationToken).ConfigureAwait(false);
                return wait;
            }

            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                instruments.Polled(run.Name, PollOutcome.Error);
                var wait = run.Fail(MaxBackoff);
                LogRefused(logger, run.Name, url, status, run.Poll.AuthHeader, run.Poll.Auth?.ToString() ?? "(none)", wait);
                return wait;
            }

            if (!response.IsSuccessStatusCode)
            {
                return Failed(run, url, (int)response.StatusCode is >= 300 and < 400
                    ? $"HTTP {status} (redirects are not followed: configure the URL they lead to)"
                    : $"HTTP {status}");
            }

            var body = await ReadBoundedAsync(response.Content, run.Definition.MaxBody, linked.Token).ConfigureAwait(false);
            if (body is null)
            {
                instruments.Polled(run.Name, PollOutcome.Error);
                var wait = run.Fail(MaxBackoff);
                LogTooLarge(logger, run.Name, url, run.Definition.MaxBody, wait);
                return wait;
            }

            var next = NextLink(response, url);
            if (next is not null && !SameOrigin(next, run.Poll.Url))
            {
                // The credential goes to the configured origin only, wherever an answer points.
                instruments.Polled(run.Name, PollOutcome.Error);
                var wait = run.Fail(MaxBackoff);
                LogCrossOrigin(logger, run.Name, url, next.GetLeftPart(UriPartial.Authority), wait);
                return wait;
            }

            var kind = Classify(body);
            if (kind == PageKind.NotJson)
            {
                // A proxy's or a maintenance page (HTML, text) is not the API's answer: the cursor stays where it is and
                // the poll is retried with backoff. Taken for a last page, it sent the next poll back to the chain's start.
                return Failed(run, url, $"HTTP {status} with a body that is not JSON ({response.Content.Headers.ContentType?.MediaType ?? "no content type"})");
            }

            if (kind == PageKind.Empty)
            {
                // Caught up. Okta's empty page links to where the next poll starts; a page without a link keeps the cursor,
                // and one asked from a time moves that time on.
                instruments.Polled(run.Name, PollOutcome.Empty);
                run.Failures = 0;
                run.NotBefore = null;
                await SaveCursorAsync(run, next ?? run.Next, next is null && fromStart ? ResumeAt(run) : run.Since, cancellationToken).ConfigureAwait(false);
                return run.Poll.Interval;
            }

            var now = time.GetUtcNow();
            await events.AcceptDeliveryAsync(
                new RawDelivery(
                    run.Name,
                    now,
                    SnapshotHeaders(response, url, run.Poll, auth),
                    body,
                    response.Content.Headers.ContentType?.ToString(),
                    VerificationOutcome.Verified,
                    DeliveryId(fromStart ? run.Poll.Url : url, body),
                    now + run.Definition.DedupeRetention),
                cancellationToken).ConfigureAwait(false);
            instruments.Polled(run.Name, PollOutcome.Ok);
            run.Failures = 0;

            // Without a next link this was the last page: the next poll asks from the time the chain's first page was
            // asked for (an API may list newest first, or hold its answer from that moment), less the overlap (events the
            // API indexes late), and dedupe drops what it has seen. A page that says no request is left holds the next
            // one until the reset (at most an hour), also across a restart.
            TimeSpan? exhausted = next is not null && RateLimitExhausted(response) is { } reset && reset > now ? Min(reset - now, MaxThrottleWait) : null;
            run.NotBefore = now + exhausted;
            await SaveCursorAsync(run, next, next is null ? ResumeAt(run) : run.Since, cancellationToken).ConfigureAwait(false);
            return next is null ? run.Poll.Interval : exhausted;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Failed(run, url, $"no answer within {RequestTimeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException error)
        {
            return Failed(run, url, error.Message);
        }
        catch (IOException error)
        {
            return Failed(run, url, error.Message);
        }
    }

    /// <summary>
    /// Where a poll from the configured URL resumes once a chain of pages has reached the end: when the chain's first page
    /// was asked for, less the overlap, and never further back than it was.
    /// </summary>
    private DateTimeOffset ResumeAt(PollRun run)
    {
        var at = (run.ChainStarted ?? time.GetUtcNow()) - run.Poll.Overlap;
        return run.Since is { } since && since > at ? since : at;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private TimeSpan Failed(PollRun run, Uri url, string reason)
    {
        instruments.Polled(run.Name, PollOutcome.Error);
        var wait = run.Fail(Backoff(run.Failures + 1));
        LogRequestFailed(logger, run.Name, url, reason, wait);
        return wait;
    }

    /// <summary>How long a 429 asks to wait: the later of <c>Retry-After</c> (seconds or a date) and Okta's <c>X-Rate-Limit-Reset</c>.</summary>
    private TimeSpan? ThrottleWait(HttpResponseMessage response)
    {
        var now = time.GetUtcNow();
        DateTimeOffset? until = null;
        if (response.Headers.RetryAfter is { } retryAfter)
        {
            until = retryAfter.Delta is { } delta ? now + delta : retryAfter.Date;
        }

        if (RateLimitReset(response) is { } reset && (until is null || reset > until))
        {
            until = reset;
        }

        if (until is null)
        {
            return null;
        }

        var wait = until.Value - now;
        return wait < MinBackoff ? MinBackoff : wait > MaxThrottleWait ? MaxThrottleWait : wait;
    }

    /// <summary>Okta's <c>X-Rate-Limit-Reset</c> (Unix seconds); one past what a time can hold is as far as it gets.</summary>
    private static DateTimeOffset? RateLimitReset(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("X-Rate-Limit-Reset", out var values) || values.FirstOrDefault()?.Trim() is not { Length: > 0 } text || !text.All(char.IsAsciiDigit))
        {
            return null;
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds < 253_402_300_800
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : DateTimeOffset.MaxValue;
    }

    /// <summary>When a successful answer says no request is left in Okta's window, the time the window resets.</summary>
    private static DateTimeOffset? RateLimitExhausted(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-Rate-Limit-Remaining", out var values) && values.FirstOrDefault()?.Trim() == "0"
            ? RateLimitReset(response)
            : null;

    private static Uri FirstUrl(SourcePoll poll, DateTimeOffset since) =>
        string.IsNullOrEmpty(poll.SinceParameter)
            ? poll.Url
            : new Uri(QueryHelpers.AddQueryString(
                poll.Url.AbsoluteUri,
                poll.SinceParameter,
                Rfc3339(since)!));

    /// <summary>The <c>rel="next"</c> target of the <c>Link</c> headers (RFC 8288), resolved against the page's URL.</summary>
    internal static Uri? NextLink(HttpResponseMessage response, Uri page)
    {
        if (!response.Headers.TryGetValues("Link", out var values))
        {
            return null;
        }

        foreach (var value in values)
        {
            var position = 0;
            while (value.IndexOf('<', position) is var open and >= 0 && value.IndexOf('>', open) is var close and >= 0)
            {
                var end = value.IndexOf('<', close);
                var parameters = value[(close + 1)..(end < 0 ? value.Length : end)];
                foreach (var parameter in parameters.Split([';', ','], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    var equals = parameter.IndexOf('=', StringComparison.Ordinal);
                    if (equals > 0
                        && parameter[..equals].Trim().Equals("rel", StringComparison.OrdinalIgnoreCase)
                        && parameter[(equals + 1)..].Trim().Trim('"').Split(' ').Contains("next", StringComparer.OrdinalIgnoreCase)
                        && Uri.TryCreate(page, value[(open + 1)..close].Trim(), out var next)
                        && next.Scheme is "http" or "https")
                    {
                        return next;
                    }
                }

                position = close + 1;
            }
        }

        return null;
    }

    private static bool SameOrigin(Uri a, Uri b) =>
        Uri.Compare(a, b, UriComponents.SchemeAndServer, UriFormat.SafeUnescaped, StringComparison.OrdinalIgnoreCase) == 0;

    /// <summary>
    /// What a page holds: <see cref="PageKind.Empty"/> for an empty body or an empty JSON array (nothing happened since
    /// the cursor), <see cref="PageKind.NotJson"/> for anything but one JSON value, else <see cref="PageKind.Items"/>.
    /// </summary>
    private static PageKind Classify(byte[] body)
    {
        var reader = new Utf8JsonReader(body);
        try
        {
            if (!reader.Read())
            {
                return PageKind.Empty;
            }

            var probe = reader; // a copy: looks one token into an array without moving the reader
            var empty = probe.TokenType == JsonTokenType.StartArray && probe.Read() && probe.TokenType == JsonTokenType.EndArray;
            return reader.TrySkip() && !reader.Read() ? empty ? PageKind.Empty : PageKind.Items : PageKind.NotJson;
        }
        catch (JsonException)
        {
            return PageKind.NotJson;
        }
    }

    /// <summary>
    /// The page's id: the same page fetched again (same URL, same bytes) is a duplicate and stores nothing. A page asked
    /// from a time is named by the configured URL, without the time, which changes from poll to poll.
    /// </summary>
    private static string DeliveryId(Uri url, byte[] body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(url.AbsoluteUri));
        hash.AppendData("\n"u8);
        hash.AppendData(body);
        return "poll:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The response headers without credentials or cookies, after the page's URL.</summary>
    private static List<KeyValuePair<string, string>> SnapshotHeaders(HttpResponseMessage response, Uri url, SourcePoll poll, string? auth)
    {
        // Also dropped: any header that echoes the credential, or its token without the scheme word ("SSWS …").
        var credentials = auth is null ? [] : auth.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => p.Length >= 8).Append(auth).ToArray();
        var headers = new List<KeyValuePair<string, string>> { new(PageUrlHeader, url.AbsoluteUri) };
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            var value = string.Join(", ", values);
            if (!WebhooksApi.SecretHeaders.Contains(name)
                && !name.Equals(poll.AuthHeader, StringComparison.OrdinalIgnoreCase)
                && !credentials.Any(c => value.Contains(c, StringComparison.Ordinal)))
            {
                headers.Add(new(name, value));
            }
        }

        return headers;
    }

    private static async Task<byte[]?> ReadBoundedAsync(HttpContent content, int maxBytes, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > maxBytes)
        {
            return null;
        }

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (buffer.Length + read > maxBytes)
                    {
                        return null;
                    }

                    buffer.Write(chunk, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }

            return buffer.ToArray();
        }
    }

    private static string CursorName(string source) => "poll/" + source;

    /// <summary>
    /// The stored next link (when it points at the configured origin) and the time a poll from the configured URL
    /// resumes from, when they were taken while polling the URL configured now (a new URL starts over, from
    /// now - lookback).
    /// </summary>
    private async Task<(Uri? Next, DateTimeOffset? Since, DateTimeOffset? ChainStarted, DateTimeOffset? NotBefore)> LoadCursorAsync(PollRun run, CancellationToken cancellationToken)
    {
        var text = await events.GetCursorAsync(CursorName(run.Name), cancellationToken).ConfigureAwait(false);
        run.SavedCursor = text;
        if (text is null)
        {
            return (null, null, null, null);
        }

        try
        {
            var cursor = JsonNode.Parse(text)?.AsObject();
            if (cursor?["url"]?.GetValue<string>() != run.Poll.Url.AbsoluteUri)
            {
                return (null, null, null, null);
            }

            var next = cursor["next"]?.GetValue<string>() is { } link && Uri.TryCreate(link, UriKind.Absolute, out var uri) && SameOrigin(uri, run.Poll.Url)
                ? uri
                : null;
            return (next, Time(cursor["since"]), next is null ? null : Time(cursor["chain_started"]), Time(cursor["not_before"]));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return (null, null, null, null);
        }

        static DateTimeOffset? Time(JsonNode? node) =>
            node?.GetValue<string>() is { } at && DateTimeOffset.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
                ? parsed
                : null;
    }

    /// <summary>
    /// Writes where the poll resumes: the next link, with when its chain started, or, once a chain has ended, the time a
    /// poll from the configured URL asks from.
    /// </summary>
    private async Task SaveCursorAsync(PollRun run, Uri? next, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        (run.Next, run.Since) = (next, since);
        if (next is null)
        {
            run.ChainStarted = null;
        }

        var cursor = new JsonObject
        {
            ["url"] = run.Poll.Url.AbsoluteUri,
            ["next"] = next?.AbsoluteUri,
            ["since"] = Rfc3339(since),
            ["chain_started"] = Rfc3339(run.ChainStarted),
            ["not_before"] = Rfc3339(run.NotBefore),
        }.ToJsonString();
        if (cursor != run.SavedCursor)
        {
            await events.SetCursorAsync(CursorName(run.Name), cursor, cancellationToken).ConfigureAwait(false);
            run.SavedCursor = cursor;
        }
    }

    /// <summary>A time as the poller writes it, in queries and its cursor: RFC 3339 UTC in whole milliseconds.</summary>
    private static string? Rfc3339(DateTimeOffset? at) => at?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private Parking ParkingOf(string source) => _parking.GetOrAdd(source, _ => new Parking());

    private async Task WaitAsync(Parking parking, TimeSpan delay, CancellationToken cancellationToken)
    {
        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        // The timer exists before the wait is announced: a test that sees it may advance the clock at once.
        var wakeAt = time.GetUtcNow() + delay;
        var waiting = Task.Delay(delay, time, cancellationToken);
        parking.Set(wakeAt);
        try
        {
            await waiting.ConfigureAwait(false);
        }
        finally
        {
            parking.Set(null);
        }
    }

    private async Task<DateTimeOffset> WhenWaitingAsync(Parking parking, CancellationToken cancellationToken)
    {
        while (true)
        {
            var (wakeAt, changed) = parking.Read();
            if (wakeAt is { } at && at > time.GetUtcNow())
            {
                return at;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Polling source {Source} at {Url} every {Interval}")]
    private static partial void LogStarted(ILogger logger, string source, Uri url, TimeSpan interval);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopped polling source {Source}: it is gone or has no poll block")]
    private static partial void LogStopped(ILogger logger, string source);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reading the sources to poll failed; trying again at the next refresh")]
    private static partial void LogRefreshFailed(ILogger logger, Exception error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Polling source {Source} failed; retrying in {Wait}")]
    private static partial void LogPollFailed(ILogger logger, Exception error, string source, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Polling source {Source}: {Url} failed: {Reason}; retrying in {Wait}")]
    private static partial void LogRequestFailed(ILogger logger, string source, Uri url, string reason, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Polling source {Source}: {Url} answered 429; waiting {Wait} as it asks")]
    private static partial void LogThrottled(ILogger logger, string source, Uri url, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Error, Message =
        "Polling source {Source}: {Url} answered {Status}: the credential sent in {Header} (from {Reference}) is refused or lacks the permission; check it. Retrying in {Wait}")]
    private static partial void LogRefused(ILogger logger, string source, Uri url, int status, string header, string reference, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Error, Message = "Polling source {Source}: the poll auth {Reference} does not resolve on this server ({Reason}); retrying in {Wait}")]
    private static partial void LogAuthUnresolved(ILogger logger, string source, string reference, string reason, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Error, Message =
        "Polling source {Source}: the page at {Url} is larger than the source's max_body ({MaxBody} bytes) and was not stored; ask for smaller pages (Okta: limit=) or raise max_body. Retrying in {Wait}")]
    private static partial void LogTooLarge(ILogger logger, string source, Uri url, int maxBody, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Error, Message =
        "Polling source {Source}: {Url} links its next page at another origin ({Origin}); the credential is sent to the configured origin only. Retrying in {Wait}")]
    private static partial void LogCrossOrigin(ILogger logger, string source, Uri url, string origin, TimeSpan wait);

    /// <summary>One source's polling state: its definition (fixed for the loop's life), cursor and failures in a row.</summary>
    private sealed class PollRun(SourceDefinition definition)
    {
        public SourceDefinition Definition { get; } = definition;

        public SourcePoll Poll { get; } = definition.Poll ?? throw new ArgumentException("The source has no poll block.", nameof(definition));

        public string Name => Definition.Name;

        /// <summary>Where the next request goes; null for the configured URL from <see cref="Since"/>.</summary>
        public Uri? Next { get; set; }

        /// <summary>
        /// The time a request to the configured URL asks from: when the last poll that reached the end asked for its last
        /// page, less the overlap; null before any did (now - lookback).
        /// </summary>
        public DateTimeOffset? Since { get; set; }

        /// <summary>When the first page of the chain of next links being followed was asked for (null between chains).</summary>
        public DateTimeOffset? ChainStarted { get; set; }

        /// <summary>The cursor as last written (or read), so that an unchanged one is not written again.</summary>
        public string? SavedCursor { get; set; }

        /// <summary>Until when the API asked not to be called (a 429, or a page that says no request is left).</summary>
        public DateTimeOffset? NotBefore { get; set; }


        public int Failures { get; set; }

        public TimeSpan Fail(TimeSpan wait)
        {
            Failures++;
            return wait;
        }
    }

    private sealed record PollLoop(long Version, CancellationTokenSource Stop, Task Task)
    {
        public async Task StopAsync()
        {
            await Stop.CancelAsync().ConfigureAwait(false);
            await Task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            Stop.Dispose();
        }
    }

    /// <summary>When a loop waits for the clock, and a signal each time that changes.</summary>
    private sealed class Parking
    {
        private readonly Lock _gate = new();
        private DateTimeOffset? _wakeAt;
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Set(DateTimeOffset? wakeAt)
        {
            TaskCompletionSource changed;
            lock (_gate)
            {
                _wakeAt = wakeAt;
                changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            changed.TrySetResult();
        }

        public (DateTimeOffset? WakeAt, Task Changed) Read()
        {
            lock (_gate)
            {
                return (_wakeAt, _changed.Task);
            }
        }
    }
}

/// <summary>Registers the <see cref="SourcePoller"/> and its <see cref="HttpClient"/>.</summary>
internal static class SourcePollerServices
{
    public static IServiceCollection AddSourcePoller(this IServiceCollection services)
    {
        // No redirects (a custom auth header would follow them anywhere), no cookie jar, and no request logging: the
        // poller logs what matters itself and never a header. Timeouts run on the TimeProvider, per request.
        services.AddHttpClient(SourcePoller.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                AutomaticDecompression = DecompressionMethods.All,
            })
            .RemoveAllLoggers();
        services.AddSingleton<SourcePoller>();
        services.AddHostedService(sp => sp.GetRequiredService<SourcePoller>());
        return services;
    }
}

/// <summary>What a polled page holds (<c>SourcePoller.Classify</c>).</summary>
internal enum PageKind
{
    /// <summary>Items to store.</summary>
    Items,

    /// <summary>An empty body or an empty JSON array.</summary>
    Empty,

    /// <summary>Not one JSON value (a proxy's or a maintenance page).</summary>
    NotJson,
}
