namespace Bulwark.Detection.Anomaly;

/// <summary>The options every series detector shares: warm-up, the floors of its deviation, how a z-score maps to a score.</summary>
public abstract record SeriesDetectorOptions
{
    /// <summary>Points learned before the detector scores anything.</summary>
    /// <value>30.</value>
    public int WarmUp { get; init; } = 30;

    /// <summary>The least observed value (in the series' units) that may be flagged; fewer events are never an anomaly.</summary>
    /// <value>0 (no minimum).</value>
    public double MinObserved { get; init; }

    /// <summary>Floor of the standard deviation, in modelled units, so that a flat series does not turn noise into infinite z-scores.</summary>
    /// <value>1e-6.</value>
    public double MinStandardDeviation { get; init; } = 1e-6;

    /// <summary>Floor of the standard deviation relative to the expected value's magnitude.</summary>
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
        ValidateModel(errors);
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

    /// <summary>Adds the problems with the model's own options.</summary>
    /// <param name="errors">Where to add them.</param>
    protected abstract void ValidateModel(List<string> errors);
}
