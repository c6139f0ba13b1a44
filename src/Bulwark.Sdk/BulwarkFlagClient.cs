using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Flags;

namespace Bulwark.Sdk;

/// <summary>The client's view of its data.</summary>
public enum ClientStatus
{
    /// <summary>No snapshot yet: every evaluation answers the caller's default with <c>PROVIDER_NOT_READY</c>.</summary>
    NotReady = 0,

    /// <summary>In contact with the server within the maximum staleness.</summary>
    Ready = 1,

    /// <summary>No contact for longer than the maximum staleness: <c>closed</c> flags evaluate off.</summary>
    Stale = 2,
}

/// <summary>The result of an SDK evaluation.</summary>
/// <param name="Variant">The variant served, or <see langword="null"/> when the caller's default applies.</param>
/// <param name="Reason">Why (OpenFeature reasons, plus <see cref="EvaluationReason.Stale"/>).</param>
/// <param name="ErrorCode">The error, when the default applies.</param>
/// <param name="Cohort">The cohort that matched, if any.</param>
public readonly record struct FlagResult(FlagVariant? Variant, EvaluationReason Reason, EvaluationErrorCode ErrorCode = EvaluationErrorCode.None, string? Cohort = null);

/// <summary>Which flags changed, and the snapshot version now held.</summary>
public sealed class FlagsChangedEventArgs(IReadOnlyList<string> keys, long version) : EventArgs
{
    /// <summary>The keys of the flags that changed.</summary>
    public IReadOnlyList<string> Keys { get; } = keys;

    /// <summary>The snapshot version the client now holds.</summary>
    public long Version { get; } = version;
}

/// <summary>
/// Evaluates Bulwark flags in process with the same Core evaluator the server uses, over a snapshot kept current by the
/// server's SSE stream (resumed by <c>Last-Event-ID</c>, reconnected with jittered exponential backoff) and, while the
/// stream is down, by ETag polling. The last good snapshot is saved to a file and can seed a start without the server.
/// When no contact has been made for longer than the maximum staleness, flags with <c>fail_mode: closed</c> (kill switches
/// by default) evaluate to their off variant. Evaluation takes no locks and allocates nothing.
/// </summary>
public sealed class BulwarkFlagClient : IAsyncDisposable
{
    private readonly BulwarkClientOptions _options;
    private readonly HttpClient _http;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile ClientSnapshot? _snapshot;
    private long _lastContactTicks;
    private readonly BackgroundLoop _background;

    /// <summary>Creates a client; call <see cref="StartAsync"/> to connect.</summary>
    /// <param name="options">The options; <see cref="BulwarkClientOptions.ServerUrl"/> is required.</param>
    public BulwarkFlagClient(BulwarkClientOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _http = ClientHttp.Create(options);
        _background = new BackgroundLoop(_http);
    }

    /// <summary>Raised after flags change (on the client's background loop).</summary>
    public event EventHandler<FlagsChangedEventArgs>? Changed;

    /// <summary>The client's status now.</summary>
    public ClientStatus Status => _snapshot is null ? ClientStatus.NotReady : IsStale ? ClientStatus.Stale : ClientStatus.Ready;

    /// <summary>The snapshot version held; 0 before the first snapshot.</summary>
    public long Version => _snapshot?.Version ?? 0;

    private bool IsStale =>
        _options.TimeProvider.GetUtcNow().UtcTicks - Interlocked.Read(ref _lastContactTicks) > _options.MaxStaleness.Ticks;

