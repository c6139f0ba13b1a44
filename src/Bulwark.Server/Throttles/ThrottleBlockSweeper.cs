using Bulwark.Server.Hosting;
using Bulwark.Storage;

namespace Bulwark.Server.Throttles;

/// <summary>
/// Deletes lapsed manual blocks once an hour, on the server's clock. A lapsed block already has no effect (checks
/// compare its expiry with the time); sweeping keeps the table and the engines' block maps small.
/// </summary>
internal sealed class ThrottleBlockSweeper(IControlStore store, ThrottleRegistry registry, TimeProvider time, ILogger<ThrottleBlockSweeper> logger)
    : PeriodicWork(time, logger, Period)
{
    /// <summary>How often it sweeps.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromHours(1);

    protected override string Name => "Throttle block sweep";

    /// <summary>Deletes the blocks lapsed by now and reloads the engines' blocks when any went.</summary>
    /// <returns>How many were deleted.</returns>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var now = Time.GetUtcNow();
        var swept = await store.WriteAsync(tx => tx.DeleteThrottleBlocksBefore(now), cancellationToken).ConfigureAwait(false);
        if (swept > 0)
        {
            await registry.RefreshAllBlocksAsync(cancellationToken).ConfigureAwait(false);
        }

        return swept;
    }

    protected override Task RunOnceAsync(CancellationToken stoppingToken) => store.IsReady ? SweepAsync(stoppingToken) : Task.CompletedTask;
}
