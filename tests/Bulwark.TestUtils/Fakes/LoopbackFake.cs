using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.TestUtils.Fakes;

/// <summary>One request a fake received, exactly as it arrived.</summary>
public sealed record RecordedRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);

    /// <summary>The body as JSON (throws when it is not).</summary>
    public JsonNode Json => JsonNode.Parse(Body) ?? throw new InvalidOperationException("The body is JSON null.");

    /// <summary>A header's value (any case), or <see langword="null"/>.</summary>
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>An answer a fake gives.</summary>
public sealed record FakeAnswer(int Status, string Body = "", string ContentType = "application/json", IReadOnlyDictionary<string, string>? Headers = null)
{
    public static FakeAnswer Json(int status, JsonNode body, IReadOnlyDictionary<string, string>? headers = null) =>
        new(status, body.ToJsonString(), "application/json", headers);

    public static FakeAnswer Text(int status, string body) => new(status, body, "text/plain; charset=utf-8");
}

/// <summary>
/// A real HTTP server on 127.0.0.1 (a free port) that records every request and answers as a subclass decides, unless a
/// test scripted the next answers: a status (with <c>Retry-After</c>), a stall (the answer is computed, side effects
/// and all, but never sent until the client gives up), a hold (sent when the test releases it) or a real delay before
/// the answer (for tests of whole processes).
/// </summary>
public abstract class LoopbackFake : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly List<RecordedRequest> _requests = [];
    private readonly Queue<Script> _script = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private WebApplication? _app;

    public Uri BaseAddress { get; private set; } = null!;

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

    /// <summary>Answers the next <paramref name="count"/> requests with <paramref name="status"/> instead, with no side effect.</summary>
    public void FailNext(int count, int status, string body = "", TimeSpan? retryAfter = null) =>
        Enqueue(count, new Script(ScriptKind.Status, status, body, retryAfter?.TotalSeconds.ToString("0", CultureInfo.InvariantCulture), TimeSpan.Zero));

    /// <summary>Answers the next <paramref name="count"/> requests with <paramref name="status"/> and <c>Retry-After</c> as an HTTP date.</summary>
    public void FailNext(int count, int status, DateTimeOffset retryAt, string body = "") =>
        Enqueue(count, new Script(ScriptKind.Status, status, body, retryAt.ToString("R", CultureInfo.InvariantCulture), TimeSpan.Zero));

    /// <summary>
    /// For the next <paramref name="count"/> requests: do what the request asks (side effects included) but send no
    /// answer until the client gives up or the fake stops — the unknown outcome of a timeout.
    /// </summary>
    public void StallNext(int count) => Enqueue(count, new Script(ScriptKind.Stall, 0, string.Empty, null, TimeSpan.Zero));

    /// <summary>
    /// For the next request: do what it asks, then hold the answer until the returned action releases it (or the client
    /// gives up, or the fake stops).
    /// </summary>
    public Action HoldNext()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(1, new Script(ScriptKind.Hold, 0, string.Empty, null, TimeSpan.Zero, release));
        return () => release.TrySetResult();
    }

    /// <summary>For the next <paramref name="count"/> requests: do what the request asks, then wait <paramref name="delay"/> (real time) before answering.</summary>
    public void DelayNext(int count, TimeSpan delay) => Enqueue(count, new Script(ScriptKind.Delay, 0, string.Empty, null, delay));

    /// <summary>Completes once at least <paramref name="count"/> requests have arrived.</summary>
    public Task WaitForRequestsAsync(int count, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_requests.Count >= count)
            {
                return Task.CompletedTask;
            }

            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, reached));
            return reached.Task.WaitAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    protected static async Task<T> StartAsync<T>(T fake)
        where T : LoopbackFake
    {
        ArgumentNullException.ThrowIfNull(fake);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(fake.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake.BaseAddress = new Uri(address.TrimEnd('/') + "/");
        fake._app = app;
        return fake;
    }

    /// <summary>The fake's own answer to a request (called under no lock; subclasses guard their state).</summary>
    protected abstract FakeAnswer Answer(RecordedRequest request);

    private void Enqueue(int count, Script script)
    {
        lock (_gate)
        {
            for (var i = 0; i < count; i++)
            {
                _script.Enqueue(script);
            }
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in context.Request.Headers)
        {
            headers[name] = values.ToString();
        }

        var request = new RecordedRequest(
            context.Request.Method, context.Request.Path.Value ?? "/", context.Request.QueryString.Value ?? string.Empty, headers, body.ToArray());
        Script? script;
        lock (_gate)
        {
            _requests.Add(request);
            foreach (var waiter in _waiters.Where(w => w.Count <= _requests.Count).ToList())
            {
                _waiters.Remove(waiter);
                waiter.Reached.TrySetResult();
            }

            _script.TryDequeue(out script);
        }

        if (script is { Kind: ScriptKind.Status })
        {
            var scripted = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (script.RetryAfter is not null)
            {
                scripted["Retry-After"] = script.RetryAfter;
            }

            await WriteAsync(context, new FakeAnswer(script.Status, script.Body, "text/plain; charset=utf-8", scripted));
            return;
        }

        var answer = Answer(request);
        using var gone = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        try
        {
            if (script is { Kind: ScriptKind.Stall })
            {
                await Task.Delay(Timeout.Infinite, gone.Token);
            }
            else if (script is { Kind: ScriptKind.Delay })
            {
                await Task.Delay(script.Delay, gone.Token);
            }
            else if (script is { Kind: ScriptKind.Hold, Release: { } release })
            {
                await release.Task.WaitAsync(gone.Token);
            }
        }
        catch (OperationCanceledException)
        {
            context.Abort();
            return;
        }

        await WriteAsync(context, answer);
    }

    private static async Task WriteAsync(HttpContext context, FakeAnswer answer)
    {
        context.Response.StatusCode = answer.Status;
        foreach (var (name, value) in answer.Headers ?? new Dictionary<string, string>())
        {
            context.Response.Headers[name] = value;
        }

        if (answer.Body.Length > 0)
        {
            context.Response.ContentType = answer.ContentType;
            await context.Response.WriteAsync(answer.Body, context.RequestAborted);
        }
    }

    private enum ScriptKind
    {
        Status,
        Stall,
        Delay,
        Hold,
    }

    private sealed record Script(ScriptKind Kind, int Status, string Body, string? RetryAfter, TimeSpan Delay, TaskCompletionSource? Release = null);
}
