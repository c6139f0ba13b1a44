using Microsoft.Extensions.Primitives;

namespace Bulwark.Sdk.AspNetCore.Idempotency;

/// <summary>A stored response, replayed for a repeat of the request that produced it.</summary>
public sealed class IdempotentResponse
{
    /// <summary>
    /// The SHA-256 (lowercase hex) of the request's method, path, query and body; a repeat must have the same one.
    /// </summary>
    public required string Fingerprint { get; init; }

    /// <summary>The status code, below 500.</summary>
    public required int StatusCode { get; init; }

    /// <summary>The stored headers: <c>Content-Type</c>, <c>Location</c> and <see cref="IdempotencyOptions.StoredHeaders"/>, when present.</summary>
    public required IReadOnlyDictionary<string, StringValues> Headers { get; init; }

    /// <summary>The body.</summary>
    public required ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>When the response stops being replayed (stored time plus <see cref="IdempotencyOptions.Retention"/>).</summary>
    public required DateTimeOffset ExpiresAt { get; init; }
}
