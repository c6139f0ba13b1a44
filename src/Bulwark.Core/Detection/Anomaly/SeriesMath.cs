namespace Bulwark.Detection.Anomaly;

/// <summary>The arithmetic the detectors share: transforms, the z to score mapping, and the EWMA step.</summary>
internal static class SeriesMath
{
    public static double Forward(SeriesTransform transform, double value) => transform switch
    {
        SeriesTransform.Anscombe => 2.0 * Math.Sqrt(Math.Max(value, 0) + 0.375),
        SeriesTransform.Log => Math.Log(1.0 + Math.Max(value, 0)),
        _ => value,
    };

    public static double Inverse(SeriesTransform transform, double modelled) => transform switch
    {
        SeriesTransform.Anscombe => Math.Max((modelled * modelled / 4.0) - 0.375, 0),
        SeriesTransform.Log => Math.Exp(modelled) - 1.0,
        _ => modelled,
    };

    /// <summary>
    /// Maps a z-score to [0, 1) as <c>e / (e + half)</c> where <c>e</c> is the deviation in the watched direction: 0 at no
    /// deviation, 0.5 at <paramref name="half"/> standard deviations, monotone and never saturating, so that a threshold
    /// sweep can still tell z = 10 from z = 20.
    /// </summary>
    public static double ScoreOf(double z, AnomalyDirection direction, double half)
    {
        var excess = direction switch
        {
            AnomalyDirection.Up => Math.Max(z, 0),
            AnomalyDirection.Down => Math.Max(-z, 0),
            _ => Math.Abs(z),
        };
        return excess / (excess + half);
    }

    /// <summary>The deviation's standard deviation with its floors: an absolute one and one relative to the level.</summary>
    public static double Deviation(double variance, double level, double minimum, double relative) =>
        Math.Max(Math.Sqrt(Math.Max(variance, 0)), Math.Max(minimum, relative * Math.Abs(level)));
}

/// <summary>
/// Reports a score only when it beats the (exponentially decaying) peak of the scores before it, so one excursion
/// raises one alert at its start, and again only if it grows: the rest of the excursion scores 0.
/// </summary>
internal struct PeakFilter
{
    private double _peak;
    private long _lastTicks;

    public double Apply(double score, DateTimeOffset timestamp, TimeSpan? halfLife)
    {
        if (halfLife is not { } half)
        {
            return score;
        }

        var elapsed = Math.Max(timestamp.UtcTicks - _lastTicks, 0);
        var decayed = _peak * Math.Pow(0.5, elapsed / (double)half.Ticks);
        _lastTicks = timestamp.UtcTicks;
        _peak = Math.Max(decayed, score);
        return score > decayed ? score : 0;
    }
}
