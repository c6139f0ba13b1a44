using System.Globalization;
using System.Text;

namespace Bulwark.Detection.Anomaly;

/// <summary>A detector's run over a NAB corpus, scored with each profile at that profile's optimised threshold.</summary>
/// <param name="Detector">The detector's name (used in the results layout).</param>
/// <param name="Series">Every series' per-row scores and windows, in the labels' order.</param>
/// <param name="Scores">One corpus score per profile, in the order asked for.</param>
public sealed record NabEvaluationResult(string Detector, IReadOnlyList<NabScoredSeries> Series, IReadOnlyList<NabCorpusScore> Scores)
{
    /// <summary>The score with the profile named <paramref name="profile"/>.</summary>
    /// <param name="profile">A profile name, e.g. <c>standard</c>.</param>
    /// <returns>The corpus score.</returns>
    /// <exception cref="KeyNotFoundException">No profile of that name was scored.</exception>
    public NabCorpusScore this[string profile] =>
        Scores.FirstOrDefault(s => s.Profile.Name == profile) ?? throw new KeyNotFoundException($"profile '{profile}' was not scored");
}

/// <summary>
/// Runs a series detector over every series of a NAB corpus and scores it as NAB does. Each series is read row by row
/// and each row is scored before the next is read, so the detector cannot look ahead. Files are opened through
/// delegates given by the caller (a folder, an archive, embedded resources).
/// </summary>
public static class NabEvaluation
{
    /// <summary>The labels file at the root of a NAB folder.</summary>
    public const string WindowsFile = "combined_windows.json";

    /// <summary>
    /// The seasonal detector's options tuned on the NAB development subset (global parameters only; the threshold is
    /// NAB's optimised one): 96 slots a day (15 minutes), a peak half-life of 14 days so that each excursion alerts once.
    /// </summary>
    public static SeasonalDetectorOptions TunedSeasonalOptions { get; } = new() { Slots = 96, PeakHalfLife = TimeSpan.FromDays(14) };

    /// <summary>The EWMA detector's options tuned on the NAB development subset: the defaults with a peak half-life of 14 days.</summary>
    public static EwmaDetectorOptions TunedEwmaOptions { get; } = new() { PeakHalfLife = TimeSpan.FromDays(14) };

    /// <summary>
    /// Runs <paramref name="createDetector"/>'s detectors over the corpus: one fresh detector per series, fed in order.
    /// </summary>
    /// <param name="detector">The detector's name, for the results layout.</param>
    /// <param name="createDetector">Creates a fresh detector for a series key.</param>
    /// <param name="openRead">Opens a file of the NAB folder by its relative path (<c>combined_windows.json</c>, <c>category/name.csv</c>).</param>
    /// <param name="createResult">When given, creates each results file by its relative path (<see cref="ResultPath"/>); the stream is disposed here.</param>
    /// <param name="profiles">The profiles to score; <see langword="null"/> for <see cref="NabProfile.All"/>.</param>
    /// <returns>The per-row scores and the corpus scores per profile.</returns>
    /// <exception cref="FormatException">A file is not in NAB's format, or a detector returned a score outside [0, 1].</exception>
    public static NabEvaluationResult Run(
        string detector, Func<string, ISeriesDetector> createDetector, Func<string, Stream> openRead,
        Func<string, Stream>? createResult = null, IReadOnlyList<NabProfile>? profiles = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(detector);
        ArgumentNullException.ThrowIfNull(createDetector);
        ArgumentNullException.ThrowIfNull(openRead);
        profiles ??= NabProfile.All;

        NabLabels labels;
        using (var windows = openRead(WindowsFile))
        {
            labels = NabLabels.Read(windows);
        }

        var series = new List<NabScoredSeries>(labels.Keys.Count);
        foreach (var key in labels.Keys)
        {
            var timestamps = new List<string>();
            var values = new List<string>();
            var scores = new List<double>();
            var model = createDetector(key);
            using (var csv = openRead(key))
            {
                foreach (var row in NabCsv.Read(csv, "value"))
                {
                    var score = model.Score(row.Time, row.Number(0)).Score;
                    if (!(score is >= 0 and <= 1))
                    {
                        throw new FormatException($"{key}, row {scores.Count}: detector '{detector}' scored {score}, outside [0, 1]");
                    }

                    timestamps.Add(row.Timestamp);
                    values.Add(row.Text[0]);
                    scores.Add(score);
                }
            }

            var scored = new NabScoredSeries(key, scores, labels.Locate(key, timestamps));
            series.Add(scored);
            if (createResult is not null)
            {
                using var output = createResult(ResultPath(detector, key));
                WriteResults(output, timestamps, values, scored);
            }
        }

        return new NabEvaluationResult(detector, series, [.. profiles.Select(p => NabScorer.Optimize(series, p))]);
    }

    /// <summary>NAB's results layout: <c>&lt;detector&gt;/&lt;category&gt;/&lt;detector&gt;_&lt;name&gt;.csv</c> for the series <c>category/name.csv</c>.</summary>
    /// <param name="detector">The detector's name.</param>
    /// <param name="key">The series key.</param>
    /// <returns>The relative path, with <c>/</c> separators.</returns>
    public static string ResultPath(string detector, string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var slash = key.LastIndexOf('/');
        return slash < 0 ? $"{detector}/{detector}_{key}" : $"{detector}/{key[..slash]}/{detector}_{key[(slash + 1)..]}";
    }

    private static void WriteResults(Stream output, List<string> timestamps, List<string> values, NabScoredSeries scored)
    {
        using var writer = new StreamWriter(output, new UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
        writer.WriteLine("timestamp,value,anomaly_score,label");
        var window = 0;
        for (var i = 0; i < timestamps.Count; i++)
        {
            while (window < scored.Windows.Count && scored.Windows[window].End < i)
            {
                window++;
            }

            var label = window < scored.Windows.Count && scored.Windows[window].Contains(i) ? 1 : 0;
            writer.Write(timestamps[i]);
            writer.Write(',');
            writer.Write(values[i]);
            writer.Write(',');
            writer.Write(scored.Scores[i].ToString("R", CultureInfo.InvariantCulture));
            writer.Write(',');
            writer.WriteLine(label);
        }
    }
}