    /// <summary>
    /// Loads a saved or bootstrap snapshot if there is one, fetches the current snapshot (best effort), and starts
    /// following the change stream in the background.
    /// </summary>
    /// <param name="cancellationToken">Cancels the initial fetch (not the background loop).</param>
    /// <returns>A task that completes once started; see <see cref="WaitUntilReadyAsync"/>.</returns>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        foreach (var file in new[] { _options.SnapshotFile, _options.BootstrapFile })
        {
            if (_snapshot is null && file is not null && File.Exists(file))
            {
                // A file proves nothing about freshness: the data counts as old until the server is reached.
                Apply(ClientSnapshot.Parse(JsonNode.Parse(await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false))!.AsObject()), contact: false);
            }
        }

        try
        {
            await PollAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            // The background loop keeps trying; evaluation uses what was loaded, or the caller's defaults.
        }

        _background.Start(FollowAsync);
    }

    /// <summary>Completes once the client holds a snapshot.</summary>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>The wait.</returns>
    public Task WaitUntilReadyAsync(CancellationToken cancellationToken = default) => _ready.Task.WaitAsync(cancellationToken);

    /// <summary>Evaluates a flag for a subject.</summary>
    /// <param name="key">The flag key.</param>
    /// <param name="context">The subject.</param>
    /// <returns>The result; its <see cref="FlagResult.Variant"/> is null when the caller's default applies.</returns>
    public FlagResult Evaluate(string key, EvaluationContext context)
    {
        var snapshot = _snapshot;
        if (snapshot is null)
        {
            return new FlagResult(null, EvaluationReason.Error, EvaluationErrorCode.ProviderNotReady);
        }

        if (!snapshot.TryGetFlag(key, out var flag))
        {
            return new FlagResult(null, EvaluationReason.Error, EvaluationErrorCode.FlagNotFound);
        }

        if (flag.Definition.EffectiveFailMode == FailMode.Closed && IsStale)
        {
            return new FlagResult(flag.Off, EvaluationReason.Stale);
        }

        var result = flag.Evaluate(context);
        return new FlagResult(result.Variant, result.Reason, result.ErrorCode, result.Cohort);
    }

    /// <summary>Evaluates a boolean flag.</summary>
    /// <param name="key">The flag key.</param>
    /// <param name="context">The subject.</param>
    /// <param name="defaultValue">The value when the flag cannot be evaluated.</param>
    /// <returns>The value.</returns>
    public bool GetBoolean(string key, EvaluationContext context, bool defaultValue) =>
        Evaluate(key, context).Variant?.AsBoolean ?? defaultValue;

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _background.DisposeAsync();

    private async Task FollowAsync(CancellationToken stop)
    {
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await StreamAsync(stop).ConfigureAwait(false);
                failures = 0;
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception error) when (error is HttpRequestException or IOException or InvalidDataException or JsonException or OperationCanceledException)
            {
                failures++;
            }

            if (stop.IsCancellationRequested)
            {
                break;
            }

            try
            {
                // While the stream is down, the ETag snapshot keeps the data fresh and counts as contact.
                await PollAsync(stop).ConfigureAwait(false);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception error) when (error is HttpRequestException or IOException or InvalidDataException or JsonException or OperationCanceledException)
            {
                failures = Math.Max(failures, 1);
            }

            var cap = Math.Min(_options.MaxReconnectDelay.TotalMilliseconds, _options.MinReconnectDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures, 16)));
            var delay = TimeSpan.FromMilliseconds(Math.Max(_options.MinReconnectDelay.TotalMilliseconds / 2, cap * _options.Jitter()));
            try
            {
                await Task.Delay(failures == 0 ? _options.MinReconnectDelay : delay, _options.TimeProvider, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task StreamAsync(CancellationToken stop)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/stream");
        request.Headers.Add("Last-Event-ID", Version.ToString(CultureInfo.InvariantCulture));
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var reader = new EventStreamReader(await response.Content.ReadAsStreamAsync(stop).ConfigureAwait(false));
        MarkContact();
        while (await reader.ReadBlockAsync(stop).ConfigureAwait(false))
        {
            if (reader.EventType.SequenceEqual("flag"u8) && !reader.Data.IsEmpty)
            {
                using var document = JsonDocument.Parse(reader.Data);
                try
                {
                    ApplyEvent(document.RootElement);
                }
                catch (Exception error) when (error is KeyNotFoundException or InvalidOperationException or FormatException)
                {
                    // A field missing or of the wrong kind: drop the stream and resynchronize from the snapshot.
                    throw new InvalidDataException("malformed flag event", error);
                }
            }

            // Every block, a heartbeat included, proves the server is there.
            MarkContact();
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/flags/snapshot");
        if (_snapshot is { } current)
        {
            request.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{current.Version.ToString(CultureInfo.InvariantCulture)}\""));
        }

        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotModified)
        {
            MarkContact();
            return;
        }

        response.EnsureSuccessStatusCode();
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false))!.AsObject();
        Apply(ClientSnapshot.Parse(body), contact: true);
    }

    private void ApplyEvent(JsonElement data)
    {
        var current = _snapshot ?? ClientSnapshot.Empty;
        if (data.GetProperty("version").GetInt64() <= current.Version && _snapshot is not null)
        {
            return;
        }

        var next = current.WithEvent(data, out var key);
        Apply(next, contact: true, changedKey: key);
    }

    private void Apply(ClientSnapshot next, bool contact, string? changedKey = null)
    {
        var previous = _snapshot;
        _snapshot = next;
        if (contact)
        {
            MarkContact();
        }

        Persist(next);
        _ready.TrySetResult();

        // An event names the one flag it changes; only a whole snapshot needs comparing.
        var changed = changedKey is not null ? [changedKey] : next.ChangedKeys(previous);
        if (changed.Count > 0)
        {
            Changed?.Invoke(this, new FlagsChangedEventArgs(changed, next.Version));
        }
    }

    private void Persist(ClientSnapshot snapshot)
    {
        if (_options.SnapshotFile is not { } file)
        {
            return;
        }

        // Write then rename, so a crash never leaves half a snapshot behind.
        var temporary = file + ".tmp";
        File.WriteAllText(temporary, snapshot.ToDocument().ToJsonString());
        File.Move(temporary, file, overwrite: true);
    }

    private void MarkContact() => Interlocked.Exchange(ref _lastContactTicks, _options.TimeProvider.GetUtcNow().UtcTicks);
}
