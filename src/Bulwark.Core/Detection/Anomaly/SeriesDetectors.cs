namespace Bulwark.Detection.Anomaly;

/// <summary>Creates streaming series detectors, one instance per key.</summary>
public static class SeriesDetectors
{
    /// <summary>An EWMA / z-score detector: expected = the exponentially weighted mean of the earlier points.</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <returns>A fresh detector with no state.</returns>
    /// <exception cref="ArgumentException">The options are invalid (every error is listed).</exception>
    public static ISeriesDetector Ewma(EwmaDetectorOptions? options = null)
    {
        options ??= new EwmaDetectorOptions();
        var errors = options.Validate();
        return errors.Count == 0 ? new EwmaDetector(options) : throw new ArgumentException(string.Join("; ", errors), nameof(options));
    }

    /// <summary>A seasonal detector: expected = level + the learned offset of the point's time-of-period slot (Holt-Winters).</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <returns>A fresh detector with no state.</returns>
    /// <exception cref="ArgumentException">The options are invalid (every error is listed).</exception>
    public static ISeriesDetector Seasonal(SeasonalDetectorOptions? options = null)
    {
        options ??= new SeasonalDetectorOptions();
        var errors = options.Validate();
        return errors.Count == 0 ? new SeasonalDetector(options) : throw new ArgumentException(string.Join("; ", errors), nameof(options));
    }

    internal static void ValidateCommon(
        List<string> errors, double minObserved, double minStandardDeviation, double relativeFloor, double zAtHalfScore,
        AnomalyDirection direction, SeriesTransform transform)
    {
        if (!double.IsFinite(minObserved))
        {
            errors.Add("min_observed must be a finite number");
        }

        if (!(minStandardDeviation > 0) || !double.IsFinite(minStandardDeviation))
        {
            errors.Add("min_standard_deviation must be positive");
        }

        if (!(relativeFloor >= 0) || !double.IsFinite(relativeFloor))
        {
            errors.Add("relative_standard_deviation_floor must be zero or positive");
        }

        if (!(zAtHalfScore > 0) || !double.IsFinite(zAtHalfScore))
        {
            errors.Add("z_at_half_score must be positive");
        }

        if (!Enum.IsDefined(direction))
        {
            errors.Add("direction must be both, up or down");
        }

        if (!Enum.IsDefined(transform))
        {
            errors.Add("transform must be none, anscombe or log");
        }
    }
}
