using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.TestUtils;

namespace Bulwark.Cli.Tests;

/// <summary><c>bulwark eval</c> over the labeled traces and the NAB subset copied into tests/data.</summary>
public sealed class EvalCommandTests
{
    private static string Data(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "data", .. parts]);

    [Theory]
    [InlineData("dev-a")]
    [InlineData("dev-b")]
    public async Task Scenarios_WithTheBuiltInPack_DetectsEveryScenario_AndReportsDelaysAndBenignAccounts(string trace)
    {
        var (exit, output, error) = await CliRunner.RunAsync(null, null, "eval", "scenarios", Data("scenarios", trace), "--json");

        exit.ShouldBe(0, error);
        var report = JsonNode.Parse(output)!;
        var scenarios = report["scenarios"]!.AsArray();
        scenarios.Count.ShouldBe(8);
        var detected = scenarios.Where(s => s!["detected"]!.GetValue<bool>()).Select(s => s!["kind"]!.GetValue<string>()).ToList();

        detected.ShouldBe(
            ["reset_wave", "account_takeover", "reset_spray", "cross_platform_policy", "email_enumeration", "sequential_ids", "credential_stuffing", "fat_finger_mass_reset"],
            ignoreOrder: true);
        scenarios.Single(s => s!["kind"]!.GetValue<string>() == "reset_wave")!["rules"]!.AsArray().Select(r => r!.GetValue<string>()).ShouldContain("reset-volume-per-platform");
        scenarios.Single(s => s!["kind"]!.GetValue<string>() == "fat_finger_mass_reset")!["rules"]!.AsArray().Select(r => r!.GetValue<string>()).ShouldContain("internal-bulk-resets");
        report["burst_median_delay_seconds"]!.GetValue<double>().ShouldBeLessThan(60);
        report["benign_share"]!.GetValue<double>().ShouldBeLessThan(0.005);
        report["late"]!.GetValue<long>().ShouldBe(0);
    }

    [Fact]
    public async Task Scenarios_AsATable_NamesEachScenario()
    {
        var (exit, output, _) = await CliRunner.RunAsync(null, null, "eval", "scenarios", Data("scenarios", "dev-b"));

        exit.ShouldBe(0);
        output.ShouldContain("sc05");
        output.ShouldContain("email_enumeration (burst)");
        output.ShouldContain("benign accounts in detections:");
    }

    [Fact]
    public async Task Scenarios_WithRulesThatDoNotValidate_OrNoTrace_IsAUsageError()
    {
        using var directory = new TempDirectory();
        var rules = Path.Combine(directory.Path, "rules.yaml");
        await File.WriteAllTextAsync(rules, "kind: Rule\nname: broken\ntype: count\nseverity: loud\nwindow: 1m\nthreshold: 2\n", TestContext.Current.CancellationToken);

        var (badRules, _, rulesError) = await CliRunner.RunAsync(null, null, "eval", "scenarios", Data("scenarios", "dev-a"), "-f", rules);
        var (noTrace, _, traceError) = await CliRunner.RunAsync(null, null, "eval", "scenarios", directory.Path);

        badRules.ShouldBe(2);
        rulesError.ShouldContain("rules.yaml:4: /severity");
        noTrace.ShouldBe(2);
        traceError.ShouldContain("labels.json");
    }

    [Fact]
    public async Task Nab_ScoresTheDevSubsetAboveTwitterAdvec_AndWritesResultsPerSeries()
    {
        using var results = new TempDirectory();

        var (exit, output, error) = await CliRunner.RunAsync(null, null, "eval", "nab", Data("nab"), "--results", results.Path, "--json");

        exit.ShouldBe(0, error);
        var report = JsonNode.Parse(output)!;
        report["profiles"]!["standard"]!["score"]!.GetValue<double>().ShouldBeGreaterThan(48.6);
        report["profiles"]!.AsObject().Select(p => p.Key).ShouldBe(["standard", "reward_low_FP_rate", "reward_low_FN_rate"], ignoreOrder: true);
        var written = Directory.GetFiles(results.Path, "*.csv", SearchOption.AllDirectories);
        written.Length.ShouldBe(report["series"]!.GetValue<int>());
        var taxi = Path.Combine(results.Path, "realKnownCause", "nyc_taxi.csv");
        File.Exists(taxi).ShouldBeTrue();
        var lines = await File.ReadAllLinesAsync(taxi, TestContext.Current.CancellationToken);
        lines[0].ShouldBe("timestamp,value,anomaly_score,label");
        lines.Skip(1).Select(l => double.Parse(l.Split(',')[2], CultureInfo.InvariantCulture)).ShouldAllBe(s => s >= 0 && s <= 1);
    }

    [Fact]
    public async Task Nab_OfAFolderWithoutLabels_IsAUsageError()
    {
        using var directory = new TempDirectory();

        var (exit, _, error) = await CliRunner.RunAsync(null, null, "eval", "nab", directory.Path);

        exit.ShouldBe(2);
        error.ShouldContain("combined_windows.json");
    }
}
