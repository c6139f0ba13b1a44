using System.Buffers.Binary;
using Bulwark.Identity;

namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>
/// Public ids of the ingest store, ULID-like: a prefix, then 26 characters of Crockford base32 (lower case) holding
/// 48 bits of Unix milliseconds and 80 random bits, so ids sort by the time they were made.
/// </summary>
internal static class IngestIds
{
    public const string SnapshotPrefix = "raw_";
    public const string QuarantinePrefix = "q_";
    public const int Length = 26;

    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    public static string New(string prefix, DateTimeOffset at, IRandomSource random)
    {
        // 128 bits: 48 of time, 80 of randomness; 26 base32 digits hold 130 bits, the top two are zero.
        Span<byte> bytes = stackalloc byte[16];
        WriteTime(bytes, at.ToUnixTimeMilliseconds());
        random.Fill(bytes[6..]);
        return Encode(prefix, bytes);
    }

    /// <summary>
    /// The least id made at <paramref name="unixMillis"/> or later (its random bits all zero): every id made before that
    /// millisecond sorts below it, every id made in it or after at or above it. Times before 1970 are all written as
    /// 1970 (the clamp in <see cref="New"/>), so below that this order does not hold; no clock gives them.
    /// </summary>
    public static string Lowest(string prefix, long unixMillis)
    {
        Span<byte> bytes = stackalloc byte[16];
        WriteTime(bytes, unixMillis);
        return Encode(prefix, bytes);
    }

    private static void WriteTime(Span<byte> bytes, long unixMillis)
    {
        var millis = (ulong)Math.Clamp(unixMillis, 0, (1L << 48) - 1);
        for (var i = 5; i >= 0; i--)
        {
            bytes[i] = (byte)millis;
            millis >>= 8;
        }
    }

    private static string Encode(string prefix, ReadOnlySpan<byte> bytes)
    {
        var value = new UInt128(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
        return string.Create(prefix.Length + Length, (prefix, value), static (chars, state) =>
        {
            state.prefix.AsSpan().CopyTo(chars);
            var digits = chars[state.prefix.Length..];
            var remaining = state.value;
            for (var i = Length - 1; i >= 0; i--)
            {
                digits[i] = Alphabet[(int)(remaining & 31)];
                remaining >>= 5;
            }
        });
    }
}
