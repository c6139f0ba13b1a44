using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Bulwark.Detection.Anomaly;

namespace Bulwark.Benchmarks;

/// <summary>
/// Scoring one point of a per-key rate series: the EWMA detector (baseline) against the seasonal detector with 24 and
/// 96 slots a day, over 10,000 keys so that per-key state is read from memory as it would be in the server. Times are
/// per point; allocations should be zero.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class SeriesDetectorBenchmarks
{
    private const int Keys = 10_000;
    private const int PointsPerInvoke = 10_000;

    private ISeriesDetector[] _ewma = null!;
    private ISeriesDetector[] _seasonal = null!;
    private ISeriesDetector[] _seasonal96 = null!;
    private double[] _values = null!;
    private DateTimeOffset _time;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        _values = [.. Enumerable.Range(0, PointsPerInvoke).Select(_ => 50 + (random.NextDouble() * 20))];
        _ewma = [.. Enumerable.Range(0, Keys).Select(_ => SeriesDetectors.Ewma())];
        _seasonal = [.. Enumerable.Range(0, Keys).Select(_ => SeriesDetectors.Seasonal())];
        _seasonal96 = [.. Enumerable.Range(0, Keys).Select(_ => SeriesDetectors.Seasonal(NabEvaluation.TunedSeasonalOptions))];
        _time = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = PointsPerInvoke)]
    public double Ewma() => Run(_ewma);

    [Benchmark(OperationsPerInvoke = PointsPerInvoke)]
    public double Seasonal24() => Run(_seasonal);

    [Benchmark(OperationsPerInvoke = PointsPerInvoke)]
    public double Seasonal96() => Run(_seasonal96);

    private double Run(ISeriesDetector[] detectors)
    {
        var sum = 0.0;
        _time += TimeSpan.FromMinutes(1);
        for (var i = 0; i < PointsPerInvoke; i++)
        {
            sum += detectors[(i * 7919) % Keys].Score(_time, _values[i]).Score;
        }

        return sum;
    }
}
