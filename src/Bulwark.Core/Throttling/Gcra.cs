namespace Bulwark.Throttling;

/// <summary>The outcome of one GCRA step, in ticks of 100 ns.</summary>
/// <param name="Allowed">Whether the cost was admitted.</param>
/// <param name="Tat">The theoretical arrival time to store (unchanged when denied).</param>
/// <param name="Remaining">Tokens left after this step.</param>
/// <param name="ResetAfter">Time until the bucket is full again.</param>
/// <param name="RetryAfter">When denied, time until the same cost would be admitted; -1 when it never can be.</param>
public readonly record struct GcraResult(bool Allowed, long Tat, long Remaining, long ResetAfter, long RetryAfter);

/// <summary>
/// The generic cell rate algorithm as redis-cell implements it: a token bucket of capacity <c>burst</c> refilled one
/// token every emission interval <c>T</c>, kept as one number per key — the theoretical arrival time (TAT). A cost
/// <c>c</c> at time <c>now</c> is admitted when <c>max(TAT, now) + c·T − burst·T ≤ now</c>, and then the TAT moves to
/// <c>max(TAT, now) + c·T</c>. Exact: over any interval of length <c>d</c>, a key is admitted at most
/// <c>burst + d / T</c> units.
/// </summary>
public static class Gcra
{
    /// <summary>The emission interval for <paramref name="limit"/> per <paramref name="per"/>, rounded up to the tick so that rounding never admits more than the limit.</summary>
    /// <param name="limit">Units per period.</param>
    /// <param name="per">The period.</param>
    /// <returns>Ticks between tokens.</returns>
    public static long EmissionInterval(long limit, TimeSpan per)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return Math.Max(1, (per.Ticks + limit - 1) / limit);
    }

    /// <summary>One admission attempt.</summary>
    /// <param name="tat">The stored TAT, or any value not after <paramref name="now"/> for a key without state.</param>
    /// <param name="now">The current time, in ticks.</param>
    /// <param name="interval">The emission interval <c>T</c>, in ticks.</param>
    /// <param name="burst">The bucket's capacity.</param>
    /// <param name="cost">Units asked for (0 reads the state without taking anything).</param>
    /// <returns>The result; store <see cref="GcraResult.Tat"/> when allowed.</returns>
    public static GcraResult Attempt(long tat, long now, long interval, long burst, long cost)
    {
        var tolerance = interval * burst;
        var start = Math.Max(tat, now);
        if (cost > burst)
        {
            return new GcraResult(false, tat, RemainingOf(tolerance - (start - now), interval), start - now, -1);
        }

        var increment = interval * cost;
        var newTat = start + increment;
        var allowAt = newTat - tolerance;
        if (allowAt > now)
        {
            var held = start - now;
            return new GcraResult(false, tat, RemainingOf(tolerance - held, interval), held, increment > tolerance ? -1 : allowAt - now);
        }

        var ttl = newTat - now;
        return new GcraResult(true, newTat, RemainingOf(tolerance - ttl, interval), ttl, 0);
    }

    /// <summary>The longest a bucket may take to refill (burst × interval), so that no arithmetic here can overflow.</summary>
    public static readonly TimeSpan MaxRefill = TimeSpan.FromDays(3660);

    private static long RemainingOf(long room, long interval) => room <= 0 ? 0 : room / interval;
}
