using Bulwark.Detection.Anomaly;

namespace Bulwark.Core.Tests.Detection.Anomaly;

public sealed class NabScorerTests
{
    public static TheoryData<string, string> PublishedRuns()
    {
        var data = new TheoryData<string, string>();
        foreach (var detector in new[] { "numenta", "twitterADVec" })
        {
            foreach (var profile in NabProfile.All)
            {
                data.Add(detector, profile.Name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(PublishedRuns))]
    public void ScoreAt_ReproducesNabsPublishedPerFileScores(string detector, string profileName)
    {
        var labels = NabData.Labels();
        var profile = NabProfile.All.Single(p => p.Name == profileName);
        var published = NabData.ReferenceScores().Where(r => r.Detector == detector && r.Profile == profileName).ToList();
        published.Count.ShouldBe(labels.Keys.Count);
        var threshold = published.Select(r => r.Threshold).Distinct().ShouldHaveSingleItem();
        var series = labels.Keys.Select(k => NabData.ReferenceResult(detector, k, labels)).ToList();

        var result = NabScorer.ScoreAt(series, profile, threshold);

        foreach (var file in result.Files)
        {
            var expected = published.Single(r => r.File == file.Key);
            // The published table prints 12 significant digits.
            file.Score.ShouldBe(expected.Score, 1e-9, file.Key);
            (file.TruePositives, file.TrueNegatives, file.FalsePositives, file.FalseNegatives)
                .ShouldBe((expected.TP, expected.TN, expected.FP, expected.FN), file.Key);
            file.TotalCount.ShouldBe(expected.TotalCount, file.Key);
        }

        result.RawScore.ShouldBe(published.Sum(r => r.Score), 1e-8);
    }

    [Fact]
    public void NormalizedScore_OfNumentaOnTheDevSubset_IsTheDocumented70Point9()
    {
        var labels = NabData.Labels();
        var threshold = NabData.ReferenceScores().First(r => r.Detector == "numenta" && r.Profile == "standard").Threshold;
        var series = labels.Keys.Select(k => NabData.ReferenceResult("numenta", k, labels)).ToList();

        var result = NabScorer.ScoreAt(series, NabProfile.Standard, threshold);

        // README of the data: "Numenta HTM (NuPIC 0.5.6) 70.9/67.0/74.8" on this subset at its corpus threshold.
        Math.Round(result.NormalizedScore, 1).ShouldBe(70.9);
        result.NullScore.ShouldBe(-23);
        result.PerfectScore.ShouldBe(23);
    }

    [Fact]
    public void Optimize_FindsAThresholdAtLeastAsGoodAsThePublishedOne_AndNoBetterOneExists()
    {
        var labels = NabData.Labels();
        var series = labels.Keys.Select(k => NabData.ReferenceResult("twitterADVec", k, labels)).ToList();
        var published = NabData.ReferenceScores().First(r => r.Detector == "twitterADVec" && r.Profile == "standard").Threshold;

        var best = NabScorer.Optimize(series, NabProfile.Standard);

        best.RawScore.ShouldBeGreaterThanOrEqualTo(NabScorer.ScoreAt(series, NabProfile.Standard, published).RawScore);
        var candidates = series.SelectMany(s => s.Scores).Distinct();
        foreach (var threshold in candidates)
        {
            NabScorer.ScoreAt(series, NabProfile.Standard, threshold).RawScore.ShouldBeLessThanOrEqualTo(best.RawScore + 1e-9, $"θ = {threshold}");
        }
    }

    [Fact]
    public void ScoreAt_CreditsTheEarliestDetectionOfAWindowOnce_AndChargesFalsePositivesByDistance()
    {
        // 100 rows: probation 15; one window over rows 50..59 (W = 10).
        var windows = new[] { new NabWindow(50, 59) };
        NabFileScore Score(params int[] detections)
        {
            var scores = new double[100];
            foreach (var d in detections)
            {
                scores[d] = 1;
            }

            return NabScorer.ScoreAt([new NabScoredSeries("f.csv", scores, windows)], NabProfile.Standard, 0.5).Files[0];
        }

        Score().Score.ShouldBe(-1.0);
        Score(50).Score.ShouldBe(1.0, 1e-12);
        Score(50, 51, 55).Score.ShouldBe(1.0, 1e-12);
        Score(59).Score.ShouldBe(NabScorer.ScaledSigmoid(-0.1) / NabScorer.ScaledSigmoid(-1), 1e-12);
        // Before any window a false positive costs the full weight; far after one as well; just after, a little.
        Score(20).Score.ShouldBe(-1.0 - 0.11, 1e-12);
        Score(99).Score.ShouldBe(-1.0 - 0.11, 1e-12);
        Score(60).Score.ShouldBe(-1.0 + (0.11 * NabScorer.ScaledSigmoid(1.0 / 9)), 1e-12);
        // Probationary rows are not scored at all.
        Score(10).Score.ShouldBe(-1.0);
        Score(10).FalsePositives.ShouldBe(0);
    }

    [Fact]
    public void ProbationaryLength_Is15PercentCappedAt750()
    {
        NabScorer.ProbationaryLength(4032).ShouldBe(604);
        NabScorer.ProbationaryLength(22695).ShouldBe(750);
        NabScorer.ProbationaryLength(0).ShouldBe(0);
    }

    [Fact]
    public void Read_ProfilesJson_GivesTheBuiltInProfiles()
    {
        using var stream = NabData.Open("profiles.json");

        NabProfile.Read(stream).ShouldBe(NabProfile.All);
    }
}
