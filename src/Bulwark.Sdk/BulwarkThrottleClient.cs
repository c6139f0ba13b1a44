using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Json;
using Bulwark.Throttling;

namespace Bulwark.Sdk;

/// <summary>
/// Throttle checks for an application, two ways:
/// <list type="bullet">
/// <item><see cref="Decide(string, ThrottleKeys, long)"/> enforces locally — the Envoy local-limit pattern: policies (and tightenings) are synced
/// from the server every <see cref="BulwarkClientOptions.PollInterval"/> with an ETag, and decided in process with the
/// server's own <see cref="ThrottleEngine"/>. No network per check, but the buckets are this process's: N processes
/// admit up to N times a limit.</item>
/// <item><see cref="CheckAsync"/> asks the server (<c>POST /v1/throttles/{name}/check</c>): one set of buckets for the
/// whole fleet, a round trip per check.</item>
/// </list>
/// When the server cannot be reached, or a throttle is unknown, the throttle's <c>fail_mode</c> decides (for a throttle
/// never synced, <see cref="UnknownThrottleFailMode"/>): allow for <c>open</c>, block for <c>closed</c>, with reason
/// <see cref="ThrottleReason.Unavailable"/>.
/// </summary>
public sealed class BulwarkThrottleClient : IAsyncDisposable
{
    private readonly BulwarkClientOptions _options;
    private readonly HttpClient _http;
    private volatile Dictionary<string, SyncedThrottle> _throttles = new(StringComparer.Ordinal);
    private string? _etag;
    private readonly BackgroundLoop _background;

    /// <summary>Creates a client; call <see cref="StartAsync"/> to sync policies.</summary>
    /// <param name="options">The options; <see cref="BulwarkClientOptions.ServerUrl"/> is required.</param>
    public BulwarkThrottleClient(BulwarkClientOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _http = ClientHttp.Create(options);
        _background = new BackgroundLoop(_http);
    }

    /// <summary>What a throttle the client has never synced decides.</summary>
    /// <value>Default <see cref="ThrottleFailMode.Open"/>.</value>
    public ThrottleFailMode UnknownThrottleFailMode { get; init; } = ThrottleFailMode.Open;

    /// <summary>Raised after a sync changed the policies held (on the client's background loop).</summary>
    public event EventHandler? Synced;

    /// <summary>The throttles version last synced; 0 before the first sync.</summary>
    public long Version { get; private set; }

    /// <summary>A synced policy.</summary>
    /// <param name="throttle">The throttle's name.</param>
    /// <returns>The policy, or <see langword="null"/> when not synced.</returns>
    public ThrottlePolicy? PolicyOf(string throttle) => _throttles.TryGetValue(throttle, out var synced) ? synced.Engine.Policy : null;

    /// <summary>Syncs once (best effort) and keeps syncing in the background.</summary>
    /// <param name="cancellationToken">Cancels the first sync.</param>
    /// <returns>A task that completes once started.</returns>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await SyncAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is HttpRequestException or JsonException or InvalidDataException)
        {
            // The background loop keeps trying; meanwhile fail modes decide.
        }

