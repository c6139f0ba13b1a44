namespace Bulwark.Detection.Anomaly;

/// <summary>
/// A streaming anomaly detector for one series (one key): it sees each point once, in time order, and scores it against
/// what it learned from the earlier points only. Instances hold per-key state and are not thread-safe; create one per
/// key with <see cref="SeriesDetectors"/>.
/// </summary>
public interface ISeriesDetector
{
    /// <summary>Scores a point, then learns from it. Allocates nothing.</summary>
    /// <param name="timestamp">The point's time, normally not before the previous point's; a point out of order is scored like any other.</param>
    /// <param name="value">The observed value (a count per bucket, a gauge reading, …).</param>
    /// <returns>The score with its explanation.</returns>
    SeriesScore Score(DateTimeOffset timestamp, double value);

    /// <summary>
    /// Scores a point as <see cref="Score"/> would, without learning from it and without damping repeated peaks: for
    /// a bucket still filling, whose count so far is a lower bound of its final count.
    /// </summary>
    /// <param name="timestamp">The point's time.</param>
    /// <param name="value">The value so far.</param>
    /// <returns>The score with its explanation.</returns>
    SeriesScore Peek(DateTimeOffset timestamp, double value);
}

/// <summary>A detector's verdict on one point, with what it expected so that a detection can explain itself.</summary>
/// <param name="Score">The anomaly score in [0, 1]; 0 while warming up or below the minimum counts.</param>
/// <param name="Expected">The value the model expected, in the series' units.</param>
/// <param name="Observed">The value observed.</param>
/// <param name="ZScore">The deviation in standard deviations of the model's residual (signed; positive is above expected).</param>
/// <param name="Ready">Whether the model had finished warming up; when not, <paramref name="Score"/> is 0.</param>
public readonly record struct SeriesScore(double Score, double Expected, double Observed, double ZScore, bool Ready);

/// <summary>Which deviations from the expected value count as anomalies.</summary>
public enum AnomalyDirection
{
    /// <summary>Both above and below the expected value.</summary>
    Both = 0,

    /// <summary>Only above the expected value (surges: reset waves, floods).</summary>
    Up = 1,

    /// <summary>Only below the expected value (outages, silence).</summary>
    Down = 2,
}

/// <summary>A variance-stabilising transform applied to values before modelling; expected values are reported back in the original units.</summary>
public enum SeriesTransform
{
    /// <summary>Model the values as they are (gauges).</summary>
    None = 0,

    /// <summary>Anscombe's <c>2√(x + 3/8)</c>, which makes Poisson counts roughly unit-variance (event counts per bucket).</summary>
    Anscombe = 1,

    /// <summary><c>ln(1 + x)</c>, for heavy-tailed non-negative values.</summary>
    Log = 2,
}
