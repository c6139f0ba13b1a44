using Bulwark.Detection.Anomaly;
using Bulwark.TestUtils;

namespace Bulwark.Core.Tests.Detection.Anomaly;

public sealed class NabEvaluationTests
{
    public static TheoryData<string> TunedDetectors() => ["bulwarkSeasonal", "bulwarkEwma"];

    [Theory]
    [MemberData(nameof(TunedDetectors))]
    public void Run_TunedDetector_BeatsTwitterAdvecOnTheDevSubset_AndWritesResultsAnyNabScorerCanRead(string detector)
    {
        using var output = new TempDirectory();
        var written = new List<string>();

        var result = NabEvaluation.Run(
            detector,
            _ => detector == "bulwarkSeasonal"
                ? SeriesDetectors.Seasonal(NabEvaluation.TunedSeasonalOptions)
                : SeriesDetectors.Ewma(NabEvaluation.TunedEwmaOptions),
            NabData.Open,
            relative =>
            {
                written.Add(relative);
                var path = output.Combine(relative.Split('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                return File.Create(path);
            });

        foreach (var score in result.Scores)
        {
            TestContext.Current.TestOutputHelper?.WriteLine($"{detector} {score.Profile.Name}: {score.NormalizedScore:F1} (θ = {score.Threshold:F4}, raw {score.RawScore:F3})");
            foreach (var file in score.Files)
            {
                TestContext.Current.TestOutputHelper?.WriteLine($"  {file.Key}: {file.Score:F3}, windows {file.WindowsDetected}/{file.Windows}, FP rows {file.FalsePositives}");
            }
        }

        // The product target (issue 6): above Twitter ADVec's 48.6 on the standard profile.
        result["standard"].NormalizedScore.ShouldBeGreaterThan(48.6);
        result.Scores.Select(s => s.Profile).ShouldBe(NabProfile.All);
        var labels = NabData.Labels();
        written.ShouldBe(labels.Keys.Select(k => NabEvaluation.ResultPath(detector, k)));

        // Read back the results files alone (timestamps, scores, labels) and score them again: the same figures.
        var reread = new List<NabScoredSeries>();
        foreach (var key in labels.Keys)
        {
            var timestamps = new List<string>();
            var scores = new List<double>();
            var inWindow = new List<bool>();
            using var stream = File.OpenRead(output.Combine(NabEvaluation.ResultPath(detector, key).Split('/')));
            foreach (var row in NabCsv.Read(stream, "value", "anomaly_score", "label"))
            {
                timestamps.Add(row.Timestamp);
                row.Number(1).ShouldBeInRange(0, 1);
                scores.Add(row.Number(1));
                inWindow.Add(row.Text[2] == "1");
            }

            var windows = labels.Locate(key, timestamps);
            inWindow.Count(w => w).ShouldBe(windows.Sum(w => w.Length), key);
            reread.Add(new NabScoredSeries(key, scores, windows));
        }

        NabScorer.ScoreAt(reread, NabProfile.Standard, result["standard"].Threshold).RawScore
            .ShouldBe(result["standard"].RawScore, 1e-9);
    }

    [Fact]
    public void Run_FeedsEachSeriesInOrder_OneFreshDetectorPerSeries()
    {
        var detectors = new List<(string Key, RecordingDetector Detector)>();

        NabEvaluation.Run("recording", key =>
        {
            var detector = new RecordingDetector();
            detectors.Add((key, detector));
            return detector;
        }, NabData.Open, profiles: [NabProfile.Standard]);

        detectors.Select(d => d.Key).ShouldBe(NabData.Labels().Keys);
        foreach (var (key, detector) in detectors)
        {
            // File order, not sorted order: machine_temperature has one row whose time goes back an hour.
            using var csv = NabData.Open(key);
            detector.Values.ShouldBe(NabCsv.Read(csv, "value").Select(r => (r.Time, r.Number(0))).ToList(), key);
        }
    }

    [Fact]
    public void ResultPath_FollowsNabsResultsLayout()
    {
        NabEvaluation.ResultPath("numenta", "realTweets/Twitter_volume_AAPL.csv").ShouldBe("numenta/realTweets/numenta_Twitter_volume_AAPL.csv");
    }

    private sealed class RecordingDetector : ISeriesDetector
    {
        public List<(DateTimeOffset, double)> Values { get; } = [];

        public SeriesScore Score(DateTimeOffset timestamp, double value)
        {
            Values.Add((timestamp, value));
            return new SeriesScore(0, value, value, 0, true);
        }

        public SeriesScore Peek(DateTimeOffset timestamp, double value) => new(0, value, value, 0, true);
    }
}
