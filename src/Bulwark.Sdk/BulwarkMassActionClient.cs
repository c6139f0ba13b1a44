using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.MassActions;

namespace Bulwark.Sdk;

/// <summary>
/// Runs guarded mass actions from a worker: asks the server for permits batch by batch, reports each batch's results,
/// waits as the server says, and stops when the action halts or completes. It fails closed: when the control plane
/// cannot be reached, or answers anything but a permit, no batch is handed out.
/// <code>
/// using var client = new BulwarkMassActionClient(options);
/// await foreach (var batch in client.MassAction("reset-2026-11").BatchesAsync(accounts, ct))
/// {
///     var failed = await ResetAsync(batch.Items);
///     await batch.ReportAsync(batch.Items.Count - failed.Count, failed.Count, failed.GroupBy(f => f.Code).ToDictionary(g => g.Key, g => (long)g.Count()), ct);
/// }
/// </code>
/// </summary>
public sealed class BulwarkMassActionClient : IDisposable
{
    /// <summary>How long one call to the server may take before the client gives up (and fails closed).</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http;

    /// <summary>Creates a client.</summary>
    /// <param name="options">
    /// The options: <see cref="BulwarkClientOptions.ServerUrl"/> is required, <see cref="BulwarkClientOptions.Token"/>
    /// must belong to one of the action's workers (or an operator when it names none), and
    /// <see cref="BulwarkClientOptions.TimeProvider"/> times the waits.
    /// </param>
    public BulwarkMassActionClient(BulwarkClientOptions options)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentNullException.ThrowIfNull(options.ServerUrl);
        _http = new HttpClient(options.HttpHandler ?? new SocketsHttpHandler(), disposeHandler: options.HttpHandler is null)
        {
            BaseAddress = new Uri(options.ServerUrl.ToString().TrimEnd('/') + "/"),
            Timeout = RequestTimeout,
        };
        if (options.Token is { Length: > 0 } token)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    /// <summary>The options.</summary>
    public BulwarkClientOptions Options { get; }

    /// <summary>A handle on one mass action.</summary>
    /// <param name="idOrName">Its id (<c>ma_…</c>) or its name.</param>
    /// <returns>The handle.</returns>
    public MassActionHandle MassAction(string idOrName)
    {
        ArgumentException.ThrowIfNullOrEmpty(idOrName);
        return new MassActionHandle(this, idOrName);
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    /// <summary>Posts a JSON body and reads the JSON answer; anything but a 2xx JSON object stops the caller.</summary>
    internal async Task<JsonObject> PostAsync(string idOrName, string verb, JsonObject body, string? idempotencyKey, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/mass-actions/{Uri.EscapeDataString(idOrName)}/{verb}")
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        HttpResponseMessage response;
        string text;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is HttpRequestException or IOException || error is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new MassActionStoppedException(MassActionStopCause.Unreachable, idOrName, $"the control plane could not be reached ({error.Message}); nothing is granted without it", error);
        }

        using (response)
        {
            JsonObject? document = null;
            try
            {
                document = JsonNode.Parse(text) as JsonObject;
            }
            catch (JsonException)
            {
                // Not JSON (a proxy's error page): handled below like any other unusable answer.
            }

            if (response.IsSuccessStatusCode && document is not null)
            {
                return document;
            }

            var detail = document?["detail"]?.ToString() ?? document?["title"]?.ToString() ?? text;
            var cause = (int)response.StatusCode is >= 400 and < 500 && response.StatusCode != HttpStatusCode.RequestTimeout && response.StatusCode != HttpStatusCode.TooManyRequests
                ? MassActionStopCause.Refused
                : MassActionStopCause.Unreachable;
            throw new MassActionStoppedException(cause, idOrName, $"the server answered {(int)response.StatusCode}: {detail}");
        }
    }
}

/// <summary>One mass action, seen from a worker.</summary>
public sealed class MassActionHandle
{
    private readonly BulwarkMassActionClient _client;

    internal MassActionHandle(BulwarkMassActionClient client, string idOrName)
    {
        _client = client;
        IdOrName = idOrName;
    }

    /// <summary>The id or name the handle was made with.</summary>
    public string IdOrName { get; }

    /// <summary>Asks for up to <paramref name="requested"/> permits (<c>POST /v1/mass-actions/{id}/permits</c>).</summary>
    /// <param name="requested">Units wanted, from 1.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>What the server granted.</returns>
    /// <exception cref="MassActionStoppedException">The server could not be reached or refused the call.</exception>
    public async Task<MassActionPermit> RequestPermitAsync(long requested, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(requested, 1);
        var answer = await _client.PostAsync(IdOrName, "permits", new JsonObject { ["requested"] = requested }, null, cancellationToken).ConfigureAwait(false);
        if (answer["granted"] is not JsonValue grantedNode || !grantedNode.TryGetValue<long>(out var granted) || granted < 0
            || answer["state"] is not JsonValue stateNode || !stateNode.TryGetValue<string>(out var stateName) || !MassActionNames.States.TryGetValue(stateName, out var state))
        {
            throw new MassActionStoppedException(MassActionStopCause.Unreachable, IdOrName, "the server's answer is not a permit; nothing is granted");
        }

        return new MassActionPermit(
            granted,
            answer["retry_after_ms"] is JsonValue retry && retry.TryGetValue<long>(out var milliseconds) ? TimeSpan.FromMilliseconds(milliseconds) : null,
            state,
            answer["reason"] is JsonValue reason && reason.TryGetValue<string>(out var text) ? text : string.Empty,
            answer["limited_by"] is JsonValue limit && limit.TryGetValue<string>(out var limitName) ? MassActionNames.Limits.GetValueOrDefault(limitName) : PermitLimit.None);
    }

