using System.Net.Http.Headers;
using System.Text;
using Bulwark.Response;
using Bulwark.Server.Ingest;

namespace Bulwark.Server.Response.Connectors;

/// <summary>What an outside service answered, or why it did not.</summary>
internal sealed record ConnectorAnswer
{
    /// <summary>Set when no usable answer came: refused by the breaker, timed out, connection failed.</summary>
    public ActionOutcome? Failure { get; init; }

    public int Status { get; init; }

    /// <summary>The answer's body (at most 64 KiB of it), for parsing.</summary>
    public string Body { get; init; } = string.Empty;

    /// <summary>The body as one short line with every secret of the call masked, for error messages.</summary>
    public string Excerpt { get; init; } = string.Empty;

    public TimeSpan? RetryAfter { get; init; }

    public bool IsSuccess => Failure is null && Status is >= 200 and < 300;
}

/// <summary>
/// Sends connector requests: one <see cref="HttpClient"/> for every connector (no redirects, no cookies, no request
/// logging), the breaker of the connector, a deadline of the smaller of the call's and the connector's timeouts on the
/// server's clock, <c>Idempotency-Key</c> and <c>X-Correlation-ID</c> on every request, <c>Retry-After</c> read as
/// seconds or a date. Failures become outcomes, never exceptions; error texts never hold a secret or a URL (a Slack
/// URL is a secret).
/// </summary>
internal sealed partial class ConnectorHttp(
    IHttpClientFactory clients,
    ConnectorBreakers breakers,
    ISecretResolver secrets,
    TimeProvider time,
    ILogger<ConnectorHttp> logger)
{
    /// <summary>The name of the <see cref="HttpClient"/> every connector uses.</summary>
    public const string HttpClientName = "Bulwark.Connectors";

    private const int MaxAnswerBytes = 64 * 1024;
    private const int MaxExcerpt = 300;

    private static readonly ProductInfoHeaderValue UserAgent = new("Bulwark", "1");

    public TimeProvider Time => time;

    /// <summary>Resolves a connector's credential; a missing reference or value is a failure no retry fixes.</summary>
    public bool TryResolveSecret(ConnectorDefinition connector, out ConnectorSecret secret, out ActionOutcome failure)
    {
        secret = ConnectorSecret.Masked;
        failure = null!;
        if (connector.Secret is null)
        {
            failure = ActionOutcome.Failed(RetryOn.None, $"connector '{connector.Name}' has no secret");
            return false;
        }

        if (!secrets.TryResolve(connector.Secret, out var value, out var reason))
        {
            failure = ActionOutcome.Failed(RetryOn.None, $"connector '{connector.Name}': secret {connector.Secret} cannot be resolved: {reason}");
            return false;
        }

        secret = ConnectorSecret.Of(value);
        return true;
    }

    /// <summary>Sends one request through the connector's breaker, within the call's deadline.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (the server is stopping).</exception>
    public async Task<ConnectorAnswer> SendAsync(
        ActionCall call, ConnectorDefinition connector, ConnectorRequest request, ConnectorSecret secret, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(request.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
        {
            // Never echo the URL: for Slack it is the secret.
            return Fail(ActionOutcome.Failed(RetryOn.None, $"connector '{connector.Name}': the request URL is not an absolute http(s) URL"));
        }

        var breaker = breakers.For(connector.Name);
        if (!breaker.TryEnter(connector, out var ticket, out var refusal, out var openFor))
        {
            return Fail(ActionOutcome.Failed(RetryOn.ServerError, refusal, retryAfter: openFor));
        }

        var timeout = Deadline(call, connector);
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        bool? healthy = null;
        var started = time.GetTimestamp();
        try
        {
            using var message = ToMessage(call, request, url);
            using var response = await clients.CreateClient(HttpClientName)
                .SendAsync(message, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var body = await ReadBoundedAsync(response.Content, linked.Token).ConfigureAwait(false);
            healthy = status is not (>= 500 or 429 or 408);
            var elapsed = time.GetElapsedTime(started);
            LogAnswered(logger, connector.Name, call.Action, status, elapsed.TotalMilliseconds);
            return new ConnectorAnswer
            {
                Status = status,
                Body = body,
                Excerpt = Excerpt(body, secret),
                RetryAfter = RetryAfter(response),
            };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException)
        {
            healthy = false;
            return Fail(ActionOutcome.Failed(RetryOn.Timeout, $"no answer from connector '{connector.Name}' within {Bulwark.Manifests.Durations.Format(timeout)}"));
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            healthy = false;
            var kind = e is HttpRequestException h ? h.HttpRequestError.ToString() : "IO error";
            return Fail(ActionOutcome.Failed(RetryOn.Timeout, $"connection to connector '{connector.Name}' failed ({kind})"));
        }
        finally
        {
            breaker.Complete(connector, ticket, healthy);
        }

        ConnectorAnswer Fail(ActionOutcome outcome)
        {
            LogFailed(logger, connector.Name, call.Action, outcome.Error ?? string.Empty);
            return new ConnectorAnswer { Failure = outcome };
        }
    }

    /// <summary>
    /// The usual reading of an answer: 2xx succeeded, 429 and 408 and 5xx are retried (with <c>Retry-After</c>), any
    /// other status is a failure no retry fixes.
    /// </summary>
    /// <param name="answer">The answer.</param>
    /// <param name="service">Who answered, for the error (<c>Slack</c>, <c>connector 'x'</c>).</param>
    /// <param name="output">What a success leaves.</param>
    public static ActionOutcome Classify(ConnectorAnswer answer, string service, System.Text.Json.Nodes.JsonObject? output = null)
    {
        if (answer.Failure is { } failure)
        {
            return failure;
        }

        var status = answer.Status;
        if (answer.IsSuccess)
        {
            return ActionOutcome.Success(status, output);
        }

        var detail = answer.Excerpt.Length == 0 ? string.Empty : ": " + answer.Excerpt;
        return status switch
        {
            429 => ActionOutcome.Failed(RetryOn.TooManyRequests, $"{service} answered 429 (too many requests){detail}", status, answer.RetryAfter),
            408 => ActionOutcome.Failed(RetryOn.Timeout, $"{service} answered 408 (request timeout){detail}", status, answer.RetryAfter),
            >= 500 => ActionOutcome.Failed(RetryOn.ServerError, $"{service} answered {status}{detail}", status, answer.RetryAfter),
            >= 300 and < 400 => ActionOutcome.Failed(RetryOn.None, $"{service} answered {status}: redirects are not followed; configure the URL it points to", status),
            _ => ActionOutcome.Failed(RetryOn.None, $"{service} answered {status}{detail}", status),
        };
    }

    /// <summary>The smaller of the call's and the connector's timeouts (a non-positive one is ignored).</summary>
    public static TimeSpan Deadline(ActionCall call, ConnectorDefinition connector)
    {
        var callTimeout = call.Timeout > TimeSpan.Zero ? call.Timeout : connector.Timeout;
        var connectorTimeout = connector.Timeout > TimeSpan.Zero ? connector.Timeout : callTimeout;
        var timeout = callTimeout < connectorTimeout ? callTimeout : connectorTimeout;
        return timeout > TimeSpan.Zero ? timeout : TimeSpan.FromSeconds(5);
    }

    /// <summary>
    /// Masks every occurrence of the secret (and, for <c>user:token</c> credentials, of the token alone) and keeps one
    /// short line: the text an error may carry.
    /// </summary>
    public static string Excerpt(string text, ConnectorSecret secret)
    {
        if (!secret.IsMasked && secret.Value.Length > 0)
        {
            text = text.Replace(secret.Value, ConnectorSecret.Mask, StringComparison.Ordinal);
            var colon = secret.Value.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0 && colon < secret.Value.Length - 4)
            {
                text = text.Replace(secret.Value[(colon + 1)..], ConnectorSecret.Mask, StringComparison.Ordinal);
            }
        }

        var builder = new StringBuilder(Math.Min(text.Length, MaxExcerpt));
        foreach (var c in text)
        {
            if (builder.Length == MaxExcerpt)
            {
                builder.Append('…');
                break;
            }

            builder.Append(char.IsControl(c) ? ' ' : c);
        }

        return builder.ToString().Trim();
    }

    private static HttpRequestMessage ToMessage(ActionCall call, ConnectorRequest request, Uri url)
    {
        var message = new HttpRequestMessage(request.Method, url);
        message.Headers.UserAgent.Add(UserAgent);
        message.Headers.TryAddWithoutValidation("Idempotency-Key", call.IdempotencyKey);
        message.Headers.TryAddWithoutValidation("X-Correlation-ID", call.CorrelationId);
        foreach (var (name, value) in request.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        if (request.Content is { } content)
        {
            message.Content = new ByteArrayContent(content);
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        }

        return message;
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } header)
        {
            return null;
        }

        if (header.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (header.Date is { } date)
        {
            var wait = date - time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }

    private static async Task<string> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[MaxAnswerBytes];
            var length = 0;
            int read;
            while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
            {
                length += read;
            }

            return Encoding.UTF8.GetString(buffer, 0, length);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connector {Connector} answered {Status} to {Action} in {Milliseconds} ms")]
    private static partial void LogAnswered(ILogger logger, string connector, string action, int status, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connector {Connector} call for {Action} failed: {Error}")]
    private static partial void LogFailed(ILogger logger, string connector, string action, string error);
}
