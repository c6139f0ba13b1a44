using System.Globalization;
using Bulwark.Detection.Anomaly;

namespace Bulwark.Core.Tests.Detection.Anomaly;

/// <summary>The NAB development subset copied under <c>tests/data/nab</c> (next to the test assembly at <c>data/nab</c>).</summary>
internal static class NabData
{
    public static string Folder { get; } = Path.Combine(AppContext.BaseDirectory, "data", "nab");

    public static Stream Open(string relative) => File.OpenRead(Path.Combine(Folder, relative));

    public static NabLabels Labels()
    {
        using var stream = Open(NabEvaluation.WindowsFile);
        return NabLabels.Read(stream);
    }

    /// <summary>A row of <c>reference_scores.csv</c>: NAB's published per-file score table.</summary>
    public sealed record ReferenceRow(string Detector, string Profile, string File, double Threshold, double Score, int TP, int TN, int FP, int FN, int TotalCount);

    public static IReadOnlyList<ReferenceRow> ReferenceScores()
    {
        var rows = new List<ReferenceRow>();
        foreach (var line in File.ReadLines(Path.Combine(Folder, "reference_scores.csv")).Skip(1))
        {
            var f = line.Split(',');
            rows.Add(new ReferenceRow(
                f[0], f[1], f[2], Number(f[3]), Number(f[4]), int.Parse(f[5], CultureInfo.InvariantCulture), int.Parse(f[6], CultureInfo.InvariantCulture),
                int.Parse(f[7], CultureInfo.InvariantCulture), int.Parse(f[8], CultureInfo.InvariantCulture), int.Parse(f[9], CultureInfo.InvariantCulture)));
        }

        return rows;
    }

    /// <summary>A published detector's per-row scores for one series (<c>reference_results/&lt;detector&gt;/…</c>) with the series' windows.</summary>
    public static NabScoredSeries ReferenceResult(string detector, string key, NabLabels labels)
    {
        var timestamps = new List<string>();
        var scores = new List<double>();
        using var stream = Open(Path.Combine("reference_results", NabEvaluation.ResultPath(detector, key)));
        foreach (var row in NabCsv.Read(stream, "anomaly_score"))
        {
            timestamps.Add(row.Timestamp);
            scores.Add(row.Number(0));
        }

        return new NabScoredSeries(key, scores, labels.Locate(key, timestamps));
    }

    private static double Number(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
}
