using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Bulwark.Throttling;

/// <summary>
/// A seeded 64-bit hash of a throttle key (xxHash64-style mixing with a murmur3 finalizer). Tables store the hash, not
/// the key, so a tracked key costs 16 bytes of table however long it is. Two keys with the same hash share one bucket:
/// each is then admitted less, never more, than its own bucket allows; with 64 bits that takes about four billion keys
/// for an even chance. The seed is random per table, so nobody can pick keys that pile onto one slot.
/// </summary>
public readonly struct KeyHash
{
    private const ulong Prime1 = 0x9E3779B185EBCA87;
    private const ulong Prime2 = 0xC2B2AE3D27D4EB4F;
    private const ulong Prime3 = 0x165667B19E3779F9;
    private readonly ulong _seed;

    /// <summary>A hash with this seed.</summary>
    /// <param name="seed">The seed.</param>
    public KeyHash(ulong seed) => _seed = seed;

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
    public ulong Of(ReadOnlySpan<char> key) => Of(MemoryMarshal.AsBytes(key), 0);

    /// <summary>Hashes raw bytes (an address prefix), in a domain apart from character keys.</summary>
    /// <param name="bytes">The bytes.</param>
    /// <returns>The hash; never 0.</returns>
    public ulong OfBytes(ReadOnlySpan<byte> bytes) => Of(bytes, Prime3);

    private ulong Of(ReadOnlySpan<byte> bytes, ulong domain)
    {
        var hash = (_seed ^ domain) + Prime3 + ((ulong)bytes.Length * Prime1);
        while (bytes.Length >= 8)
        {
            hash ^= Round(BinaryPrimitives.ReadUInt64LittleEndian(bytes));
            hash = (BitOperations.RotateLeft(hash, 27) * Prime1) + Prime3;
            bytes = bytes[8..];
        }

        if (!bytes.IsEmpty)
        {
            Span<byte> tail = stackalloc byte[8];
            tail.Clear();
            bytes.CopyTo(tail);
            hash ^= Round(BinaryPrimitives.ReadUInt64LittleEndian(tail));
            hash = (BitOperations.RotateLeft(hash, 27) * Prime1) + Prime3;
        }

        hash ^= hash >> 33;
        hash *= 0xFF51AFD7ED558CCD;
        hash ^= hash >> 33;
        hash *= 0xC4CEB9FE1A85EC53;
        hash ^= hash >> 33;
        return hash == 0 ? 1 : hash;
    }

    private static ulong Round(ulong input) => BitOperations.RotateLeft(input * Prime2, 31) * Prime1;
}
