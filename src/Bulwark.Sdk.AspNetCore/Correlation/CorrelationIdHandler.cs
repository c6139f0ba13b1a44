namespace Bulwark.Sdk.AspNetCore.Correlation;

/// <summary>
/// Sets the current correlation id on an outgoing request that does not carry one already. One instance serves many
/// requests (the factory pools handler chains), so it reads the id per call from <see cref="ICorrelationIdAccessor"/>.
/// </summary>
internal sealed class CorrelationIdHandler(ICorrelationIdAccessor accessor, string headerName) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Stamp(request);
        return base.SendAsync(request, cancellationToken);
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Stamp(request);
        return base.Send(request, cancellationToken);
    }

    private void Stamp(HttpRequestMessage request)
    {
        if (accessor.CorrelationId is { } id && !request.Headers.Contains(headerName))
        {
            request.Headers.TryAddWithoutValidation(headerName, id);
        }
    }
}
