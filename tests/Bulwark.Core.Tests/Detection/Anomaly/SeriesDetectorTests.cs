using Bulwark.Detection.Anomaly;

namespace Bulwark.Core.Tests.Detection.Anomaly;

public sealed class SeriesDetectorTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Step = TimeSpan.FromMinutes(5);

    public static TheoryData<string> Kinds() => ["ewma", "seasonal"];

    private static ISeriesDetector Create(string kind, TimeSpan? peakHalfLife = null, double minObserved = 0, AnomalyDirection direction = AnomalyDirection.Both) => kind switch
    {
        "ewma" => SeriesDetectors.Ewma(new EwmaDetectorOptions { PeakHalfLife = peakHalfLife, MinObserved = minObserved, Direction = direction }),
        _ => SeriesDetectors.Seasonal(new SeasonalDetectorOptions { PeakHalfLife = peakHalfLife, MinObserved = minObserved, Direction = direction }),
    };

    /// <summary>Gaussian noise around <paramref name="mean"/> (Box-Muller on a seeded generator).</summary>
    private static double Noise(Random random, double mean, double deviation) =>
        mean + (deviation * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));

    /// <summary>Feeds <paramref name="points"/> noisy points (two days for the seasonal model to see every slot twice); returns the highest score.</summary>
    private static double Feed(ISeriesDetector sut, Random random, int points, ref DateTimeOffset time, double mean = 100, double deviation = 5)
    {
        var max = 0.0;
        for (var i = 0; i < points; i++, time += Step)
        {
            max = Math.Max(max, sut.Score(time, Noise(random, mean, deviation)).Score);
        }

        return max;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Score_StaysQuietOnNoise_AndFlagsASpikeWithItsExplanation(string kind)
    {
        var sut = Create(kind);
        var random = new Random(6);
        var time = Start;
        Feed(sut, random, 600, ref time);

        var quiet = Feed(sut, random, 2000, ref time);
        var spike = sut.Score(time, 200);

        quiet.ShouldBeLessThan(0.5);
        spike.Score.ShouldBeGreaterThan(0.5);
        spike.Observed.ShouldBe(200);
        spike.Expected.ShouldBe(100, 5);
        spike.ZScore.ShouldBeGreaterThan(6);
        spike.Ready.ShouldBeTrue();
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Score_FlagsTheStartOfAStep_AndWithAPeakHalfLifeOnlyItsStart(string kind)
    {
        var plain = Create(kind);
        var once = Create(kind, peakHalfLife: TimeSpan.FromDays(7));
        var random = new Random(7);
        var time = Start;
        for (var i = 0; i < 2600; i++, time += Step)
        {
            var value = Noise(random, 100, 5);
            plain.Score(time, value);
            once.Score(time, value);
        }

        var plainScores = new List<double>();
        var onceScores = new List<double>();
        for (var i = 0; i < 12; i++, time += Step)
        {
            var value = Noise(random, 180, 5);
            plainScores.Add(plain.Score(time, value).Score);
            onceScores.Add(once.Score(time, value).Score);
        }

        plainScores[0].ShouldBeGreaterThan(0.5);
        plainScores.Skip(1).Count(s => s > 0.1).ShouldBeGreaterThan(3);
        onceScores[0].ShouldBe(plainScores[0]);
        onceScores.Skip(1).ShouldAllBe(s => s == 0);
    }

    [Fact]
    public void Seasonal_FlagsAValueNormalForTheDayButWrongForTheHour_WhereEwmaCannot()
    {
        var seasonal = SeriesDetectors.Seasonal();
        var ewma = SeriesDetectors.Ewma();
        var random = new Random(8);
        var time = Start;
        double Daily(DateTimeOffset t) => 100 + (60 * Math.Sin(2 * Math.PI * t.TimeOfDay.TotalDays));
        var quietSeasonal = 0.0;
        for (var i = 0; i < 288 * 10; i++, time += Step)
        {
            var value = Noise(random, Daily(time), 3);
            var score = seasonal.Score(time, value).Score;
            ewma.Score(time, value);
            if (i >= 288 * 3)
            {
                quietSeasonal = Math.Max(quietSeasonal, score);
            }
        }

        // Midnight of day 11 plus 18 h is the trough (about 40); the peak's value there is an anomaly only for the hour.
        while (time.TimeOfDay != TimeSpan.FromHours(18))
        {
            var value = Noise(random, Daily(time), 3);
            seasonal.Score(time, value);
            ewma.Score(time, value);
            time += Step;
        }

        var atSeasonal = seasonal.Score(time, 160);
        var atEwma = ewma.Score(time, 160);

        quietSeasonal.ShouldBeLessThan(0.5);
        atSeasonal.Score.ShouldBeGreaterThan(0.5);
        atSeasonal.Expected.ShouldBe(40, 10);
        atEwma.Score.ShouldBeLessThan(0.5);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Score_IsZeroDuringWarmUp_AndBelowTheMinimumObserved(string kind)
    {
        var sut = Create(kind, minObserved: 50);
        var time = Start;
        var first = sut.Score(time, 10);
        (first.Score, first.Ready).ShouldBe((0.0, false));
        for (var i = 0; i < 600; i++)
        {
            time += Step;
            sut.Score(time, 10 + (i % 2));
        }

        time += Step;
        var belowMinimum = sut.Score(time, 40);

        belowMinimum.Ready.ShouldBeTrue();
        belowMinimum.ZScore.ShouldBeGreaterThan(6);
        belowMinimum.Score.ShouldBe(0);
        sut.Score(time + Step, 80).Score.ShouldBeGreaterThan(0.5);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Score_WithDirectionUp_IgnoresDrops(string kind)
    {
        var sut = Create(kind, direction: AnomalyDirection.Up);
        var random = new Random(9);
        var time = Start;
        Feed(sut, random, 600, ref time);

        var drop = sut.Score(time, 0);

        drop.ZScore.ShouldBeLessThan(-6);
        drop.Score.ShouldBe(0);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Score_AllocatesNothingPerPoint(string kind)
    {
        var sut = Create(kind, peakHalfLife: TimeSpan.FromDays(1));
        var random = new Random(10);
        var time = Start;
        Feed(sut, random, 100, ref time);

        var before = GC.GetAllocatedBytesForCurrentThread();
        Feed(sut, random, 10_000, ref time);

        (GC.GetAllocatedBytesForCurrentThread() - before).ShouldBe(0);
    }

    [Fact]
    public void Create_PerKeyStateIsSmall()
    {
        var ewmaOptions = new EwmaDetectorOptions();
        var seasonalOptions = new SeasonalDetectorOptions();
        long Bytes(Func<ISeriesDetector> create)
        {
            create();
            var before = GC.GetAllocatedBytesForCurrentThread();
            GC.KeepAlive(create());
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        // EWMA: three numbers and the peak filter. Seasonal: the same plus one double and one byte per slot (two arrays).
        Bytes(() => SeriesDetectors.Ewma(ewmaOptions)).ShouldBeLessThanOrEqualTo(96);
        Bytes(() => SeriesDetectors.Seasonal(seasonalOptions)).ShouldBeLessThanOrEqualTo(160 + (24 * 9) + 96);
    }

    [Fact]
    public void Validate_ReportsEveryErrorAtOnce()
    {
        var errors = new SeasonalDetectorOptions { Slots = 7, LevelAlpha = 0, WarmUp = 0, ZAtHalfScore = -1, PeakHalfLife = TimeSpan.Zero }.Validate();

        errors.ShouldBe(["period must divide into whole slots", "level_alpha must be in (0, 1)", "warm_up must be at least 1", "peak_half_life must be positive", "z_at_half_score must be positive"]);
        Should.Throw<ArgumentException>(() => SeriesDetectors.Ewma(new EwmaDetectorOptions { Alpha = 1 })).Message.ShouldContain("alpha must be in (0, 1)");
    }
}
