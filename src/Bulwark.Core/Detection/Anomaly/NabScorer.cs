namespace Bulwark.Detection.Anomaly;

/// <summary>A detector's per-row anomaly scores for one labelled series, ready for <see cref="NabScorer"/>.</summary>
/// <param name="Key">The series' key in NAB, <c>category/name.csv</c>.</param>
/// <param name="Scores">One anomaly score in [0, 1] per row, in time order.</param>
/// <param name="Windows">The series' anomaly windows as row indices, in time order and not overlapping.</param>
public sealed record NabScoredSeries(string Key, IReadOnlyList<double> Scores, IReadOnlyList<NabWindow> Windows);

/// <summary>One series scored at a threshold, with the columns of NAB's per-file score tables.</summary>
/// <param name="Key">The series' key, <c>category/name.csv</c>.</param>
/// <param name="Score">The raw NAB score of the file (window credits, misses and false-positive costs).</param>
/// <param name="TruePositives">Detected rows inside windows (probationary rows excluded).</param>
/// <param name="TrueNegatives">Undetected rows outside windows (probationary rows excluded).</param>
/// <param name="FalsePositives">Detected rows outside windows (probationary rows excluded).</param>
/// <param name="FalseNegatives">Undetected rows inside windows (probationary rows excluded).</param>
/// <param name="TotalCount">The file's full row count.</param>
/// <param name="Windows">The file's window count.</param>
/// <param name="WindowsDetected">Windows with at least one detection.</param>
public sealed record NabFileScore(
    string Key, double Score, int TruePositives, int TrueNegatives, int FalsePositives, int FalseNegatives, int TotalCount,
    int Windows, int WindowsDetected);

/// <summary>A corpus scored with one profile at one threshold, normalised as NAB's runner does.</summary>
/// <param name="Profile">The cost profile.</param>
/// <param name="Threshold">The threshold θ: a row is a detection when its score is ≥ θ.</param>
/// <param name="RawScore">The sum of the files' raw scores.</param>
/// <param name="NullScore">The null detector's raw score, <c>−A_FN × windows</c>.</param>
/// <param name="PerfectScore">A perfect detector's raw score, <c>A_TP × windows</c>.</param>
/// <param name="Files">The per-file scores, in input order.</param>
public sealed record NabCorpusScore(
    NabProfile Profile, double Threshold, double RawScore, double NullScore, double PerfectScore, IReadOnlyList<NabFileScore> Files)
{
    /// <summary>NAB's normalised score: <c>100 × (raw − null) / (perfect − null)</c>; 100 is perfect, 0 the null detector.</summary>
    public double NormalizedScore => PerfectScore == NullScore ? 0 : 100 * (RawScore - NullScore) / (PerfectScore - NullScore);
}

/// <summary>
/// NAB v1.1's scorer (<c>nab/sweeper.py</c>, <c>nab/optimizer.py</c>, <c>nab/runner.py</c>): every scorable row gets a
/// sweep score from its position relative to the windows (a scaled sigmoid: early detections in a window earn nearly
/// the full true-positive weight, detections just after a window cost little, detections far from windows cost the full
/// false-positive weight); a file's score at θ sums, over detections (score ≥ θ), the false-positive costs plus each
/// window's earliest detection credit, and −A_FN for each window never detected. One θ is shared by the whole corpus and
/// optimised by sweeping every distinct score, as NAB does.
/// </summary>
public static class NabScorer
{
    /// <summary>NAB's probationary fraction: the first 15% of a file (at most 750 rows) is not scored.</summary>
    public const double ProbationPercent = 0.15;

    /// <summary>The threshold NAB reports when detecting nothing is best (above every possible score).</summary>
    public const double NoDetectionThreshold = 1.1;

    /// <summary>NAB's probationary length of a file: <c>min(floor(0.15 n), 0.15 × 5000)</c> rows.</summary>
    /// <param name="rows">The file's row count.</param>
    /// <returns>The number of leading rows excluded from scoring.</returns>
    public static int ProbationaryLength(int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        return (int)Math.Min(Math.Floor(ProbationPercent * rows), ProbationPercent * 5000);
    }

    /// <summary>NAB's scaled sigmoid: <c>2σ(−5y) − 1</c> for <c>y ≤ 3</c>, −1 beyond.</summary>
    /// <param name="y">The relative position to a window (negative inside it).</param>
    /// <returns>A value in (−1, 1).</returns>
    public static double ScaledSigmoid(double y) => y > 3.0 ? -1.0 : (2.0 / (1.0 + Math.Exp(5.0 * y))) - 1.0;

    /// <summary>Scores <paramref name="series"/> at a fixed threshold, as NAB does for a given detector threshold.</summary>
    /// <param name="series">The scored series.</param>
    /// <param name="profile">The cost profile.</param>
    /// <param name="threshold">Rows with a score ≥ θ are detections.</param>
    /// <returns>The per-file and corpus scores.</returns>
    public static NabCorpusScore ScoreAt(IReadOnlyList<NabScoredSeries> series, NabProfile profile, double threshold)
    {
        Validate(series, profile);
        return ScoreAtCore(series, profile, threshold);
    }

