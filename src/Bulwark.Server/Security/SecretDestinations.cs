using Bulwark.Identity;
using Bulwark.Problems;
using Bulwark.Server.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Security;

/// <summary>
/// Where the server sends secrets, and what it fetches: a polled source's URL and credential, a connector's URL and
/// secret. Whoever may set these could send any secret the server can resolve (the bootstrap token in its environment,
/// another source's secret, a file) to a host of their choosing, or have the server fetch an internal address (a cloud
/// metadata endpoint) into a snapshot that viewers read. So creating or changing them takes the <c>administer</c>
/// capability; the rest of such a definition stays with <c>configure</c>.
/// </summary>
internal static class SecretDestinations
{
    /// <summary>
    /// 403 unless the caller may administer, when <paramref name="changes"/> names what the request would change: the
    /// early answer, against the definition read before the write. The write checks again against the definition it
    /// replaces (<see cref="Refusal"/>), so that a change committed in between is not put back unguarded.
    /// </summary>
    public static ProblemHttpResult? Guard(HttpContext context, string? changes) =>
        changes is null || MayAdminister(context) ? null : ProblemResults.Result(context, ProblemKind.Forbidden, Refusal(changes));

    /// <summary>Whether the caller may set where secrets go.</summary>
    public static bool MayAdminister(HttpContext context) => Roles.AnyGrants(Caller.Require(context).Identity.Roles, Capability.Administer);

    /// <summary>The 403's detail for a request that changes <paramref name="changes"/>.</summary>
    public static string Refusal(string changes) =>
        $"This request changes {changes}, which takes the 'administer' capability: whoever sets where the server sends a secret or what it fetches could send it any secret the server holds.";
}
