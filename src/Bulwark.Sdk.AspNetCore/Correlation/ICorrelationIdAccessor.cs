namespace Bulwark.Sdk.AspNetCore.Correlation;

/// <summary>
/// The correlation id of the request being handled, for services that have no <c>HttpContext</c> at hand. Registered as
/// a singleton by <c>AddBulwarkCorrelationId</c>.
/// </summary>
/// <remarks>
/// The id lives in an <see cref="AsyncLocal{T}"/> set by the middleware, not in the <c>HttpContext</c>: it flows into
/// every task the request starts, including work that outlives the request (a fire-and-forget call stays correlated),
/// and it never holds on to a context that the server may recycle.
/// </remarks>
public interface ICorrelationIdAccessor
{
    /// <summary>The id, or <see langword="null"/> outside a request that went through the middleware.</summary>
    string? CorrelationId { get; }
}
