using Bulwark.Storage;
using Microsoft.Extensions.Options;

namespace Bulwark.Server.Hosting;

/// <summary>Deletes stored idempotent responses older than the retention, once an hour.</summary>
internal sealed class IdempotencySweeper(IControlStore store, TimeProvider time, IOptions<BulwarkServerOptions> options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (store.IsReady)
            {
                var cutoff = time.GetUtcNow() - options.Value.IdempotencyRetention;
                await store.WriteAsync(tx => tx.DeleteIdempotencyBefore(cutoff), stoppingToken).ConfigureAwait(false);
            }
        }
    }
}
