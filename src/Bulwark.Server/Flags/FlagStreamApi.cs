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
        var heartbeat = options.Value.StreamHeartbeat;
        await response.WriteAsync("retry: 1000\n: connected\n\n", aborted).ConfigureAwait(false);
        await response.Body.FlushAsync(aborted).ConfigureAwait(false);
        try
        {
            while (!aborted.IsCancellationRequested)
            {
                var snapshot = await cache.GetAsync(aborted).ConfigureAwait(false);
                var seenBefore = sent;
                var wrote = false;
                foreach (var change in snapshot.Events)
                {
                    if (change.Version > sent)
                    {
                        // A subscriber that has seen the flag's previous version holds its definition: the status is enough.
                        var frame = change.StatusOnlyFrame is not null && seenBefore >= change.StatusOnlySince ? change.StatusOnlyFrame : change.Frame;
                        await response.Body.WriteAsync(frame, aborted).ConfigureAwait(false);
                        sent = change.Version;
                        wrote = true;
                    }
                }

                if (wrote)
                {
                    await response.Body.FlushAsync(aborted).ConfigureAwait(false);
                }

                var changed = cache.WaitForNewerAsync(Math.Max(sent, snapshot.Version), aborted);
                var beat = Task.Delay(heartbeat, time, aborted);
                if (await Task.WhenAny(changed, beat).ConfigureAwait(false) == beat && !aborted.IsCancellationRequested)
                {
                    await response.WriteAsync(": heartbeat\n\n", aborted).ConfigureAwait(false);
                    await response.Body.FlushAsync(aborted).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The subscriber went away.
        }
    }
}