    /// <summary>Reports results (<c>POST /v1/mass-actions/{id}/report</c>).</summary>
    /// <param name="succeeded">Units that succeeded.</param>
    /// <param name="failed">Units that failed.</param>
    /// <param name="errors">Failures by error code (at most <paramref name="failed"/> in all).</param>
    /// <param name="idempotencyKey">Sent as <c>Idempotency-Key</c>, so that a retried report is counted once.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The action's state after the report.</returns>
    /// <exception cref="MassActionStoppedException">The server could not be reached or refused the report.</exception>
    public async Task<MassActionState> ReportAsync(long succeeded, long failed, IReadOnlyDictionary<string, long>? errors = null, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(succeeded);
        ArgumentOutOfRangeException.ThrowIfNegative(failed);
        var body = new JsonObject { ["succeeded"] = succeeded, ["failed"] = failed };
        if (errors is { Count: > 0 })
        {
            var codes = new JsonObject();
            foreach (var (code, count) in errors)
            {
                codes[code] = count;
            }

            body["errors"] = codes;
        }

        var answer = await _client.PostAsync(IdOrName, "report", body, idempotencyKey, cancellationToken).ConfigureAwait(false);
        return answer["status"]?["state"] is JsonValue state && state.TryGetValue<string>(out var name) && MassActionNames.States.TryGetValue(name, out var parsed)
            ? parsed
            : throw new MassActionStoppedException(MassActionStopCause.Unreachable, IdOrName, "the server's answer to a report has no state");
    }

    /// <summary>The most items asked for at once by <see cref="BatchesAsync{T}(IEnumerable{T}, CancellationToken)"/>.</summary>
    public const int DefaultBatchSize = 500;

    /// <summary>Hands out <paramref name="items"/> in batches of at most <see cref="DefaultBatchSize"/>; see <see cref="BatchesAsync{T}(IEnumerable{T}, int, CancellationToken)"/>.</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="items">The items to process, read lazily.</param>
    /// <param name="cancellationToken">Cancels waiting and calls.</param>
    /// <returns>The batches.</returns>
    /// <exception cref="MassActionStoppedException">The action halted or completed, the worker was refused, or the server could not be reached.</exception>
    public IAsyncEnumerable<MassActionBatch<T>> BatchesAsync<T>(IEnumerable<T> items, CancellationToken cancellationToken = default) =>
        BatchesAsync(items, DefaultBatchSize, cancellationToken);

