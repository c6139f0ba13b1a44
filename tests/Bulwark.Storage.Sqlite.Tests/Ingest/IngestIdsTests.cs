using Bulwark.Identity;
using Bulwark.Storage.Sqlite.Ingest;

namespace Bulwark.StorageSqlite.Tests.Ingest;

public sealed class IngestIdsTests
{
    private sealed class FixedRandom(byte value) : IRandomSource
    {
        public void Fill(Span<byte> destination) => destination.Fill(value);
    }

    [Fact]
    public void New_AnyTimeAndRandomness_IsThePrefixAnd26LowerCaseCrockfordDigits()
    {
        var at = new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);

        var id = IngestIds.New(IngestIds.SnapshotPrefix, at, SystemRandomSource.Instance);

        id.ShouldStartWith("raw_");
        id.Length.ShouldBe(4 + IngestIds.Length);
        id[4..].ShouldAllBe(c => "0123456789abcdefghjkmnpqrstvwxyz".Contains(c, StringComparison.Ordinal));
        IngestIds.New(IngestIds.QuarantinePrefix, at, SystemRandomSource.Instance).ShouldStartWith("q_");
    }

    [Fact]
    public void New_LaterMillisecond_SortsAfterWhateverTheRandomness()
    {
        var at = new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);
        var ids = Enumerable.Range(0, 1000)
            .Select(i => IngestIds.New("raw_", at.AddMilliseconds(i), new FixedRandom((byte)(255 - (i % 256)))))
            .ToList();

        ids.ShouldBe(ids.Order(StringComparer.Ordinal));
        ids.Distinct().Count().ShouldBe(1000);
    }

    [Fact]
    public void New_SameTimeAndRandomness_IsTheSameIdAndEncodesTheTimeFirst()
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1);

        IngestIds.New("q_", at, new FixedRandom(0)).ShouldBe("q_" + "0000000001" + new string('0', 16));
        IngestIds.New("q_", at, new FixedRandom(0xff)).ShouldBe("q_" + "0000000001" + new string('z', 16));
    }
}
