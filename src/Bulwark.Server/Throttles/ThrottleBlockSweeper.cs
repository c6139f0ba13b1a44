using Bulwark.Storage;

namespace Bulwark.Server.Throttles;

/// <summary>
/// Deletes lapsed manual blocks once an hour, on the server's clock. A lapsed block already has no effect (checks
/// compare its expiry with the time); sweeping keeps the table and the engines' block maps small.
/// </summary>
internal sealed class ThrottleBlockSweeper(IControlStore store, ThrottleRegistry registry, TimeProvider time) : BackgroundService
{
    /// <summary>How often it sweeps.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    /// <summary>Deletes the blocks lapsed by now and reloads the engines' blocks when any went.</summary>
    /// <returns>How many were deleted.</returns>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var swept = await store.WriteAsync(tx => tx.DeleteThrottleBlocksBefore(now), cancellationToken).ConfigureAwait(false);
        if (swept > 0)
        {
            await registry.RefreshAllBlocksAsync(cancellationToken).ConfigureAwait(false);
        }

        return swept;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (store.IsReady)
            {
                await SweepAsync(stoppingToken).ConfigureAwait(false);
            }
        }
    }
}
