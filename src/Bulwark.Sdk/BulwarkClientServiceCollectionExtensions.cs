using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bulwark.Sdk;

/// <summary>Registers <see cref="BulwarkFlagClient"/> with a host: <c>services.AddBulwarkClient(o => ...)</c>.</summary>
public static class BulwarkClientServiceCollectionExtensions
{
    /// <summary>Adds a singleton <see cref="BulwarkFlagClient"/> that starts with the host and stops with it.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options (the server URL at least).</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddBulwarkClient(this IServiceCollection services, Action<BulwarkClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddSingleton(_ =>
        {
            var options = new BulwarkClientOptions();
            configure(options);
            return new BulwarkFlagClient(options);
        });
        services.AddHostedService<ClientStarter>();
        return services;
    }

    private sealed class ClientStarter(BulwarkFlagClient client) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => client.StartAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
