namespace Bulwark.Detection.Anomaly;

/// <summary>Options of the EWMA / z-score detector (<see cref="SeriesDetectors.Ewma"/>).</summary>
public sealed record EwmaDetectorOptions : SeriesDetectorOptions
{
    /// <summary>The smoothing factor α of the mean and variance, in (0, 1); smaller remembers longer.</summary>
    /// <value>0.02 (a memory of about 50 points).</value>
    public double Alpha { get; init; } = 0.02;

    /// <inheritdoc />
    protected override void ValidateModel(List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (!(Alpha is > 0 and < 1))
        {
            errors.Add("alpha must be in (0, 1)");
        }
    }
}

/// <summary>
/// EWMA mean and variance (Finch 2009) of the transformed values: <c>z = (x − μ) / σ</c> is taken before the update, so
/// a point is judged only by the points before it. During warm-up α is at least 1/n so the first estimate is the plain mean.
/// State: three numbers.
/// </summary>
internal sealed class EwmaDetector(EwmaDetectorOptions options) : ISeriesDetector
{
    private double _mean;
    private double _variance;
    private long _count;
    private PeakFilter _peaks;

    public SeriesScore Peek(DateTimeOffset timestamp, double value)
    {
        if (_count < options.WarmUp)
        {
            return new SeriesScore(0, SeriesMath.Inverse(options.Transform, _mean), value, 0, false);
        }

        var z = (SeriesMath.Forward(options.Transform, value) - _mean) / SeriesMath.Deviation(_variance, _mean, options.MinStandardDeviation, options.RelativeStandardDeviationFloor);
        var score = value >= options.MinObserved ? SeriesMath.ScoreOf(z, options.Direction, options.ZAtHalfScore) : 0;
        return new SeriesScore(score, SeriesMath.Inverse(options.Transform, _mean), value, z, true);
    }

    public SeriesScore Score(DateTimeOffset timestamp, double value)
    {
        var modelled = SeriesMath.Forward(options.Transform, value);
        var ready = _count >= options.WarmUp;
        var expected = _mean;
        var z = 0.0;
        if (ready)
        {
            z = (modelled - _mean) / SeriesMath.Deviation(_variance, _mean, options.MinStandardDeviation, options.RelativeStandardDeviationFloor);
        }

        _count++;
        var alpha = Math.Max(options.Alpha, 1.0 / _count);
        var difference = modelled - _mean;
        _mean += alpha * difference;
        _variance = (1 - alpha) * (_variance + (alpha * difference * difference));

        var score = ready && value >= options.MinObserved ? SeriesMath.ScoreOf(z, options.Direction, options.ZAtHalfScore) : 0;
        score = _peaks.Apply(score, timestamp, options.PeakHalfLife);
        return new SeriesScore(score, SeriesMath.Inverse(options.Transform, expected), value, z, ready);
    }
}
