using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Bulwark.Throttling;

/// <summary>
/// A seeded 64-bit hash of a throttle key, built like wyhash (Wang Yi): 16 bytes at a time folded with a 64×64→128-bit
/// multiply whose halves are xored, so that a 12-character key costs three multiplies (about a third of the time of
/// the xxHash64-style rounds used before). Tables store the hash, not the
/// key, so a tracked key costs 16 bytes of table however long it is. Two keys with the same hash share one bucket: each
/// is then admitted less, never more, than its own bucket allows; with 64 bits that takes about four billion keys for an
/// even chance. The seed is random per table, so nobody can pick keys that pile onto one slot.
/// </summary>
public readonly struct KeyHash
{
    private const ulong Secret0 = 0xA0761D6478BD642F;
    private const ulong Secret1 = 0xE7037ED1A0B428DB;
    private const ulong BytesDomain = 0x589965CC75374CC3;
    private readonly ulong _seed;

    /// <summary>A hash with this seed.</summary>
    /// <param name="seed">The seed.</param>
    public KeyHash(ulong seed) => _seed = Mix(seed ^ Secret0, Secret1);

    /// <summary>A hash with a random seed.</summary>
    /// <returns>The hash.</returns>
    public static KeyHash Random()
    {
        Span<byte> seed = stackalloc byte[8];
        System.Security.Cryptography.RandomNumberGenerator.Fill(seed);
        return new KeyHash(BinaryPrimitives.ReadUInt64LittleEndian(seed));
    }

    /// <summary>Hashes a key's characters.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The hash; never 0 (tables use 0 for an empty slot).</returns>
    public ulong Of(ReadOnlySpan<char> key) => Of(MemoryMarshal.AsBytes(key), _seed);

    /// <summary>Hashes raw bytes (an address prefix), in a domain apart from character keys.</summary>
    /// <param name="bytes">The bytes.</param>
    /// <returns>The hash; never 0.</returns>
    public ulong OfBytes(ReadOnlySpan<byte> bytes) => Of(bytes, _seed ^ BytesDomain);

    private static ulong Of(ReadOnlySpan<byte> bytes, ulong seed)
    {
        var length = bytes.Length;
        ulong a, b;
        if (length <= 16)
        {
            if (length >= 4)
            {
                // Two overlapping reads of 4 bytes from each end cover 4 to 16 bytes.
                var quarter = (length >> 3) << 2;
                a = ((ulong)Read32(bytes) << 32) | Read32(bytes[quarter..]);
                b = ((ulong)Read32(bytes[(length - 4)..]) << 32) | Read32(bytes[(length - 4 - quarter)..]);
            }
            else if (length > 0)
            {
                a = ((ulong)bytes[0] << 16) | ((ulong)bytes[length >> 1] << 8) | bytes[length - 1];
                b = 0;
            }
            else
            {
                a = b = 0;
            }
        }
        else
        {
            var rest = bytes;
            while (rest.Length > 16)
            {
                seed = Mix(Read64(rest) ^ seed ^ Secret1, Read64(rest[8..]) ^ seed);
                rest = rest[16..];
            }

            // The last 16 bytes (overlapping what was folded when the length is not a multiple of 16).
            a = Read64(bytes[(length - 16)..]);
            b = Read64(bytes[(length - 8)..]);
        }

        // Both factors carry the seed: no input that is known without it zeroes a product (wyhash xors one of them
        // with a constant only, so an input equal to that constant erases everything before it).
        var high = Math.BigMul(a ^ seed ^ Secret1, b ^ seed, out var low);
        var hash = Mix(low ^ Secret0 ^ (ulong)length, high ^ Secret1);
        return hash == 0 ? 1 : hash;
    }

    /// <summary>The two halves of the 128-bit product, xored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong a, ulong b)
    {
        var high = Math.BigMul(a, b, out var low);
        return high ^ low;
    }

    private static ulong Read64(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadUInt64LittleEndian(bytes);

    private static uint Read32(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadUInt32LittleEndian(bytes);
}
