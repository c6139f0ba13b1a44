using System.Text;
using Bulwark.Flags;

namespace Bulwark.Core.Tests.Flags;

public sealed class BucketingTests
{
    private const int Subjects = 1_000_000;

    /// <summary>Published MurmurHash3 x86_32 vectors (from the SMHasher reference's verification set).</summary>
    [Theory]
    [InlineData("", 0u, 0u)]
    [InlineData("", 1u, 0x514E28B7u)]
    [InlineData("", 0xFFFFFFFFu, 0x81F16F39u)]
    [InlineData("aaaa", 0x9747B28Cu, 0x5A97808Au)]
    [InlineData("aaa", 0x9747B28Cu, 0x283E0130u)]
    [InlineData("aa", 0x9747B28Cu, 0x5D211726u)]
    [InlineData("a", 0x9747B28Cu, 0x7FA09EA6u)]
    [InlineData("abcd", 0x9747B28Cu, 0xF0478627u)]
    [InlineData("Hello, world!", 0x9747B28Cu, 0x24884CBAu)]
    [InlineData("The quick brown fox jumps over the lazy dog", 0x9747B28Cu, 0x2FA826CDu)]
    public void Murmur3_PublishedVectors_Match(string text, uint seed, uint expected) =>
        Bucketing.Murmur3(Encoding.UTF8.GetBytes(text), seed).ShouldBe(expected);

    [Fact]
    public void Murmur3_FourZeroBytes_MatchesThePublishedVector() =>
        Bucketing.Murmur3(new byte[4], 0).ShouldBe(0x2362F9DEu);

    /// <summary>Unleash's cross-SDK vectors: <c>normalized_hash(group, id, 100, 0)</c> = murmur3("group:id") % 100 + 1.</summary>
    [Theory]
    [InlineData("gr1", "123", 73)]
    [InlineData("groupX", "999", 25)]
    public void Murmur3_UnleashNormalizedHashVectors_Match(string group, string id, int expected) =>
        ((int)(Bucketing.Murmur3(Encoding.UTF8.GetBytes($"{group}:{id}"), 0) % 100) + 1).ShouldBe(expected);

    /// <summary>
    /// The scheme's own vectors, published in docs/flags.md for other SDKs; computed with an independent Python
    /// implementation of murmur3 (checked against the vectors above). A change here would move every rollout.
    /// </summary>
    [Theory]
    [InlineData("password-reset-v2", "user-1", 91526)]
    [InlineData("password-reset-v2", "user-2", 62646)]
    [InlineData("bulk-email", "user-1", 11354)]
    [InlineData("gr1", "123", 21172)]
    [InlineData("checkout", "Zoë", 72707)]
    public void Bucket_SchemeVectors_AreStable(string group, string subject, int expected) =>
        Bucketing.Bucket(group, subject).ShouldBe(expected);

    [Fact]
    public void Bucket_IsTheMurmurOfGroupColonSubjectModulo100000()
    {
        var random = new Random(12345);
        for (var i = 0; i < 1000; i++)
        {
            var subject = "s" + random.Next();
            var expected = (int)(Bucketing.Murmur3(Encoding.UTF8.GetBytes("flag:" + subject), 0) % 100_000);
            Bucketing.Bucket("flag", subject).ShouldBe(expected);
        }
    }

    [Fact]
    public void Bucket_LongSubjectsBeyondTheStackBuffer_HashTheSameWay()
    {
        var subject = new string('x', 5000) + "é";
        Bucketing.Bucket("g", subject).ShouldBe((int)(Bucketing.Murmur3(Encoding.UTF8.GetBytes("g:" + subject), 0) % 100_000));
    }

    [Fact]
    public void Bucket_Allocates_Nothing()
    {
        Bucketing.Bucket("warm", "up");
        var before = GC.GetAllocatedBytesForCurrentThread();
        var sum = 0L;
        for (var i = 0; i < 10_000; i++)
        {
            sum += Bucketing.Bucket("password-reset-v2", "user-42");
        }

        (GC.GetAllocatedBytesForCurrentThread() - before).ShouldBe(0);
        sum.ShouldBeGreaterThan(0);
    }

    [Fact]
    public void Rollout_IsMonotone_WhoeverIsInAtPStaysInAtEveryLargerP()
    {
        var random = new Random(12345);
        for (var i = 0; i < Subjects / 10; i++)
        {
            var bucket = Bucketing.Bucket("flag-a", "user-" + random.Next());
            var p = random.Next(0, Bucketing.Buckets + 1);
            var larger = random.Next(p, Bucketing.Buckets + 1);
            if (Bucketing.IsIn(bucket, p))
            {
                Bucketing.IsIn(bucket, larger).ShouldBeTrue();
            }
        }

        Bucketing.IsIn(0, 0).ShouldBeFalse();
        Bucketing.IsIn(Bucketing.Buckets - 1, Bucketing.Buckets).ShouldBeTrue();
    }

    /// <summary>
    /// 1,000,000 subjects with a fixed seed fall into 100 equal ranges of buckets with a chi-square statistic below the
    /// 0.1% critical value for 99 degrees of freedom (148.23), and every rollout size gets its share.
    /// </summary>
    [Fact]
    public void Bucket_OverAMillionSubjects_IsUniform()
    {
        var random = new Random(20261121);
        var bins = new long[100];
        var atPoint1Percent = 0;
        for (var i = 0; i < Subjects; i++)
        {
            var bucket = Bucketing.Bucket("password-reset-v2", $"user-{random.Next()}-{i}");
            bins[bucket / 1000]++;
            if (Bucketing.IsIn(bucket, 100))
            {
                atPoint1Percent++;
            }
        }

        const double expected = Subjects / 100.0;
        var chiSquare = bins.Sum(observed => (observed - expected) * (observed - expected) / expected);
        chiSquare.ShouldBeLessThan(148.23);

        // 0.1% of a million is 1,000 subjects, binomial sd ≈ 31.6: within five sd.
        atPoint1Percent.ShouldBeInRange(1000 - 158, 1000 + 158);
    }

    [Fact]
    public void Bucket_DifferentGroups_AreIndependent_SameGroupIsShared()
    {
        var random = new Random(777);
        var both = 0;
        for (var i = 0; i < Subjects; i++)
        {
            var subject = $"acct-{random.Next()}-{i}";
            if (Bucketing.IsIn(Bucketing.Bucket("flag-a", subject), 10_000) && Bucketing.IsIn(Bucketing.Bucket("flag-b", subject), 10_000))
            {
                both++;
            }

            if (i < 1000)
            {
                Bucketing.Bucket("shared-group", subject).ShouldBe(Bucketing.Bucket("shared-group", subject));
            }
        }

        // Independent 10% rollouts overlap on 1% of subjects: 10,000 ± 5 sd (sd ≈ 99.5).
        both.ShouldBeInRange(10_000 - 500, 10_000 + 500);
    }

    [Theory]
    [InlineData(0.0, true, 0)]
    [InlineData(0.001, true, 1)]
    [InlineData(5.125, true, 5125)]
    [InlineData(25.0, true, 25_000)]
    [InlineData(100.0, true, 100_000)]
    [InlineData(0.0005, false, 0)]
    [InlineData(-1.0, false, 0)]
    [InlineData(100.001, false, 0)]
    [InlineData(double.NaN, false, 0)]
    public void TryToMillipercent_AcceptsOnlyThousandthsOfAPercentInRange(double percent, bool ok, int expected)
    {
        Bucketing.TryToMillipercent(percent, out var millipercent).ShouldBe(ok);
        millipercent.ShouldBe(expected);
    }
}
