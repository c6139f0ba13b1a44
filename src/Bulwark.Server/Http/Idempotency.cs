using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Problems;
using Bulwark.Server.Hosting;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.Extensions.Options;

namespace Bulwark.Server.Http;

/// <summary>
/// <c>Idempotency-Key</c> on mutating calls, keyed per identity. The first request's response (any status below 500)
/// is stored and replayed for the same key with the same method, path and body, with <c>Idempotent-Replayed: true</c>;
/// the same key with another request gets 422, and one still in progress on this node 409. Responses are kept for
/// <see cref="BulwarkServerOptions.IdempotencyRetention"/>.
/// </summary>
internal sealed class Idempotency(RequestDelegate next, IControlStore store, TimeProvider time, IOptions<BulwarkServerOptions> options)
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";
    private static readonly SearchValues<char> Printable = SearchValues.Create(Enumerable.Range(0x21, 0x5e).Select(i => (char)i).ToArray());
    private readonly ConcurrentDictionary<(string Scope, string Key), byte> _inFlight = new();
    private readonly TimeSpan _retention = options.Value.IdempotencyRetention;

    public async Task InvokeAsync(HttpContext context)
    {
        var key = context.Request.Headers[Header].ToString();
        if (key.Length == 0 || HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method) || Caller.Get(context) is not { } caller)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        if (key.Length > 255 || key.AsSpan().ContainsAnyExcept(Printable))
        {
            await ProblemResults.WriteAsync(context, ProblemKind.MalformedRequest, "Idempotency-Key must be 1-255 printable ASCII characters without spaces.").ConfigureAwait(false);
            return;
        }

        var fingerprint = await FingerprintAsync(context.Request).ConfigureAwait(false);
        var slot = (caller.Name, key);
        if (!_inFlight.TryAdd(slot, 0))
        {
            await ProblemResults.WriteAsync(context, ProblemKind.IdempotencyInProgress, "Retry once the first request has been answered.").ConfigureAwait(false);
            return;
        }

        try
        {
            var stored = await store.GetIdempotencyAsync(caller.Name, key, context.RequestAborted).ConfigureAwait(false);
            if (stored is not null && stored.CreatedAt + _retention > time.GetUtcNow())
            {
                if (!string.Equals(stored.Fingerprint, fingerprint, StringComparison.Ordinal))
                {
                    await ProblemResults.WriteAsync(context, ProblemKind.IdempotencyKeyReused, "This key was first used with another method, path or body; use a new key for a new request.").ConfigureAwait(false);
                    return;
                }

                await ReplayAsync(context, stored).ConfigureAwait(false);
                return;
            }

            await RunAndStoreAsync(context, caller.Name, key, fingerprint).ConfigureAwait(false);
        }
        finally
        {
            _inFlight.TryRemove(slot, out _);
        }
    }

    private static async Task<string> FingerprintAsync(HttpRequest request)
    {
        request.EnableBuffering();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{request.Method}\n{request.Path}{request.QueryString}\n"));
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(buffer, request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
            {
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

    private static async Task ReplayAsync(HttpContext context, IdempotencyRecord stored)
    {
        var response = context.Response;
        response.StatusCode = stored.Status;
        response.Headers[ReplayedHeader] = "true";
        response.Headers.CacheControl = "no-store";
        if (stored.ContentType is not null)
        {
            response.ContentType = stored.ContentType;
        }

        if (stored.Location is not null)
        {
            response.Headers.Location = stored.Location;
        }

        response.ContentLength = stored.Body.Length;
        await response.Body.WriteAsync(stored.Body, context.RequestAborted).ConfigureAwait(false);
    }

    private static byte[] WithoutSecrets(byte[] body, string[] fields)
    {
        try
        {
            if (System.Text.Json.Nodes.JsonNode.Parse(body) is System.Text.Json.Nodes.JsonObject answer)
            {
                foreach (var field in fields.Where(answer.ContainsKey))
                {
                    answer[field] = null;
                }

                return Encoding.UTF8.GetBytes(answer.ToJsonString());
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Not a JSON object (an error answer without the secret): nothing to remove.
        }

        return body;
    }

    private async Task RunAndStoreAsync(HttpContext context, string scope, string key, string fingerprint)
    {
        var original = context.Response.Body;
        using var captured = new MemoryStream();
        context.Response.Body = captured;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (ProblemException refusal)
        {
            // A refusal is an answer like any other: captured here so that it is stored and replayed.
            await ProblemResults.WriteAsync(context, refusal.Kind, refusal.Message).ConfigureAwait(false);
        }
        finally
        {
            context.Response.Body = original;
        }

        var body = captured.ToArray();
        if (context.Response.StatusCode < 500)
        {
            var secrets = context.GetEndpoint()?.Metadata.GetMetadata<SecretResponseFields>();
            var record = new IdempotencyRecord
            {
                Scope = scope,
                Key = key,
                Fingerprint = fingerprint,
                Status = context.Response.StatusCode,
                ContentType = context.Response.ContentType,
                Location = context.Response.Headers.Location.Count > 0 ? context.Response.Headers.Location.ToString() : null,
                Body = secrets is null ? body : WithoutSecrets(body, secrets.Fields),
                CreatedAt = time.GetUtcNow(),
            };
            await store.WriteAsync(tx => { tx.PutIdempotency(record); return true; }, CancellationToken.None).ConfigureAwait(false);
        }

        await original.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }
}
