using Bulwark.Sdk.AspNetCore.Correlation;
using Bulwark.Sdk.AspNetCore.Idempotency;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Bulwark.Sdk.AspNetCore;

/// <summary>Registers the services of Bulwark's ASP.NET Core middlewares; each has a matching <c>UseBulwark…</c>.</summary>
public static class BulwarkServiceCollectionExtensions
{
    /// <summary>
    /// Adds what <c>app.UseBulwarkCorrelationId()</c> needs: its options, <see cref="ICorrelationIdAccessor"/>, and a
    /// handler on every <see cref="IHttpClientFactory"/> client that sends the current request's id on outgoing calls
    /// that do not set the header themselves. Calling it again only adds <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddBulwarkCorrelationId(this IServiceCollection services, Action<CorrelationIdOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<CorrelationIdOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton<ICorrelationIdAccessor, CorrelationIdAccessor>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHttpMessageHandlerBuilderFilter, CorrelationIdHandlerFilter>());
        return services;
    }

    /// <summary>
    /// Adds what <c>app.UseBulwarkIdempotency()</c> needs: its options, and <see cref="MemoryIdempotencyStore"/> as the
    /// <see cref="IIdempotencyStore"/> unless one is registered already. The clock is the registered
    /// <see cref="TimeProvider"/>, or <see cref="TimeProvider.System"/> when there is none. Calling it again only adds
    /// <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddBulwarkIdempotency(this IServiceCollection services, Action<IdempotencyOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<IdempotencyOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IIdempotencyStore>(sp => new MemoryIdempotencyStore(
            sp.GetRequiredService<IOptions<IdempotencyOptions>>().Value.MaxEntries,
            sp.GetRequiredService<TimeProvider>()));
        return services;
    }
}