        _background.Start(FollowAsync);
    }

    /// <summary>Decides a check locally, with this process's buckets.</summary>
    /// <param name="throttle">The throttle's name.</param>
    /// <param name="keys">The keys of the check.</param>
    /// <param name="cost">Units it costs.</param>
    /// <returns>The decision.</returns>
    public ThrottleDecision Decide(string throttle, ThrottleKeys keys, long cost = 1)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return Decide(throttle, keys.Pairs, cost);
    }

    /// <summary>
    /// Decides a check locally, with this process's buckets, from keys given as name–value pairs:
    /// <c>Decide("password-reset", [("ip", ip), ("user", user)])</c> allocates nothing.
    /// </summary>
    /// <param name="throttle">The throttle's name.</param>
    /// <param name="keys">The keys of the check.</param>
    /// <param name="cost">Units it costs.</param>
    /// <returns>The decision.</returns>
    public ThrottleDecision Decide(string throttle, ReadOnlySpan<(string Name, string Value)> keys, long cost = 1) =>
        _throttles.TryGetValue(throttle, out var synced)
            ? synced.Engine.Decide(keys, cost, _options.TimeProvider.GetUtcNow())
            : Unavailable(UnknownThrottleFailMode);

    /// <summary>Asks the server to decide a check, with the fleet's buckets.</summary>
    /// <param name="throttle">The throttle's name.</param>
    /// <param name="keys">The keys of the check.</param>
    /// <param name="cost">Units it costs.</param>
    /// <param name="cancellationToken">Cancels the call (which then throws).</param>
    /// <returns>The server's decision, or the fail mode's when the server cannot answer.</returns>
    public async Task<ThrottleDecision> CheckAsync(string throttle, ThrottleKeys keys, long cost = 1, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(throttle);
        ArgumentNullException.ThrowIfNull(keys);
        var body = new JsonObject
        {
            ["keys"] = new JsonObject([.. keys.Values.Select(k => KeyValuePair.Create(k.Key, (JsonNode?)k.Value))]),
            ["cost"] = cost,
        };
        try
        {
            using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            using var response = await _http.PostAsync($"v1/throttles/{Uri.EscapeDataString(throttle)}/check", content, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests)
            {
                return ReadDecision(JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false))!.AsObject());
            }
        }
        catch (Exception error) when (error is HttpRequestException or JsonException or InvalidOperationException or KeyNotFoundException ||
                                      error is TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // Unreachable, timed out or answered nonsense: the fail mode decides, as for any other failure.
        }

        return Unavailable(PolicyOf(throttle)?.FailMode ?? UnknownThrottleFailMode);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _background.DisposeAsync();

    /// <summary>Fetches the policies if they changed; engines of unchanged policies keep their buckets.</summary>
    internal async Task SyncAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/throttles");
        if (_etag is { } etag)
        {
            request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(etag));
        }

        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotModified)
        {
            return;
        }

        response.EnsureSuccessStatusCode();
        var document = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false))!.AsObject();
        var current = _throttles;
        var next = new Dictionary<string, SyncedThrottle>(StringComparer.Ordinal);
        var now = _options.TimeProvider.GetUtcNow();
        foreach (var item in document["items"]!.AsArray())
        {
            var policyDocument = item!.AsObject();
            var status = policyDocument["status"]?.AsObject();
            policyDocument.Remove("status");
            var parsed = ThrottleKind.Instance.Read(policyDocument);
            if (!parsed.IsValid)
            {
                throw new InvalidDataException($"throttle from the server does not validate: {string.Join("; ", parsed.Errors)}");
            }

            var canonical = CanonicalJson.Serialize(ThrottleKind.Instance.ToDocument(parsed.Value!))!;
            var engine = current.TryGetValue(parsed.Value!.Name, out var held) && held.Canonical == canonical ? held.Engine : new ThrottleEngine(parsed.Value);
            var tightening = status?["tightening"] is JsonObject t ? ThrottleTighteningRecord.FromDocument(t).Tightening : null;
            engine.Tighten(tightening is not null && tightening.Until > now ? tightening : null);
            next[parsed.Value.Name] = new SyncedThrottle(canonical, engine);
        }

        _throttles = next;
        Version = document["version"]!.GetValue<long>();
        _etag = response.Headers.ETag?.ToString();
        Synced?.Invoke(this, EventArgs.Empty);
    }

    private async Task FollowAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.PollInterval, _options.TimeProvider, stop).ConfigureAwait(false);
                await SyncAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception error) when (error is HttpRequestException or JsonException or InvalidDataException or OperationCanceledException)
            {
                // Keep the policies held; try again next period.
            }
        }
    }

    private static ThrottleDecision Unavailable(ThrottleFailMode mode) => new(
        mode == ThrottleFailMode.Closed ? ThrottleDecisionKind.Block : ThrottleDecisionKind.Allow,
        ThrottleReason.Unavailable,
        null,
        0,
        TimeSpan.Zero,
        0,
        TimeSpan.Zero,
        null,
        false);

    private static ThrottleDecision ReadDecision(JsonObject body)
    {
        var shadow = body["shadow"]?.GetValue<bool>() ?? false;
        var kind = ThrottleNames.Decisions[(shadow ? body["shadow_decision"] : body["decision"])!.GetValue<string>()];
        return new ThrottleDecision(
            kind,
            ThrottleNames.Reasons[body["reason"]!.GetValue<string>()],
            body["layer"]?.GetValue<string>(),
            body["limit"]?.GetValue<long>() ?? 0,
            TimeSpan.FromSeconds(body["window_seconds"]?.GetValue<long>() ?? 0),
            body["remaining"]?.GetValue<long>() ?? 0,
            TimeSpan.FromMilliseconds(body["reset_after_ms"]?.GetValue<long>() ?? 0),
            body["retry_after_ms"]?.GetValue<long>() is { } retry ? TimeSpan.FromMilliseconds(retry) : null,
            shadow);
    }

    private sealed record SyncedThrottle(string Canonical, ThrottleEngine Engine);
}

/// <summary>The HTTP client every SDK client builds from its options.</summary>
internal static class ClientHttp
{
    public static HttpClient Create(BulwarkClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options.ServerUrl);
        var http = new HttpClient(options.HttpHandler ?? new SocketsHttpHandler(), disposeHandler: options.HttpHandler is null)
        {
            BaseAddress = new Uri(options.ServerUrl.ToString().TrimEnd('/') + "/"),
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (options.Token is { Length: > 0 } token)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return http;
    }
}
