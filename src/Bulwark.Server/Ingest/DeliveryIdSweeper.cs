using Bulwark.Ingest;

namespace Bulwark.Server.Ingest;

/// <summary>Forgets delivery ids past their source's dedupe retention, once an hour (their snapshots stay).</summary>
internal sealed class DeliveryIdSweeper(IEventStore events, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await events.SweepDeliveryIdsAsync(time.GetUtcNow(), stoppingToken).ConfigureAwait(false);
        }
    }
}
