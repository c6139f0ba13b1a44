using Bulwark.Sdk.AspNetCore.Correlation;
using Bulwark.Sdk.AspNetCore.Idempotency;
using Bulwark.Sdk.AspNetCore.Throttling;
using Bulwark.Throttling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
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

    /// <summary>
    /// Checks every request (or those <see cref="BulwarkThrottleOptions.Applies"/> selects) against a throttle: a block
    /// is answered with 429 problem+json and <c>Retry-After</c>; an allow or a challenge goes on with
    /// <see cref="IBulwarkThrottleFeature"/> set, and the application challenges when
    /// <see cref="IBulwarkThrottleFeature.ChallengeRequired"/>. Every answer carries <c>RateLimit-Policy</c>,
    /// <c>RateLimit</c> and <c>X-RateLimit-*</c>. Limit it to some paths with <c>app.UseWhen(...)</c> or
    /// <see cref="BulwarkThrottleOptions.Applies"/>.
    /// </summary>
    /// <param name="app">The application.</param>
    /// <param name="throttle">The throttle's name.</param>
    /// <param name="keys">The keys of a request (<c>ip</c>, <c>user</c>, <c>tenant</c>, ...).</param>
    /// <param name="configure">Local or remote decisions, cost, which requests.</param>
    /// <returns>The application.</returns>
    /// <exception cref="InvalidOperationException"><c>services.AddBulwarkThrottleClient(...)</c> was not called.</exception>
    public static IApplicationBuilder UseBulwarkThrottle(this IApplicationBuilder app, string throttle, Func<HttpContext, ThrottleKeys> keys, Action<BulwarkThrottleOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentException.ThrowIfNullOrEmpty(throttle);
        ArgumentNullException.ThrowIfNull(keys);
        Require<BulwarkThrottleClient>(app, "AddBulwarkThrottleClient", "UseBulwarkThrottle");
        var options = new BulwarkThrottleOptions();
        configure?.Invoke(options);
        return app.UseMiddleware<ThrottleMiddleware>(throttle, keys, options);
    }

    private static void Require<TService>(IApplicationBuilder app, string registration, string? use = null)
        where TService : class
    {
        if (app.ApplicationServices.GetService<TService>() is null)
        {
            throw new InvalidOperationException($"Call services.{registration}() before app.{use ?? "Use" + registration[3..]}().");
        }
    }
}
