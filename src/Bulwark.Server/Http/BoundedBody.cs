using System.Buffers;

namespace Bulwark.Server.Http;

/// <summary>
/// Reads a request body into memory up to a limit, without ever buffering more than the limit and one byte. The pooled
/// buffers are wiped before they go back: bodies carry personal data, and the pool hands buffers to any code.
/// </summary>
internal static class BoundedBody
{
    /// <summary>Reads the body, or null when it is longer than <paramref name="limit"/> (stops reading there).</summary>
    public static async Task<byte[]?> ReadAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        var initial = request.ContentLength is { } length and >= 0 ? (int)Math.Min(length, limit) : Math.Min(16 * 1024, limit);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initial, 256));
        var count = 0;
        try
        {
            while (true)
            {
                if (count == buffer.Length)
                {
                    if (buffer.Length > limit)
                    {
                        return null;
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, (long)limit + 1));
                    buffer.AsSpan(0, count).CopyTo(larger);
                    buffer.AsSpan(0, count).Clear();
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(count, Math.Min(buffer.Length, limit + 1) - count), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return buffer.AsSpan(0, count).ToArray();
                }

                count += read;
                if (count > limit)
                {
                    return null;
                }
            }
        }
        finally
        {
            buffer.AsSpan(0, count).Clear();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
