using Bulwark.Sdk.AspNetCore.Correlation;
using Bulwark.Sdk.AspNetCore.Idempotency;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Sdk.AspNetCore;

/// <summary>Adds Bulwark's middlewares to the request pipeline; each needs its <c>services.AddBulwark…</c> first.</summary>
public static class BulwarkApplicationBuilderExtensions
{
    /// <summary>
    /// Accepts or makes the request's correlation id, echoes it on the response, exposes it
    /// (<see cref="ICorrelationIdFeature"/>, <see cref="ICorrelationIdAccessor"/>), opens a <c>CorrelationId</c> logging
    /// scope, and sends it on <see cref="IHttpClientFactory"/> calls made while handling the request. Place it first,
    /// so that everything after it, error handling included, sees the id.
    /// </summary>
    /// <param name="app">The application.</param>
    /// <returns>The application.</returns>
    /// <exception cref="InvalidOperationException"><c>services.AddBulwarkCorrelationId()</c> was not called.</exception>
    public static IApplicationBuilder UseBulwarkCorrelationId(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        Require<ICorrelationIdAccessor>(app, "AddBulwarkCorrelationId");
        return app.UseMiddleware<CorrelationIdMiddleware>();
    }

    /// <summary>
    /// Honors <c>Idempotency-Key</c> on the methods in <see cref="IdempotencyOptions.Methods"/>: replays the stored
    /// response of a repeated request instead of running it again. Place it after authentication (the default scope is
    /// the user) and before the endpoints it protects.
    /// </summary>
    /// <param name="app">The application.</param>
    /// <returns>The application.</returns>
    /// <exception cref="InvalidOperationException"><c>services.AddBulwarkIdempotency()</c> was not called.</exception>
    public static IApplicationBuilder UseBulwarkIdempotency(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        Require<IIdempotencyStore>(app, "AddBulwarkIdempotency");
        return app.UseMiddleware<IdempotencyMiddleware>();
    }

    private static void Require<TService>(IApplicationBuilder app, string registration)
        where TService : class
    {
        if (app.ApplicationServices.GetService<TService>() is null)
        {
            throw new InvalidOperationException($"Call services.{registration}() before app.Use{registration[3..]}().");
        }
    }
}
