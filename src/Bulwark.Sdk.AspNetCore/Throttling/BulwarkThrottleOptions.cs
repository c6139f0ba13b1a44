using Microsoft.AspNetCore.Http;

namespace Bulwark.Sdk.AspNetCore.Throttling;

/// <summary>Options of one <c>UseBulwarkThrottle</c> middleware.</summary>
public sealed class BulwarkThrottleOptions
{
    /// <summary>
    /// Ask the server for every request (<see cref="BulwarkThrottleClient.CheckAsync"/>: the fleet's buckets, a round
    /// trip each) instead of deciding locally with this process's buckets (<see cref="BulwarkThrottleClient.Decide(string, Bulwark.Throttling.ThrottleKeys, long)"/>).
    /// </summary>
    /// <value>Default <see langword="false"/> (local).</value>
    public bool Remote { get; set; }

    /// <summary>What a request costs.</summary>
    /// <value>Default 1 for every request.</value>
    public Func<HttpContext, long> Cost { get; set; } = static _ => 1;

    /// <summary>Which requests are checked; the others pass untouched.</summary>
    /// <value>Default every request.</value>
    public Func<HttpContext, bool> Applies { get; set; } = static _ => true;
}
