using System.Buffers;
using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Problems;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Bulwark.Sdk.AspNetCore.Idempotency;

/// <summary>
/// <c>Idempotency-Key</c> on the configured methods, scoped per caller. The first response below 500 is stored and
/// replayed for a repeat with the same fingerprint (method, path, query and body), marked
/// <c>Idempotent-Replayed: true</c>; the same key with another fingerprint gets 422, a repeat while the first request
/// still runs 409, a malformed key 400 and a body too large to fingerprint 413.
/// </summary>
internal sealed class IdempotencyMiddleware
{
    private static readonly FrozenSet<string> NeverStored = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase, HeaderNames.SetCookie, HeaderNames.ContentLength, HeaderNames.TransferEncoding);

    private readonly RequestDelegate _next;
    private readonly IIdempotencyStore _store;
    private readonly TimeProvider _time;
    private readonly FrozenSet<string> _methods;
    private readonly string[] _storedHeaders;
    private readonly Func<HttpContext, string> _scope;
    private readonly TimeSpan _retention;
    private readonly long _maxRequestBodyBytes;
    private readonly long _maxResponseBodyBytes;

    public IdempotencyMiddleware(RequestDelegate next, IIdempotencyStore store, TimeProvider time, IOptions<IdempotencyOptions> options)
    {
        var o = options.Value;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(o.Retention, TimeSpan.Zero, "options.Retention");
        ArgumentOutOfRangeException.ThrowIfLessThan(o.MaxRequestBodyBytes, 0, "options.MaxRequestBodyBytes");
        ArgumentOutOfRangeException.ThrowIfLessThan(o.MaxResponseBodyBytes, 0, "options.MaxResponseBodyBytes");
        _next = next;
        _store = store;
        _time = time;
        _methods = o.Methods.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        _storedHeaders = [.. new[] { HeaderNames.ContentType, HeaderNames.Location }.Concat(o.StoredHeaders)
            .Where(h => !NeverStored.Contains(h)).Distinct(StringComparer.OrdinalIgnoreCase)];
        _scope = o.ScopeSelector ?? throw new InvalidOperationException($"{nameof(IdempotencyOptions)}.{nameof(IdempotencyOptions.ScopeSelector)} must not be null.");
        _retention = o.Retention;
        _maxRequestBodyBytes = o.MaxRequestBodyBytes;
        _maxResponseBodyBytes = o.MaxResponseBodyBytes;
    }

    public async Task InvokeAsync(HttpContext context)
    {
        if (!_methods.Contains(context.Request.Method) || !context.Request.Headers.TryGetValue(IdempotencyOptions.KeyHeaderName, out var keys))
        {
            await _next(context).ConfigureAwait(false);
            return;
        }

        if (keys.Count != 1 || !HeaderValue.IsVisibleAscii(keys[0], IdempotencyOptions.MaxKeyLength))
        {
            await ProblemResponses.WriteAsync(context, ProblemKind.MalformedRequest, $"{IdempotencyOptions.KeyHeaderName} must be one value of 1-{IdempotencyOptions.MaxKeyLength} visible ASCII characters (no spaces).").ConfigureAwait(false);
            return;
        }

        var fingerprint = await FingerprintAsync(context.Request).ConfigureAwait(false);
        if (fingerprint is null)
        {
            await ProblemResponses.WriteAsync(context, ProblemKind.PayloadTooLarge, $"A request with an {IdempotencyOptions.KeyHeaderName} may have a body of at most {_maxRequestBodyBytes} bytes.").ConfigureAwait(false);
            return;
        }

        var scope = _scope(context) ?? throw new InvalidOperationException($"{nameof(IdempotencyOptions)}.{nameof(IdempotencyOptions.ScopeSelector)} returned null.");
        var key = new IdempotencyKey(scope, keys[0]!);
        var reservation = await _store.ReserveAsync(key, fingerprint, context.RequestAborted).ConfigureAwait(false);
        if (reservation.Status == IdempotencyReservationStatus.Reserved)
        {
            await RunAndStoreAsync(context, key, fingerprint).ConfigureAwait(false);
        }
        else if (!string.Equals(reservation.Fingerprint, fingerprint, StringComparison.Ordinal))
        {
            await ProblemResponses.WriteAsync(context, ProblemKind.IdempotencyKeyReused, "This key was first used with another method, path, query or body; use a new key for a new request.").ConfigureAwait(false);
        }
        else if (reservation.Response is { } stored)
        {
            await ReplayAsync(context, stored).ConfigureAwait(false);
        }
        else
        {
            await ProblemResponses.WriteAsync(context, ProblemKind.IdempotencyInProgress, "Retry once the first request with this key has been answered.").ConfigureAwait(false);
        }
    }

    private static async Task ReplayAsync(HttpContext context, IdempotentResponse stored)
    {
        var response = context.Response;
        response.StatusCode = stored.StatusCode;
        foreach (var (name, values) in stored.Headers)
        {
            response.Headers[name] = values;
        }

        response.Headers[IdempotencyOptions.ReplayedHeaderName] = "true";
        if (!stored.Body.IsEmpty)
        {
            response.ContentLength = stored.Body.Length;
            await response.Body.WriteAsync(stored.Body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>The SHA-256 of method, path, query and body; <see langword="null"/> when the body is over the limit.</summary>
    private async Task<string?> FingerprintAsync(HttpRequest request)
    {
        if (request.ContentLength > _maxRequestBodyBytes)
        {
            return null;
        }

        // Buffered (in memory up to 30 KiB, then in a temporary file) so the handler can read the body again.
        request.EnableBuffering();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{request.Method}\n{request.PathBase}{request.Path}{request.QueryString}\n"));
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            long total = 0;
            int read;
            while ((read = await request.Body.ReadAsync(buffer, request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
            {
                total += read;
                if (total > _maxRequestBodyBytes)
                {
                    return null;
                }

                hash.AppendData(buffer, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        request.Body.Position = 0;
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private async Task RunAndStoreAsync(HttpContext context, IdempotencyKey key, string fingerprint)
    {
        var body = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        var stored = false;
        using var capture = new ResponseCapture(body, _maxResponseBodyBytes);
        context.Features.Set<IHttpResponseBodyFeature>(capture);
        try
        {
            await _next(context).ConfigureAwait(false);
            await capture.CompleteWriterAsync().ConfigureAwait(false);
            if (context.Response.StatusCode < 500 && capture.Captured is { } captured)
            {
                var response = new IdempotentResponse
                {
                    Fingerprint = fingerprint,
                    StatusCode = context.Response.StatusCode,
                    Headers = StoredHeaders(context.Response.Headers),
                    Body = captured,
                    ExpiresAt = _time.GetUtcNow() + _retention,
                };

                // The client has its answer already: storing it must not depend on the client still being there.
                await _store.CompleteAsync(key, response, CancellationToken.None).ConfigureAwait(false);
                stored = true;
            }
        }
        finally
        {
            context.Features.Set(body);
            if (!stored)
            {
                await _store.ReleaseAsync(key, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private Dictionary<string, StringValues> StoredHeaders(IHeaderDictionary headers)
    {
        var kept = new Dictionary<string, StringValues>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in _storedHeaders)
        {
            if (headers.TryGetValue(name, out var values) && values.Count > 0)
            {
                kept[name] = values;
            }
        }

        return kept;
    }
}
