using Bulwark.Problems;
using Bulwark.Server.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Bulwark.Server.Http;

/// <summary>
/// Enforces the body limit (413 from <c>Content-Length</c> before reading, and mid-read for chunked bodies) and that a
/// body, when there is one, is JSON (415 otherwise).
/// </summary>
internal sealed class RequestBodyLimits(RequestDelegate next, IOptions<BulwarkServerOptions> options)
{
    private readonly long _limit = options.Value.MaxRequestBodyBytes;

    public static bool HasBody(HttpRequest request) =>
        request.ContentLength > 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0);

    public static bool IsJson(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return false;
        }

        var mediaType = contentType.Split(';', 2)[0].Trim();
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) ||
               (mediaType.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }

    public Task InvokeAsync(HttpContext context)
    {
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = _limit;
        }

        var request = context.Request;
        if (request.ContentLength > _limit)
        {
            return ProblemResults.WriteAsync(context, ProblemKind.PayloadTooLarge, $"The body is {request.ContentLength} bytes; the limit is {_limit}.");
        }

        if (HasBody(request) && !IsJson(request.ContentType))
        {
            return ProblemResults.WriteAsync(
                context,
                ProblemKind.UnsupportedMediaType,
                $"Send the body as application/json, not {(string.IsNullOrEmpty(request.ContentType) ? "without a content type" : request.ContentType)}.");
        }

        return next(context);
    }
}
