namespace Bulwark.Sdk.AspNetCore.Correlation;

/// <summary>
/// The request's correlation id as an <c>HttpContext</c> feature:
/// <c>context.Features.Get&lt;ICorrelationIdFeature&gt;()?.CorrelationId</c>.
/// </summary>
public interface ICorrelationIdFeature
{
    /// <summary>The id accepted from the request or generated for it.</summary>
    string CorrelationId { get; }
}