    /// <summary>
    /// Finds the corpus-wide threshold that maximises the raw score (NAB's <c>optimizeThreshold</c>: every distinct score
    /// is tried, from the highest down; ties keep the higher threshold), then scores every file at it.
    /// </summary>
    /// <param name="series">The scored series.</param>
    /// <param name="profile">The cost profile.</param>
    /// <returns>The per-file and corpus scores at the optimal threshold.</returns>
    public static NabCorpusScore Optimize(IReadOnlyList<NabScoredSeries> series, NabProfile profile)
    {
        Validate(series, profile);
        var points = new List<SweepPoint>();
        var windowCount = 0;
        foreach (var file in series)
        {
            Sweep(file, profile, windowCount, points);
            windowCount += file.Windows.Count;
        }

        points.Sort(static (a, b) => b.AnomalyScore.CompareTo(a.AnomalyScore));
        var windowParts = new double[windowCount];
        Array.Fill(windowParts, -profile.FalseNegativeWeight);
        var falsePositivePart = 0.0;
        var current = NoDetectionThreshold;
        var bestThreshold = current;
        var bestScore = Total();
        foreach (var point in points)
        {
            if (point.AnomalyScore != current)
            {
                var score = Total();
                if (score > bestScore)
                {
                    (bestScore, bestThreshold) = (score, current);
                }

                current = point.AnomalyScore;
            }

            if (point.Window < 0)
            {
                falsePositivePart += point.SweepScore;
            }
            else
            {
                windowParts[point.Window] = Math.Max(windowParts[point.Window], point.SweepScore);
            }
        }

        if (Total() > bestScore)
        {
            bestThreshold = current;
        }

        return ScoreAtCore(series, profile, bestThreshold);

        double Total()
        {
            var total = falsePositivePart;
            foreach (var part in windowParts)
            {
                total += part;
            }

            return total;
        }
    }

    private static NabCorpusScore ScoreAtCore(IReadOnlyList<NabScoredSeries> series, NabProfile profile, double threshold)
    {
        var files = new NabFileScore[series.Count];
        var points = new List<SweepPoint>();
        var raw = 0.0;
        var windows = 0;
        for (var f = 0; f < series.Count; f++)
        {
            var file = series[f];
            points.Clear();
            Sweep(file, profile, 0, points);
            var windowParts = new double[file.Windows.Count];
            Array.Fill(windowParts, -profile.FalseNegativeWeight);
            var detected = new bool[file.Windows.Count];
            double falsePositivePart = 0;
            int tp = 0, tn = 0, fp = 0, fn = 0;
            foreach (var point in points)
            {
                var isDetection = point.AnomalyScore >= threshold;
                if (point.Window < 0)
                {
                    if (isDetection)
                    {
                        fp++;
                        falsePositivePart += point.SweepScore;
                    }
                    else
                    {
                        tn++;
                    }
                }
                else if (isDetection)
                {
                    tp++;
                    detected[point.Window] = true;
                    windowParts[point.Window] = Math.Max(windowParts[point.Window], point.SweepScore);
                }
                else
                {
                    fn++;
                }
            }

            var score = falsePositivePart;
            foreach (var part in windowParts)
            {
                score += part;
            }

            raw += score;
            windows += file.Windows.Count;
            files[f] = new NabFileScore(file.Key, score, tp, tn, fp, fn, file.Scores.Count, file.Windows.Count, detected.Count(d => d));
        }

        return new NabCorpusScore(profile, threshold, raw, -profile.FalseNegativeWeight * windows, profile.TruePositiveWeight * windows, files);
    }

    /// <summary>NAB's <c>calcSweepScore</c>: the weighted score each scorable row would earn as a detection.</summary>
    private static void Sweep(NabScoredSeries file, NabProfile profile, int windowOffset, List<SweepPoint> points)
    {
        var probation = ProbationaryLength(file.Scores.Count);
        var tpScale = profile.TruePositiveWeight / ScaledSigmoid(-1.0);
        var next = 0;
        var inWindow = -1;
        var previousEnd = -1;
        var previousLength = 0;
        for (var i = 0; i < file.Scores.Count; i++)
        {
            if (inWindow < 0 && next < file.Windows.Count && file.Windows[next].Start == i)
            {
                inWindow = next++;
            }

            double sweepScore;
            if (inWindow >= 0)
            {
                var window = file.Windows[inWindow];
                sweepScore = ScaledSigmoid(-(window.End - i + 1) / (double)window.Length) * tpScale;
            }
            else if (previousEnd < 0)
            {
                sweepScore = -profile.FalsePositiveWeight;
            }
            else
            {
                sweepScore = ScaledSigmoid(Math.Abs(previousEnd - i) / (double)(previousLength - 1)) * profile.FalsePositiveWeight;
            }

            if (i >= probation)
            {
                points.Add(new SweepPoint(file.Scores[i], sweepScore, inWindow < 0 ? -1 : inWindow + windowOffset));
            }

            if (inWindow >= 0 && file.Windows[inWindow].End == i)
            {
                (previousEnd, previousLength) = (i, file.Windows[inWindow].Length);
                inWindow = -1;
            }
        }
    }

    private static void Validate(IReadOnlyList<NabScoredSeries> series, NabProfile profile)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(profile);
        foreach (var file in series)
        {
            var previousEnd = -1;
            foreach (var window in file.Windows)
            {
                if (window.Start <= previousEnd || window.End < window.Start || window.End >= file.Scores.Count)
                {
                    throw new ArgumentException($"{file.Key}: windows must be in order, not overlap and lie within the {file.Scores.Count} rows", nameof(series));
                }

                previousEnd = window.End;
            }
        }
    }

    private readonly record struct SweepPoint(double AnomalyScore, double SweepScore, int Window);
}
