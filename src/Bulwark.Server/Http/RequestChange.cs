using Bulwark.Server.Hosting;
using Bulwark.Server.Security;

namespace Bulwark.Server.Http;

internal static class RequestChange
{
    /// <summary>An optional free-text reason for any mutating call, recorded in its audit entries.</summary>
    public const string ReasonHeader = "X-Bulwark-Reason";

    /// <summary>
    /// The change context of an authenticated request: caller, correlation id and reason. Handlers wait for the writes
    /// they submit with <see cref="CancellationToken.None"/>: a write, once queued, commits whether or not the client is
    /// still there, and its answer must still be produced so that an idempotent retry can be replayed.
    /// </summary>
    public static ChangeContext Of(HttpContext context)
    {
        var reason = context.Request.Headers[ReasonHeader].ToString();
        return new ChangeContext(
            Caller.Require(context).Name,
            CorrelationId.Get(context),
            reason.Length == 0 ? null : reason[..Math.Min(reason.Length, 1000)]);
    }
}