    /// <summary>
    /// Hands out <paramref name="items"/> in batches, each no larger than what the server granted: asks for a permit
    /// for up to <paramref name="maxBatchSize"/> items, yields a batch of the granted size, and waits (on the options'
    /// clock) for as long as the server says when nothing was granted. Report each batch with
    /// <see cref="MassActionBatch{T}.ReportAsync"/> before taking the next. Ends when the items run out.
    /// </summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="items">The items to process, read lazily.</param>
    /// <param name="maxBatchSize">The most items asked for at once.</param>
    /// <param name="cancellationToken">Cancels waiting and calls.</param>
    /// <returns>The batches.</returns>
    /// <exception cref="MassActionStoppedException">
    /// The action halted, completed while items remain, refused the worker, or the server could not be reached: no
    /// further batch is handed out.
    /// </exception>
    public async IAsyncEnumerable<MassActionBatch<T>> BatchesAsync<T>(IEnumerable<T> items, int maxBatchSize, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchSize, 1);
        var buffer = new Queue<T>(maxBatchSize);
        using var source = items.GetEnumerator();
        var exhausted = false;
        MassActionBatch<T>? previous = null;
        while (true)
        {
            if (previous is { IsReported: false })
            {
                throw new InvalidOperationException("Report every batch (MassActionBatch.ReportAsync) before taking the next one.");
            }

            while (!exhausted && buffer.Count < maxBatchSize)
            {
                if (source.MoveNext())
                {
                    buffer.Enqueue(source.Current);
                }
                else
                {
                    exhausted = true;
                }
            }

            if (buffer.Count == 0)
            {
                yield break;
            }

            var permit = await RequestPermitAsync(buffer.Count, cancellationToken).ConfigureAwait(false);
            if (permit.Granted > 0)
            {
                var granted = new T[Math.Min(permit.Granted, buffer.Count)];
                for (var i = 0; i < granted.Length; i++)
                {
                    granted[i] = buffer.Dequeue();
                }

                previous = new MassActionBatch<T>(this, granted, permit);
                yield return previous;
                continue;
            }

            if (permit.State is MassActionState.Halted or MassActionState.Completed)
            {
                var left = buffer.Count + (exhausted ? string.Empty : "+");
                throw new MassActionStoppedException(
                    permit.State == MassActionState.Halted ? MassActionStopCause.Halted : MassActionStopCause.Completed,
                    IdOrName,
                    $"{permit.Reason} ({left} items not processed)");
            }

            await Task.Delay(permit.RetryAfter is { } wait && wait > TimeSpan.Zero ? wait : MassActionPermits.IdleRetry, _client.Options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>What a permit request got.</summary>
/// <param name="Granted">Units granted: process at most this many.</param>
/// <param name="RetryAfter">How long to wait before asking again when nothing was granted; <see langword="null"/> when asking again will not help.</param>
/// <param name="State">The action's state.</param>
/// <param name="Reason">Why, for people.</param>
/// <param name="LimitedBy">What limited the grant.</param>
public sealed record MassActionPermit(long Granted, TimeSpan? RetryAfter, MassActionState State, string Reason, PermitLimit LimitedBy);

/// <summary>A batch of items covered by a permit; report its results before taking the next batch.</summary>
/// <typeparam name="T">The item type.</typeparam>
public sealed class MassActionBatch<T>
{
    private readonly MassActionHandle _handle;
    private readonly string _reportKey = Guid.NewGuid().ToString("N");

    internal MassActionBatch(MassActionHandle handle, IReadOnlyList<T> items, MassActionPermit permit)
    {
        _handle = handle;
        Items = items;
        Permit = permit;
    }

    /// <summary>The items this batch may process.</summary>
    public IReadOnlyList<T> Items { get; }

    /// <summary>The permit that covers it.</summary>
    public MassActionPermit Permit { get; }

    /// <summary>Whether its results have been reported.</summary>
    public bool IsReported { get; private set; }

    /// <summary>
    /// Reports the batch: every item either succeeded or failed (count an item not attempted as failed). The failure
    /// ratio feeds the action's breaker. A report that fails to reach the server can be retried: it is counted once.
    /// </summary>
    /// <param name="succeeded">Items that succeeded.</param>
    /// <param name="failed">Items that failed.</param>
    /// <param name="errors">Failures by error code.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The action's state after the report.</returns>
    /// <exception cref="MassActionStoppedException">The server could not be reached or refused the report.</exception>
    public async Task<MassActionState> ReportAsync(int succeeded, int failed, IReadOnlyDictionary<string, long>? errors = null, CancellationToken cancellationToken = default)
    {
        if (IsReported)
        {
            throw new InvalidOperationException("This batch has been reported.");
        }

        if (succeeded < 0 || failed < 0 || succeeded + failed != Items.Count)
        {
            throw new ArgumentException($"Report each of the batch's {Items.Count} items once, as succeeded or failed (got {succeeded} + {failed}).", nameof(succeeded));
        }

        var state = await _handle.ReportAsync(succeeded, failed, errors, _reportKey, cancellationToken).ConfigureAwait(false);
        IsReported = true;
        return state;
    }
}

/// <summary>Why a worker stopped; no batch is handed out after any of these.</summary>
public enum MassActionStopCause
{
    /// <summary>The action halted (a person, its flag's kill switch, or its breaker).</summary>
    Halted = 1,

    /// <summary>The action completed while the worker still had items.</summary>
    Completed = 2,

    /// <summary>The server refused the worker (not one of the action's workers, no such action, a bad report).</summary>
    Refused = 3,

    /// <summary>The control plane could not be reached or gave an unusable answer: the worker fails closed.</summary>
    Unreachable = 4,
}

/// <summary>A worker must stop: the mass action halted or completed, or the control plane refused or could not be reached.</summary>
public sealed class MassActionStoppedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="cause">Why.</param>
    /// <param name="massAction">The action's id or name.</param>
    /// <param name="detail">What happened, for people.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public MassActionStoppedException(MassActionStopCause cause, string massAction, string detail, Exception? innerException = null)
        : base($"Mass action '{massAction}' stopped ({cause.ToString().ToLowerInvariant()}): {detail}", innerException)
    {
        Cause = cause;
        MassAction = massAction;
    }

    /// <summary>Creates the exception.</summary>
    public MassActionStoppedException()
        : this(MassActionStopCause.Unreachable, string.Empty, "stopped")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public MassActionStoppedException(string message)
        : base(message) => MassAction = string.Empty;

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public MassActionStoppedException(string message, Exception innerException)
        : base(message, innerException) => MassAction = string.Empty;

    /// <summary>Why the worker stopped.</summary>
    /// <value>Default <see cref="MassActionStopCause.Unreachable"/>.</value>
    public MassActionStopCause Cause { get; } = MassActionStopCause.Unreachable;

    /// <summary>The action's id or name.</summary>
    public string MassAction { get; }
}
