using System.Globalization;
using System.Text;

namespace Bulwark.Throttling;

/// <summary>
/// The rate-limit response fields of a decision, as the server's <c>/check</c> and the SDK middleware both write them:
/// <list type="bullet">
/// <item><c>RateLimit-Policy</c> (IETF draft -08 to -10): every layer, <c>"ip";q=10;w=60, "ip-daily";q=100;w=86400</c>
/// (q: the limit; w: the period in whole seconds, at least 1).</item>
/// <item><c>RateLimit</c>: the layer the decision reports, <c>"ip";r=7;t=52</c> (r: units left; t: seconds until its
/// bucket is full again).</item>
/// <item><c>X-RateLimit-Limit</c>, <c>X-RateLimit-Remaining</c>, <c>X-RateLimit-Reset</c> (seconds until full again,
/// a delay, not a time) for older clients.</item>
/// <item><c>Retry-After</c> (seconds) when the decision is enforced as a block and a retry can succeed.</item>
/// </list>
/// </summary>
public static class RateLimitHeaders
{
    // Built once per policy, not per answer: policies are immutable and every check of one sends the same value.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ThrottlePolicy, string> Policies = [];

    /// <summary>The <c>RateLimit-Policy</c> value of a policy (tightened limits are not reflected: it names the policy).</summary>
    /// <param name="policy">The policy.</param>
    /// <returns>The field value.</returns>
    public static string Policy(ThrottlePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return Policies.GetValue(policy, Build);
    }

    private static string Build(ThrottlePolicy policy)
    {
        var builder = new StringBuilder();
        foreach (var layer in policy.Layers)
        {
            if (builder.Length > 0)
            {
                builder.Append(", ");
            }

            builder.Append(CultureInfo.InvariantCulture, $"\"{layer.Name}\";q={layer.Limit};w={Seconds(layer.Per)}");
        }

        return builder.ToString();
    }

    /// <summary>Writes every field for a decision.</summary>
    /// <param name="set">Sets one response header.</param>
    /// <param name="policy">The throttle's policy.</param>
    /// <param name="decision">The decision.</param>
    public static void Write(Action<string, string> set, ThrottlePolicy policy, ThrottleDecision decision)
    {
        ArgumentNullException.ThrowIfNull(set);
        set("RateLimit-Policy", Policy(policy));
        if (decision.Layer is { } layer)
        {
            var reset = Seconds(decision.ResetAfter, zeroAllowed: true);
            set("RateLimit", string.Create(CultureInfo.InvariantCulture, $"\"{layer}\";r={decision.Remaining};t={reset}"));
            set("X-RateLimit-Limit", decision.Limit.ToString(CultureInfo.InvariantCulture));
            set("X-RateLimit-Remaining", decision.Remaining.ToString(CultureInfo.InvariantCulture));
            set("X-RateLimit-Reset", reset.ToString(CultureInfo.InvariantCulture));
        }

        if (decision.Enforced == ThrottleDecisionKind.Block && decision.RetryAfter is { } retry)
        {
            set("Retry-After", Seconds(retry).ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Whole seconds, rounded up (at least 1 unless <paramref name="zeroAllowed"/> and the span is zero).</summary>
    /// <param name="span">The span.</param>
    /// <param name="zeroAllowed">Whether zero stays zero.</param>
    /// <returns>The seconds.</returns>
    public static long Seconds(TimeSpan span, bool zeroAllowed = false)
    {
        var seconds = (long)Math.Ceiling(span.TotalSeconds);
        return zeroAllowed && span <= TimeSpan.Zero ? 0 : Math.Max(1, seconds);
    }
}
