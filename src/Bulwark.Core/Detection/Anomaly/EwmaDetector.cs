namespace Bulwark.Detection.Anomaly;

/// <summary>Options of the EWMA / z-score detector (<see cref="SeriesDetectors.Ewma"/>).</summary>
public sealed record EwmaDetectorOptions
{
    /// <summary>The smoothing factor α of the mean and variance, in (0, 1); smaller remembers longer.</summary>
    /// <value>0.02 (a memory of about 50 points).</value>
    public double Alpha { get; init; } = 0.02;

    /// <summary>Points learned before the detector scores anything.</summary>
    /// <value>30.</value>
    public int WarmUp { get; init; } = 30;

    /// <summary>The least observed value (in the series' units) that may be flagged; fewer events are never an anomaly.</summary>
    /// <value>0 (no minimum).</value>
    public double MinObserved { get; init; }

    /// <summary>Floor of the standard deviation, in modelled units, so that a flat series does not turn noise into infinite z-scores.</summary>
    /// <value>1e-6.</value>
    public double MinStandardDeviation { get; init; } = 1e-6;

    /// <summary>Floor of the standard deviation relative to the mean's magnitude.</summary>
    /// <value>0.01.</value>
    public double RelativeStandardDeviationFloor { get; init; } = 0.01;

    /// <summary>The z-score at which the score is 0.5 (score = e / (e + half) for a deviation of e standard deviations).</summary>
    /// <value>6, the seed's rule of thumb for an alert.</value>
    public double ZAtHalfScore { get; init; } = 6;

    /// <summary>
    /// When set, a score is reported only when it beats the decaying peak of the earlier scores (halving every
    /// <see cref="PeakHalfLife"/>); the other points score 0 while their z-score still explains them. One excursion then
    /// raises one alert instead of one per point; a bigger one raises another.
    /// </summary>
    /// <value><see langword="null"/> (every point is scored on its own).</value>
    public TimeSpan? PeakHalfLife { get; init; }

    /// <summary>Which deviations count.</summary>
    /// <value><see cref="AnomalyDirection.Both"/>.</value>
    public AnomalyDirection Direction { get; init; } = AnomalyDirection.Both;

    /// <summary>The transform applied before modelling.</summary>
    /// <value><see cref="SeriesTransform.None"/>.</value>
    public SeriesTransform Transform { get; init; } = SeriesTransform.None;

    /// <summary>Every problem with these options at once.</summary>
    /// <returns>The errors; empty when the options are valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!(Alpha is > 0 and < 1))
        {
            errors.Add("alpha must be in (0, 1)");
        }

        if (WarmUp < 1)
        {
            errors.Add("warm_up must be at least 1");
        }

        if (PeakHalfLife is { } half && half <= TimeSpan.Zero)
        {
            errors.Add("peak_half_life must be positive");
        }

        SeriesDetectors.ValidateCommon(errors, MinObserved, MinStandardDeviation, RelativeStandardDeviationFloor, ZAtHalfScore, Direction, Transform);
        return errors;
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
