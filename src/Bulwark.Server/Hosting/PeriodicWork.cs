namespace Bulwark.Server.Hosting;

/// <summary>
/// Work done once per period of the server's clock (<see cref="TimeProvider"/>, so tests drive it with a fake clock). A
/// round that fails is logged and the next one tries again; stopping the host ends the loop quietly.
/// </summary>
internal abstract partial class PeriodicWork(TimeProvider time, ILogger logger, TimeSpan period) : BackgroundService
{
    /// <summary>The server's clock.</summary>
    protected TimeProvider Time { get; } = time;

    /// <summary>What the work is called in the log.</summary>
    protected abstract string Name { get; }

    /// <summary>One round.</summary>
    protected abstract Task RunOnceAsync(CancellationToken stoppingToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(period, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await RunOnceAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
#pragma warning disable CA1031 // A failing round is logged; the next one tries again.
                catch (Exception error)
#pragma warning restore CA1031
                {
                    LogFailed(logger, error, Name);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Work} failed; the next round tries again")]
    private static partial void LogFailed(ILogger logger, Exception error, string work);
}
