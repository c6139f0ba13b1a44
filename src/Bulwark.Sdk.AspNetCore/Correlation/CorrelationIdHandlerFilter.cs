using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Bulwark.Sdk.AspNetCore.Correlation;

/// <summary>
/// Puts a <see cref="CorrelationIdHandler"/> first (outermost) in every <see cref="IHttpClientFactory"/> client's
/// handler chain, after the client's own configuration, so the client's handlers see the header.
/// </summary>
internal sealed class CorrelationIdHandlerFilter(ICorrelationIdAccessor accessor, IOptions<CorrelationIdOptions> options) : IHttpMessageHandlerBuilderFilter
{
    public Action<HttpMessageHandlerBuilder> Configure(Action<HttpMessageHandlerBuilder> next) => builder =>
    {
        next(builder);
        builder.AdditionalHandlers.Insert(0, new CorrelationIdHandler(accessor, options.Value.HeaderName));
    };
}
