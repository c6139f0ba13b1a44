using System.Buffers;
using System.Globalization;
using Bulwark.Identity;
using Bulwark.Server.Hosting;
using Bulwark.Server.Security;
using Microsoft.Extensions.Options;

namespace Bulwark.Server.Flags;

/// <summary>
/// <c>GET /v1/stream</c>: server-sent events, one <c>flag</c> event per changed flag, its <c>id</c> the snapshot version
/// at which it changed. A client resumes with <c>Last-Event-ID</c> (or <c>?since=</c>) and receives every flag that
/// changed after that version — so it converges on the current state without missing a change. Without either it
/// receives every flag first. Comment lines keep idle connections alive.
/// </summary>
internal static class FlagStreamApi
{
    private static readonly byte[] ConnectedFrame = "retry: 1000\n: connected\n\n"u8.ToArray();
    private static readonly byte[] HeartbeatFrame = ": heartbeat\n\n"u8.ToArray();

    public static IEndpointRouteBuilder MapFlagStreamApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/v1/stream", StreamAsync).WithTags("Flags").RequireCapability(Capability.Read);
        return routes;
    }

    private static async Task StreamAsync(HttpContext context, FlagSnapshotCache cache, TimeProvider time, IOptions<BulwarkServerOptions> options, IHostApplicationLifetime lifetime, long? since = null)
    {
        var lastEventId = context.Request.Headers["Last-Event-ID"].ToString();
        var sent = since ?? (long.TryParse(lastEventId, NumberStyles.None, CultureInfo.InvariantCulture, out var resumed) ? resumed : 0);
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        // A stream ends when its client goes or the server begins to stop: clients reconnect and resume by Last-Event-ID,
        // and graceful shutdown is not held for the drain timeout by idle subscribers.
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var aborted = ended.Token;
        // One timer and one cancellation registration per connection, not per wake-up: with a thousand subscribers a
        // change must cost each of them a write, not a timer that outlives it.
        using var heartbeat = new Heartbeat(time, options.Value.StreamHeartbeat, aborted);
        var writer = response.BodyWriter;
        writer.Write(ConnectedFrame);
        await writer.FlushAsync(aborted).ConfigureAwait(false);
        try
        {
            while (!aborted.IsCancellationRequested)
            {
                var snapshot = await cache.GetAsync(aborted).ConfigureAwait(false);
                var events = snapshot.Events;
                var first = snapshot.FirstEventAfter(sent);
                if (first < events.Count)
                {
                    var seenBefore = sent;
                    for (var i = first; i < events.Count; i++)
                    {
                        // A subscriber that has seen the flag's previous version holds its definition: the status is enough.
                        var change = events[i];
                        writer.Write(change.StatusOnlyFrame is not null && seenBefore >= change.StatusOnlySince ? change.StatusOnlyFrame : change.Frame);
                        sent = change.Version;
                    }

                    await writer.FlushAsync(aborted).ConfigureAwait(false);
                }

                var changed = cache.NewerThan(Math.Max(sent, snapshot.Version));
                if (!changed.IsCompleted)
                {
                    await Task.WhenAny(changed, heartbeat.Due).ConfigureAwait(false);
                }

                if (heartbeat.TryConsume() && !aborted.IsCancellationRequested)
                {
                    writer.Write(HeartbeatFrame);
                    await writer.FlushAsync(aborted).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The subscriber went away.
        }
    }

    /// <summary>
    /// A connection's heartbeat: a periodic timer, and the end of the connection, complete <see cref="Due"/>; the stream
    /// loop awaits it beside the shared change signal and consumes it when it has written the heartbeat.
    /// </summary>
    private sealed class Heartbeat : IDisposable
    {
        private readonly ITimer _timer;
        private readonly CancellationTokenRegistration _ended;
        private TaskCompletionSource _due = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Heartbeat(TimeProvider time, TimeSpan period, CancellationToken ended)
        {
            _timer = time.CreateTimer(static state => ((Heartbeat)state!).Signal(), this, period, period);
            _ended = ended.Register(static state => ((Heartbeat)state!).Signal(), this);
        }

        public Task Due => Volatile.Read(ref _due).Task;

        /// <summary>True, once, after each tick.</summary>
        public bool TryConsume()
        {
            var due = Volatile.Read(ref _due);
            return due.Task.IsCompleted &&
                Interlocked.CompareExchange(ref _due, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), due) == due;
        }

        public void Dispose()
        {
            _timer.Dispose();
            _ended.Dispose();
        }

        private void Signal() => Volatile.Read(ref _due).TrySetResult();
    }
}
