using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Bulwark.Sdk.AspNetCore.Correlation;

/// <summary>
/// Accepts the request's correlation id when it is 1–128 visible ASCII characters, and otherwise makes a new one: a
/// malformed id is replaced, not refused, so a client's odd id never costs it its request. The id is echoed on the
/// response, offered as <see cref="ICorrelationIdFeature"/> and <see cref="ICorrelationIdAccessor"/>, and opened as a
/// <c>CorrelationId</c> logging scope around the rest of the pipeline.
/// </summary>
internal sealed class CorrelationIdMiddleware
{
    public const int MaxLength = 128;

    private readonly RequestDelegate _next;
    private readonly ILogger _logger;
    private readonly string _headerName;
    private readonly bool _echo;
    private readonly Func<string> _generator;

    public CorrelationIdMiddleware(RequestDelegate next, ILogger<CorrelationIdMiddleware> logger, IOptions<CorrelationIdOptions> options)
    {
        var o = options.Value;
        if (string.IsNullOrWhiteSpace(o.HeaderName))
        {
            throw new InvalidOperationException($"{nameof(CorrelationIdOptions)}.{nameof(CorrelationIdOptions.HeaderName)} must not be empty.");
        }

        _next = next;
        _logger = logger;
        _headerName = o.HeaderName;
        _echo = o.EchoOnResponse;
        _generator = o.Generator ?? throw new InvalidOperationException($"{nameof(CorrelationIdOptions)}.{nameof(CorrelationIdOptions.Generator)} must not be null.");
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var incoming = context.Request.Headers[_headerName];
        var id = incoming.Count == 1 && HeaderValue.IsVisibleAscii(incoming[0], MaxLength) ? incoming[0]! : NewId();
        context.Features.Set<ICorrelationIdFeature>(new Feature(id));
        if (_echo)
        {
            // Set when the response starts, so that an error handler clearing the response cannot lose it.
            context.Response.OnStarting(static state =>
            {
                var (response, name, value) = ((HttpResponse, string, string))state;
                response.Headers[name] = value;
                return Task.CompletedTask;
            }, (context.Response, _headerName, id));
        }

        var previous = CorrelationIdAccessor.Set(id);
        try
        {
            using (_logger.BeginScope(new CorrelationIdScope(id)))
            {
                await _next(context).ConfigureAwait(false);
            }
        }
        finally
        {
            CorrelationIdAccessor.Set(previous);
        }
    }

    private string NewId()
    {
        var id = _generator();
        return HeaderValue.IsVisibleAscii(id, MaxLength)
            ? id
            : throw new InvalidOperationException($"{nameof(CorrelationIdOptions)}.{nameof(CorrelationIdOptions.Generator)} returned an id that is not 1-{MaxLength} visible ASCII characters.");
    }

    private sealed record Feature(string CorrelationId) : ICorrelationIdFeature;
}
