using System.Globalization;
using Bulwark.Problems;
using Bulwark.Throttling;
using Microsoft.AspNetCore.Http;

namespace Bulwark.Sdk.AspNetCore.Throttling;

/// <summary>
/// Checks each request against a throttle: sets the rate-limit headers (<see cref="RateLimitHeaders"/>) on every
/// answer; refuses a block with 429 <c>application/problem+json</c> (type <c>urn:bulwark:problem:rate-limited</c>, with
/// <c>Retry-After</c>); lets allows and challenges through with <see cref="IBulwarkThrottleFeature"/> set, so the
/// application challenges when asked to. Shadow-mode throttles never refuse.
/// </summary>
internal sealed class ThrottleMiddleware(RequestDelegate next, BulwarkThrottleClient client, string throttle, Func<HttpContext, ThrottleKeys> keys, BulwarkThrottleOptions options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!options.Applies(context))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var requestKeys = keys(context);
        var cost = options.Cost(context);
        var decision = options.Remote
            ? await client.CheckAsync(throttle, requestKeys, cost, context.RequestAborted).ConfigureAwait(false)
            : client.Decide(throttle, requestKeys, cost);
        if (client.PolicyOf(throttle) is { } policy)
        {
            var headers = context.Response.Headers;
            RateLimitHeaders.Write((name, value) => headers[name] = value, policy, decision);
        }

        if (decision.Enforced == ThrottleDecisionKind.Block)
        {
            if (decision.RetryAfter is { } retry && !context.Response.Headers.ContainsKey("Retry-After"))
            {
                context.Response.Headers.RetryAfter = RateLimitHeaders.Seconds(retry).ToString(CultureInfo.InvariantCulture);
            }

            await ProblemResponses.WriteAsync(context, ProblemKind.RateLimited, Detail(decision), Extensions(decision)).ConfigureAwait(false);
            return;
        }

        context.Features.Set<IBulwarkThrottleFeature>(new BulwarkThrottleFeature(throttle, decision));
        await next(context).ConfigureAwait(false);
    }

    private string Detail(ThrottleDecision decision) => decision.Reason switch
    {
        ThrottleReason.Unavailable => $"Throttle '{throttle}' could not be checked and fails closed.",
        ThrottleReason.Blocked => $"Blocked by throttle '{throttle}' after repeated denials.",
        _ => $"Over the limit of layer '{decision.Layer}' of throttle '{throttle}'.",
    };

    private KeyValuePair<string, object?>[] Extensions(ThrottleDecision decision) =>
    [
        new("throttle", throttle),
        new("decision", ThrottleNames.Name(ThrottleNames.Decisions, decision.Enforced)),
        new("reason", ThrottleNames.Name(ThrottleNames.Reasons, decision.Reason)),
        new("layer", decision.Layer),
        new("retry_after_ms", decision.RetryAfter is { } retry ? (long)Math.Ceiling(retry.TotalMilliseconds) : null),
        new("violated-policies", decision.Layer is { } layer ? new[] { layer } : Array.Empty<string>()),
    ];
}
