namespace Bulwark.Detection.Anomaly;

/// <summary>Options of the seasonal detector (<see cref="SeriesDetectors.Seasonal"/>).</summary>
public sealed record SeasonalDetectorOptions : SeriesDetectorOptions
{
    /// <summary>The season's length: a day for daily profiles, a week for hour-of-week profiles.</summary>
    /// <value>One day.</value>
    public TimeSpan Period { get; init; } = TimeSpan.FromDays(1);

    /// <summary>Slots per period; each slot learns its own offset from the level (24 slots of a day are hours).</summary>
    /// <value>24.</value>
    public int Slots { get; init; } = 24;

    /// <summary>Smoothing of the level, in (0, 1).</summary>
    /// <value>0.05.</value>
    public double LevelAlpha { get; init; } = 0.05;

    /// <summary>Smoothing of a slot's seasonal offset each time the slot is seen, in (0, 1).</summary>
    /// <value>0.1.</value>
    public double SeasonalGamma { get; init; } = 0.1;

    /// <summary>Smoothing of the residual variance, in (0, 1).</summary>
    /// <value>0.02.</value>
    public double VarianceAlpha { get; init; } = 0.02;

    /// <summary>Times a slot must have been seen before points in it are scored.</summary>
    /// <value>2.</value>
    public int MinSlotObservations { get; init; } = 2;

    /// <inheritdoc />
    protected override void ValidateModel(List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (Period <= TimeSpan.Zero)
        {
            errors.Add("period must be positive");
        }

        if (Slots is < 1 or > 10_080)
        {
            errors.Add("slots must be between 1 and 10080");
        }
        else if (Period > TimeSpan.Zero && Period.Ticks % Slots != 0)
        {
            errors.Add("period must divide into whole slots");
        }

        foreach (var (name, value) in new[] { ("level_alpha", LevelAlpha), ("seasonal_gamma", SeasonalGamma), ("variance_alpha", VarianceAlpha) })
        {
            if (!(value is > 0 and < 1))
            {
                errors.Add($"{name} must be in (0, 1)");
            }
        }

        if (MinSlotObservations is < 1 or > 255)
        {
            errors.Add("min_slot_observations must be between 1 and 255");
        }
    }
}

/// <summary>
/// Additive Holt-Winters without trend whose season is indexed by the timestamp (slot = time of period), not by the
/// point's position, so gaps and irregular sampling do not shift the season: expected = level + offset[slot]; the
/// residual's variance is an EWMA; z is taken before the update. State: three numbers plus one offset and one
/// observation counter per slot.
/// </summary>
internal sealed class SeasonalDetector : ISeriesDetector
{
    private readonly SeasonalDetectorOptions _options;
    private readonly long _slotTicks;
    private readonly double[] _offsets;
    private readonly byte[] _seen;
    private double _level;
    private double _variance;
    private long _count;
    private PeakFilter _peaks;
    private long _residuals;

    public SeasonalDetector(SeasonalDetectorOptions options)
    {
        _options = options;
        _slotTicks = options.Period.Ticks / options.Slots;
        _offsets = new double[options.Slots];
        _seen = new byte[options.Slots];
    }

    public SeriesScore Peek(DateTimeOffset timestamp, double value)
    {
        var slot = (int)((timestamp.UtcTicks % _options.Period.Ticks) / _slotTicks);
        var seen = _seen[slot];
        if (_count == 0 || seen == 0 || _count + 1 <= _options.WarmUp || seen < _options.MinSlotObservations || _residuals == 0)
        {
            return new SeriesScore(0, value, value, 0, false);
        }

        var expected = _level + _offsets[slot];
        var z = (SeriesMath.Forward(_options.Transform, value) - expected) / SeriesMath.Deviation(_variance, expected, _options.MinStandardDeviation, _options.RelativeStandardDeviationFloor);
        var score = value >= _options.MinObserved ? SeriesMath.ScoreOf(z, _options.Direction, _options.ZAtHalfScore) : 0;
        return new SeriesScore(score, SeriesMath.Inverse(_options.Transform, expected), value, z, true);
    }

    public SeriesScore Score(DateTimeOffset timestamp, double value)
    {
        var modelled = SeriesMath.Forward(_options.Transform, value);
        var slot = (int)((timestamp.UtcTicks % _options.Period.Ticks) / _slotTicks);
        if (_count == 0)
        {
            _level = modelled;
        }

        _count++;
        var seen = _seen[slot];
        if (seen == 0)
        {
            // A slot's first point sets its offset; the level learns only from slots whose offset is known.
            _offsets[slot] = modelled - _level;
            _seen[slot] = 1;
            return new SeriesScore(0, value, value, 0, false);
        }

        var expected = _level + _offsets[slot];
        var residual = modelled - expected;
        var ready = _count > _options.WarmUp && seen >= _options.MinSlotObservations && _residuals > 0;
        var z = ready ? residual / SeriesMath.Deviation(_variance, expected, _options.MinStandardDeviation, _options.RelativeStandardDeviationFloor) : 0;

        _residuals++;
        var varianceAlpha = Math.Max(_options.VarianceAlpha, 1.0 / _residuals);
        _variance = (1 - varianceAlpha) * (_variance + (varianceAlpha * residual * residual));
        _level += _options.LevelAlpha * (modelled - _offsets[slot] - _level);
        _offsets[slot] += _options.SeasonalGamma * (modelled - _level - _offsets[slot]);
        if (seen < byte.MaxValue)
        {
            _seen[slot] = (byte)(seen + 1);
        }

        var score = ready && value >= _options.MinObserved ? SeriesMath.ScoreOf(z, _options.Direction, _options.ZAtHalfScore) : 0;
        score = _peaks.Apply(score, timestamp, _options.PeakHalfLife);
        return new SeriesScore(score, SeriesMath.Inverse(_options.Transform, expected), value, z, ready);
    }
}
