using Bulwark.Storage;
using Microsoft.Extensions.Options;

namespace Bulwark.Server.Hosting;

/// <summary>
/// Deletes stored idempotent responses older than the retention, once an hour. A sweep the store fails is logged and
/// the next one tries again (it used to end the hosted service, and with it the server).
/// </summary>
internal sealed class IdempotencySweeper(IControlStore store, TimeProvider time, IOptions<BulwarkServerOptions> options, ILogger<IdempotencySweeper> logger)
    : PeriodicWork(time, logger, Period)
{
    /// <summary>How often it sweeps.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromHours(1);

    protected override string Name => "Idempotency sweep";

    /// <summary>Deletes the responses kept longer than the retention by now.</summary>
    /// <returns>How many were deleted.</returns>
    public Task<int> SweepAsync(CancellationToken cancellationToken) =>
        store.WriteAsync(tx => tx.DeleteIdempotencyBefore(Time.GetUtcNow() - options.Value.IdempotencyRetention), cancellationToken);

    protected override Task RunOnceAsync(CancellationToken stoppingToken) => store.IsReady ? SweepAsync(stoppingToken) : Task.CompletedTask;
}
