using Bulwark.Problems;
using Bulwark.Server.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Bulwark.Server.Http;

/// <summary>
/// Enforces the body limit (413 from <c>Content-Length</c> before reading, and mid-read for chunked bodies), that a
/// body is not compressed (415: bodies are read and verified as sent) and, when there is one, that it is JSON (415
/// otherwise).
/// </summary>
internal sealed class RequestBodyLimits(RequestDelegate next, IOptions<BulwarkServerOptions> options)
{
    private readonly long _limit = options.Value.MaxRequestBodyBytes;

    /// <summary>
    /// Whether the request has a body: a <c>Content-Length</c> over 0, else what the server knows of the framing. Over
    /// HTTP/1.1 that is chunked transfer encoding; over HTTP/2 and 3 a body needs neither header, so the server's
    /// <see cref="IHttpRequestBodyDetectionFeature"/> answers (false when the request's headers ended its stream).
    /// </summary>
    public static bool HasBody(HttpRequest request) => request.ContentLength is { } length
        ? length > 0
        : request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody
            ?? request.Headers.TransferEncoding.Count > 0;

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
        // Bodies are read (and webhook signatures verified) as sent: a compressed one would only fail later as "not
        // JSON" or a bad signature.
        var encoding = context.Request.Headers.ContentEncoding.ToString().Trim();
        if (HasBody(context.Request) && encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            return ProblemResults.WriteAsync(
                context, ProblemKind.UnsupportedMediaType, $"Content-Encoding '{encoding}' is not accepted: send the body uncompressed.");
        }

        if (context.GetEndpoint()?.Metadata.GetMetadata<RawBodyEndpoint>() is { } raw)
        {
            // The endpoint reads its own body, bounded by its own limit (a webhook source's max_body).
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            {
                feature.MaxRequestBodySize = raw.MaxBytes;
            }

            return next(context);
        }

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

/// <summary>
/// Endpoint metadata: the endpoint reads its body itself (any media type it accepts, up to <see cref="MaxBytes"/>, its
/// own limits checked inside), instead of the JSON-only, server-wide limit.
/// </summary>
/// <param name="MaxBytes">The most the server will read.</param>
internal sealed record RawBodyEndpoint(long MaxBytes);
