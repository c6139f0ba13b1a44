using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bulwark.Sdk;

/// <summary>Registers the SDK's clients with a host: <c>services.AddBulwarkClient(o => ...)</c>, <c>services.AddBulwarkThrottleClient(o => ...)</c>.</summary>
public static class BulwarkClientServiceCollectionExtensions
{
    /// <summary>Adds a singleton <see cref="BulwarkFlagClient"/> that starts with the host and stops with it.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options (the server URL at least).</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddBulwarkClient(this IServiceCollection services, Action<BulwarkClientOptions> configure) =>
        services.AddStartedClient(configure, options => new BulwarkFlagClient(options), (client, ct) => client.StartAsync(ct));

    /// <summary>
    /// Adds a singleton <see cref="BulwarkThrottleClient"/> that syncs throttle policies from the start of the host.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options (the server URL at least; <see cref="BulwarkClientOptions.PollInterval"/> is the sync period).</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddBulwarkThrottleClient(this IServiceCollection services, Action<BulwarkClientOptions> configure) =>
        services.AddStartedClient(configure, options => new BulwarkThrottleClient(options), (client, ct) => client.StartAsync(ct));

    private static IServiceCollection AddStartedClient<TClient>(this IServiceCollection services, Action<BulwarkClientOptions> configure, Func<BulwarkClientOptions, TClient> create, Func<TClient, CancellationToken, Task> start)
        where TClient : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddSingleton(_ =>
        {
            var options = new BulwarkClientOptions();
            configure(options);
            return create(options);
        });
        services.AddSingleton<IHostedService>(sp => new Starter<TClient>(sp.GetRequiredService<TClient>(), start));
        return services;
    }

    private sealed class Starter<TClient>(TClient client, Func<TClient, CancellationToken, Task> start) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => start(client, cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
