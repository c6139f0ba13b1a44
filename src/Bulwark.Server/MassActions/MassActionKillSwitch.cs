using Bulwark.Server.Flags;
using Bulwark.Storage;

namespace Bulwark.Server.MassActions;

/// <summary>
/// Halts, at each new flag snapshot, every pending or running mass action whose flag is <c>EMERGENCY_OFF</c>, so a
/// kill stops its mass actions (audited, with the kill's reason) even while no worker is asking. Permits do not depend
/// on this: each one reads the flag inside its own write transaction.
/// </summary>
internal sealed partial class MassActionKillSwitch(FlagSnapshotCache snapshots, MassActionService service, IControlStore store, TimeProvider time, ILogger<MassActionKillSwitch> logger) : BackgroundService
{
    private static readonly TimeSpan RetryAfterError = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            long version;
            try
            {
                if (!store.IsReady)
                {
                    await Task.Delay(RetryAfterError, time, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                var snapshot = await snapshots.GetAsync(stoppingToken).ConfigureAwait(false);
                version = snapshot.Version;
                var halted = await service.HaltKilledAsync(snapshot.Flags, stoppingToken).ConfigureAwait(false);
                if (halted > 0)
                {
                    LogHalted(halted, version);
                }

                await snapshots.NewerThan(version).WaitAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A failed pass is retried; the permit path enforces kills on its own meanwhile.
            catch (Exception error)
#pragma warning restore CA1031
            {
                LogFailed(error);
                try
                {
                    await Task.Delay(RetryAfterError, time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Halted {Count} mass actions whose flag is EMERGENCY_OFF (flag snapshot {Version})")]
    private partial void LogHalted(int count, long version);

    [LoggerMessage(Level = LogLevel.Error, Message = "Halting the mass actions of killed flags failed; retrying")]
    private partial void LogFailed(Exception error);
}
