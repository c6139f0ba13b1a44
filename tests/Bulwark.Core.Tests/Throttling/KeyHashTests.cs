using System.Numerics;
using Bulwark.Throttling;

namespace Bulwark.Core.Tests.Throttling;

public sealed class KeyHashTests
{
    [Fact]
    public void Of_DependsOnTheSeedAndTheDomain_AndIsNeverZero()
    {
        var hash = new KeyHash(42);

        hash.Of("198.51.100.7").ShouldBe(new KeyHash(42).Of("198.51.100.7"));
        hash.Of("198.51.100.7").ShouldNotBe(new KeyHash(43).Of("198.51.100.7"));
        hash.Of("198.51.100.7").ShouldNotBe(hash.Of("198.51.100.8"));
        hash.OfBytes([203, 0, 113]).ShouldNotBe(hash.Of("\u00CB\u7100"));
        hash.Of(string.Empty).ShouldNotBe(0UL);
        hash.OfBytes([]).ShouldNotBe(hash.Of(string.Empty));
    }

    [Fact]
    public void Of_TellsApartEveryLengthAndEveryByte()
    {
        // Every prefix of a long key, and every one-character change of each prefix, hashes apart: each length takes
        // its own read pattern (0, 1–3, 4–16 and more than 16 bytes), so each must see every byte it is given.
        var hash = new KeyHash(7);
        var key = new string([.. Enumerable.Range(0, 80).Select(i => (char)('a' + (i % 26)))]);
        var seen = new HashSet<ulong>();
        for (var length = 0; length <= key.Length; length++)
        {
            var prefix = key[..length];
            seen.Add(hash.Of(prefix)).ShouldBeTrue($"length {length}");
            for (var at = 0; at < length; at++)
            {
                var changed = string.Concat(prefix.AsSpan(0, at), "#", prefix.AsSpan(at + 1));
                seen.Add(hash.Of(changed)).ShouldBeTrue($"length {length}, changed at {at}");
            }
        }
    }

    [Fact]
    public void Of_SpreadsSequentialKeysEvenlyOverStripesAndSlots_WithoutCollisions()
    {
        const int keys = 1_000_000;
        var hash = new KeyHash(0x5EED);
        var hashes = new HashSet<ulong>(keys);
        var stripes = new int[64];
        var slots = new int[1024];
        for (var i = 0; i < keys; i++)
        {
            var h = hash.Of($"user-{i:D7}");
            hashes.Add(h).ShouldBeTrue($"user-{i:D7} collides");
            stripes[h >> 58]++;
            slots[h & 1023]++;
        }

        // Chi-square with 63 and 1023 degrees of freedom: far above these bounds has a chance below one in a million
        // for a uniform hash (the 99.9999th percentiles are about 131 and 1,270).
        ChiSquare(stripes, keys).ShouldBeLessThan(131);
        ChiSquare(slots, keys).ShouldBeLessThan(1_270);
    }

    [Fact]
    public void Of_FlipsAboutHalfTheBitsForOneFlippedInputBit()
    {
        var hash = new KeyHash(99);
        var random = new Random(2026);
        long flipped = 0;
        var trials = 0;
        foreach (var length in new[] { 2, 4, 7, 12, 16, 24, 40 })
        {
            for (var sample = 0; sample < 200; sample++)
            {
                var bytes = new byte[length];
                random.NextBytes(bytes);
                var original = hash.OfBytes(bytes);
                for (var bit = 0; bit < length * 8; bit++)
                {
                    bytes[bit / 8] ^= (byte)(1 << (bit % 8));
                    flipped += BitOperations.PopCount(original ^ hash.OfBytes(bytes));
                    bytes[bit / 8] ^= (byte)(1 << (bit % 8));
                    trials++;
                }
            }
        }

        ((double)flipped / trials).ShouldBeInRange(31.5, 32.5);
    }

    private static double ChiSquare(int[] counts, int total)
    {
        var expected = (double)total / counts.Length;
        return counts.Sum(c => (c - expected) * (c - expected) / expected);
    }
}
