using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.Cli.Client;

/// <summary>An error answer from the server, read from its problem+json body.</summary>
internal sealed class ApiException : Exception
{
    public ApiException(HttpStatusCode status, JsonObject? problem, string fallback)
        : base(Describe(status, problem, fallback))
    {
        Status = status;
        Problem = problem;
    }

    public ApiException()
    {
    }

    public ApiException(string message)
        : base(message)
    {
    }

    public ApiException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public HttpStatusCode Status { get; }

    public JsonObject? Problem { get; }

    /// <summary>The <c>errors</c> of a validation problem as (path, message) pairs.</summary>
    public IReadOnlyList<(string Path, string Message)> Errors =>
        Problem?["errors"] is JsonArray errors
            ? [.. errors.OfType<JsonObject>().Select(e => (e["path"]?.GetValue<string>() ?? string.Empty, e["message"]?.GetValue<string>() ?? string.Empty))]
            : [];

    private static string Describe(HttpStatusCode status, JsonObject? problem, string fallback)
    {
        var title = problem?["title"]?.GetValue<string>() ?? fallback;
        var detail = problem?["detail"]?.GetValue<string>();
        return detail is null ? $"{(int)status} {title}" : $"{(int)status} {title}: {detail}";
    }
}

/// <summary>Thrown when the server cannot be reached at all.</summary>
internal sealed class ServerUnreachableException : Exception
{
    public ServerUnreachableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ServerUnreachableException()
    {
    }

    public ServerUnreachableException(string message)
        : base(message)
    {
    }
}

/// <summary>A JSON answer with the headers the CLI reads.</summary>
internal sealed record ApiResponse(HttpStatusCode Status, JsonNode? Body, HttpResponseHeaders Headers);

/// <summary>
/// The CLI's HTTP client for the <c>/v1</c> API. A request waits for its answer <see cref="DefaultWait"/> on the
/// command's clock unless it asks otherwise (a replay waits for as long as the server works).
/// </summary>
internal sealed class ApiClient(HttpClient http, TimeProvider time) : IDisposable
{
    /// <summary>How long a request waits for its answer unless it asks otherwise.</summary>
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(100);

    public static ApiClient Create(Uri server, string? token, TimeProvider? time = null)
    {
        // The deadline is the request's own (on the command's clock); TCP keep-alive notices a connection that died
        // silently (a NAT or firewall forgetting it) while a request waits without one.
        var handler = new SocketsHttpHandler { ConnectCallback = ConnectWithKeepAliveAsync };
        var http = new HttpClient(handler) { BaseAddress = new Uri(server.ToString().TrimEnd('/') + "/"), Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(token))
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return new ApiClient(http, time ?? TimeProvider.System);
    }

    /// <summary>
    /// Opens the TCP connection with keep-alive probes after 30 s of silence, every 10 s, given up after 6: a dead
    /// connection fails its request within about 90 s instead of never.
    /// </summary>
    private static async ValueTask<Stream> ConnectWithKeepAliveAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 30);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 10);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 6);
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public Task<ApiResponse> GetAsync(string path, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, path, null, cancellationToken);

    /// <summary>Posts JSON; <paramref name="wait"/> overrides <see cref="DefaultWait"/> (<see cref="Timeout.InfiniteTimeSpan"/>: no limit).</summary>
    public Task<ApiResponse> PostAsync(string path, JsonNode? body, CancellationToken cancellationToken, TimeSpan? wait = null) =>
        SendAsync(HttpMethod.Post, path, body, cancellationToken, wait: wait);

    public Task<ApiResponse> PutAsync(string path, JsonNode body, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Put, path, body, cancellationToken);

    public Task<ApiResponse> DeleteAsync(string path, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Delete, path, null, cancellationToken);

    /// <summary>
    /// Sends a request; an error answer is thrown as an <see cref="ApiException"/>, except one with the status
    /// <paramref name="alsoAccept"/> (a 404 that means "missing", a 429 that carries a throttle decision).
    /// </summary>
    public Task<ApiResponse> SendAsync(
        HttpMethod method, string path, JsonNode? body, CancellationToken cancellationToken, HttpStatusCode? alsoAccept = null, string? reason = null, TimeSpan? wait = null, string? prefer = null) =>
        SendContentAsync(method, path, body is null ? null : new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), cancellationToken, alsoAccept, reason, wait, prefer);

    /// <summary>
    /// Sends a request with any content (an NDJSON push); errors as
    /// <see cref="SendAsync(HttpMethod, string, JsonNode?, CancellationToken, HttpStatusCode?, string?, TimeSpan?, string?)"/>.
    /// <paramref name="prefer"/> is the request's <c>Prefer</c> header (RFC 7240), e.g. <c>respond-async</c>.
    /// </summary>
    public async Task<ApiResponse> SendContentAsync(
        HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken, HttpStatusCode? alsoAccept = null, string? reason = null, TimeSpan? wait = null, string? prefer = null)
    {
        var limit = wait ?? DefaultWait;
        using var deadline = limit == Timeout.InfiniteTimeSpan ? new CancellationTokenSource() : new CancellationTokenSource(limit, time);
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (reason is not null)
        {
            request.Headers.Add("X-Bulwark-Reason", reason);
        }

        if (prefer is not null)
        {
            request.Headers.Add("Prefer", prefer);
        }

        request.Content = content;

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, waiting.Token).ConfigureAwait(false);
        }
        catch (HttpRequestException error)
        {
            throw new ServerUnreachableException($"Cannot reach the Bulwark server at {http.BaseAddress}: {error.Message}", error);
        }
        catch (OperationCanceledException error) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ServerUnreachableException($"The Bulwark server at {http.BaseAddress} did not answer within {limit.TotalSeconds:0} s", error);
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false); // buffered by SendAsync
            JsonNode? json = null;
            if (text.Length > 0 && (response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) ?? false))
            {
                try
                {
                    json = JsonNode.Parse(text);
                }
                catch (JsonException)
                {
                    json = null;
                }
            }

            if (response.IsSuccessStatusCode || response.StatusCode == alsoAccept)
            {
                return new ApiResponse(response.StatusCode, json, response.Headers);
            }

            throw new ApiException(response.StatusCode, json as JsonObject, response.ReasonPhrase ?? "error");
        }
    }

    public void Dispose() => http.Dispose();
}
