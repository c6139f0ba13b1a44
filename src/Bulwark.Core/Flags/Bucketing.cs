using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Bulwark.Flags;

/// <summary>
/// Deterministic percentage bucketing, scheme <c>bulwark-bucket-v1</c>: a subject's bucket for a flag is
/// <c>murmur3_x86_32(UTF-8("{group}:{subject}"), seed 0) mod 100000</c>, a number in 0..99,999, where
/// <c>group</c> is the flag's bucketing group (its key unless several flags share a group). A subject is in a rollout of
/// <c>p</c> percent when its bucket is below <c>p × 1000</c>, so resolution is 0.001% and rollouts are monotone: whoever
/// is in at 1% stays in at 5%. The hash is Unleash's (same input format and seed), so Unleash's cross-SDK vectors check
/// it; the modulus is finer. Test vectors are in <c>docs/flags.md</c>. Evaluation allocates nothing.
/// </summary>
public static class Bucketing
{
    /// <summary>The scheme's name, recorded in snapshots so that a future scheme can never be mixed with this one.</summary>
    public const string Scheme = "bulwark-bucket-v1";

    /// <summary>The number of buckets: 100,000, i.e. 0.001% each.</summary>
    public const int Buckets = 100_000;

    /// <summary>Buckets per percent.</summary>
    public const int BucketsPerPercent = Buckets / 100;

    private const int StackLimit = 256;

    /// <summary>The bucket of <paramref name="subject"/> in <paramref name="group"/>.</summary>
    /// <param name="group">The bucketing group (by default the flag key).</param>
    /// <param name="subject">The stickiness value (by default the targeting key).</param>
    /// <returns>A bucket in 0..99,999.</returns>
    public static int Bucket(string group, string subject)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(subject);
        var length = Encoding.UTF8.GetByteCount(group) + 1 + Encoding.UTF8.GetByteCount(subject);
        byte[]? rented = null;
        var buffer = length <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            var written = Encoding.UTF8.GetBytes(group, buffer);
            buffer[written++] = (byte)':';
            written += Encoding.UTF8.GetBytes(subject, buffer[written..]);
            return (int)(Murmur3(buffer[..written], 0) % Buckets);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Whether a bucket falls inside a rollout of <paramref name="millipercent"/> thousandths of a percent.</summary>
    /// <param name="bucket">A bucket from <see cref="Bucket"/>.</param>
    /// <param name="millipercent">The rollout in 0.001% steps: 0 (nobody) to 100,000 (everybody).</param>
    /// <returns><see langword="true"/> when the subject is in.</returns>
    public static bool IsIn(int bucket, int millipercent) => bucket < millipercent;

    /// <summary>Converts a percentage such as 5.125 to 0.001% steps, refusing finer values.</summary>
    /// <param name="percent">The percentage, 0 to 100.</param>
    /// <param name="millipercent">The rollout in 0.001% steps.</param>
    /// <returns>Whether <paramref name="percent"/> is in range and a multiple of 0.001.</returns>
    public static bool TryToMillipercent(double percent, out int millipercent)
    {
        millipercent = 0;
        if (double.IsNaN(percent) || percent < 0 || percent > 100)
        {
            return false;
        }

        var scaled = percent * BucketsPerPercent;
        var rounded = Math.Round(scaled);
        if (Math.Abs(scaled - rounded) > 1e-6)
        {
            return false;
        }

        millipercent = (int)rounded;
        return true;
    }

    /// <summary>MurmurHash3 x86 32-bit (Austin Appleby's reference), over <paramref name="data"/>.</summary>
    /// <param name="data">The bytes.</param>
    /// <param name="seed">The seed.</param>
    /// <returns>The 32-bit hash.</returns>
    public static uint Murmur3(ReadOnlySpan<byte> data, uint seed)
    {
        const uint c1 = 0xcc9e2d51;
        const uint c2 = 0x1b873593;
        var h1 = seed;
        var blocks = data.Length / 4;
        for (var i = 0; i < blocks; i++)
        {
            var k1 = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(i * 4, 4));
            k1 *= c1;
            k1 = BitOperations.RotateLeft(k1, 15);
            k1 *= c2;
            h1 ^= k1;
            h1 = BitOperations.RotateLeft(h1, 13);
            h1 = (h1 * 5) + 0xe6546b64;
        }

        var tail = data[(blocks * 4)..];
        uint k = 0;
        switch (tail.Length)
        {
            case 3:
                k ^= (uint)tail[2] << 16;
                goto case 2;
            case 2:
                k ^= (uint)tail[1] << 8;
                goto case 1;
            case 1:
                k ^= tail[0];
                k *= c1;
                k = BitOperations.RotateLeft(k, 15);
                k *= c2;
                h1 ^= k;
                break;
        }

        h1 ^= (uint)data.Length;
        h1 ^= h1 >> 16;
        h1 *= 0x85ebca6b;
        h1 ^= h1 >> 13;
        h1 *= 0xc2b2ae35;
        h1 ^= h1 >> 16;
        return h1;
    }
}
