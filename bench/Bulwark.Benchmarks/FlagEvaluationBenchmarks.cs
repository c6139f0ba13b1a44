using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Bulwark.Flags;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.FeatureManagement;
using Microsoft.FeatureManagement.FeatureFilters;

namespace Bulwark.Benchmarks;

/// <summary>
/// In-process flag evaluation: 100 flags, each with an allow-listed user, a group cohort and a percentage rollout, over
/// 1,000 subjects. Bulwark's compiled evaluator against Microsoft.FeatureManagement 4.7.0's targeting filter configured
/// with the same flags (users, group at 100%, default rollout percentage). Times are per evaluation.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class FlagEvaluationBenchmarks
{
    private const int Flags = 100;
    private const int Subjects = 1000;
    private const int Evaluations = 10_000;

    private CompiledFlag[] _bulwark = null!;
    private EvaluationContext[] _bulwarkSubjects = null!;
    private IFeatureManager _featureManager = null!;
    private string[] _names = null!;
    private TargetingContext[] _targetingSubjects = null!;
    private ServiceProvider _services = null!;

    [GlobalSetup]
    public void Setup()
    {
        _names = [.. Enumerable.Range(0, Flags).Select(i => $"flag-{i:D3}")];
        var percentages = Enumerable.Range(0, Flags).Select(i => (i * 7 % 100) + 0.5).ToArray();

        _bulwark = [.. _names.Select((name, i) => new CompiledFlag(
            new FlagDefinition
            {
                Key = name,
                Type = FlagType.Operational,
                Owner = "bench",
                Purpose = "bench",
                Cohorts =
                [
                    new Cohort { Name = "staff", Allow = ["u-staff"], Rules = [] },
                    new Cohort { Name = "eu-pro", Allow = [], Rules = [new CohortRule { Attribute = "group", Operator = RuleOperator.In, Values = ["eu-pro"] }] },
                ],
            },
            new FlagStatus(FlagState.Gradual, (int)(percentages[i] * 1000))))];

        var settings = new Dictionary<string, string?>();
        for (var i = 0; i < Flags; i++)
        {
            var prefix = $"FeatureManagement:{_names[i]}:EnabledFor:0";
            settings[$"{prefix}:Name"] = "Microsoft.Targeting";
            settings[$"{prefix}:Parameters:Audience:Users:0"] = "u-staff";
            settings[$"{prefix}:Parameters:Audience:Groups:0:Name"] = "eu-pro";
            settings[$"{prefix}:Parameters:Audience:Groups:0:RolloutPercentage"] = "100";
            settings[$"{prefix}:Parameters:Audience:DefaultRolloutPercentage"] = percentages[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        _services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddFeatureManagement().Services.BuildServiceProvider();
        _featureManager = _services.GetRequiredService<IFeatureManager>();

        var random = new Random(12345);
        _bulwarkSubjects = new EvaluationContext[Subjects];
        _targetingSubjects = new TargetingContext[Subjects];
        for (var i = 0; i < Subjects; i++)
        {
            var user = i == 0 ? "u-staff" : $"acct-{random.Next()}";
            var group = i % 10 == 0 ? "eu-pro" : "us-free";
            _bulwarkSubjects[i] = new EvaluationContext(user, new Dictionary<string, string> { ["group"] = group });
            _targetingSubjects[i] = new TargetingContext { UserId = user, Groups = [group] };
        }

        // Both must agree on who is in, or the comparison is meaningless.
        for (var i = 0; i < 200; i++)
        {
            var bulwarkIn = _bulwark[i % Flags].Evaluate(_bulwarkSubjects[i]).Variant.AsBoolean == true;
            if (_targetingSubjects[i].UserId == "u-staff" || i % 10 == 0)
            {
                if (!bulwarkIn || !_featureManager.IsEnabledAsync(_names[i % Flags], _targetingSubjects[i]).GetAwaiter().GetResult())
                {
                    throw new InvalidOperationException("cohort members must be in with both");
                }
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Evaluations, Description = "Microsoft.FeatureManagement 4.7.0 (targeting)")]
    public async Task<int> FeatureManagement()
    {
        var on = 0;
        for (var i = 0; i < Evaluations; i++)
        {
            if (await _featureManager.IsEnabledAsync(_names[i % Flags], _targetingSubjects[i % Subjects]).ConfigureAwait(false))
            {
                on++;
            }
        }

        return on;
    }

    [Benchmark(OperationsPerInvoke = Evaluations, Description = "Bulwark CompiledFlag")]
    public int Bulwark()
    {
        var on = 0;
        for (var i = 0; i < Evaluations; i++)
        {
            if (_bulwark[i % Flags].Evaluate(_bulwarkSubjects[i % Subjects]).Variant.AsBoolean == true)
            {
                on++;
            }
        }

        return on;
    }
}
