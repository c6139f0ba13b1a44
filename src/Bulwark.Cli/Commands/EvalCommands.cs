using System.CommandLine;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Cli.Manifests;
using Bulwark.Cli.Output;
using Bulwark.Detection.Anomaly;
using Bulwark.Detection.Evaluation;
using Bulwark.Detection.Rules;
using Bulwark.Manifests;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark eval scenarios DIR</c> and <c>bulwark eval nab DIR</c>: run detection offline over labeled data, to tune
/// rules and detectors before they go live. No server needed.
/// </summary>
internal static class EvalCommands
{
    public static Command Create(CliContext cli)
    {
        var eval = new Command("eval", "Measure detection offline: rules over labeled attack traces, detectors over NAB series");
        eval.Subcommands.Add(Scenarios(cli));
        eval.Subcommands.Add(Nab(cli));
        return eval;
    }

    private static Command Scenarios(CliContext cli)
    {
        var directory = new Argument<string>("dir") { Description = "A trace folder with events.jsonl.gz (or events.jsonl) and labels.json" };
        var rules = new Option<string?>("--rules", "-f") { Description = "Rule and Detector manifests (a file or a folder); default: the built-in pack (examples/manifests)" };
        var json = CliContext.JsonOption();
        var command = new Command("scenarios", "Run rules and detectors over a labeled trace: per scenario, detected or not and the event-time delay; benign accounts in detections")
        {
            directory, rules, json,
        };
        command.SetAction((parse, ct) => cli.RunAsync(() =>
        {
            var folder = parse.GetValue(directory)!;
            var (ruleSet, detectors) = LoadPack(parse.GetValue(rules));
            var labelsPath = Path.Combine(folder, "labels.json");
            if (!File.Exists(labelsPath))
            {
                throw new UsageException($"{labelsPath} does not exist");
            }

            IReadOnlyList<ScenarioLabel> labels;
            using (var file = File.OpenRead(labelsPath))
            {
                labels = ScenarioEvaluation.ReadLabels(file);
            }

            using var events = OpenTrace(folder);
            var report = ScenarioEvaluation.Run(ruleSet, detectors, ScenarioEvaluation.ReadEvents(events), labels);
            if (parse.GetValue(json))
            {
                cli.WriteJson(Document(report));
            }
            else
            {
                Write(cli.Out, report);
            }

            return Task.FromResult(ExitCodes.Ok);
        }));
        return command;
    }

    private static Command Nab(CliContext cli)
    {
        var directory = new Argument<string>("dir") { Description = "A NAB-format folder: <category>/<name>.csv series and combined_windows.json" };
        var detector = new Option<string>("--detector") { Description = "seasonal (default) or ewma", DefaultValueFactory = _ => "seasonal" };
        var results = new Option<string?>("--results") { Description = "Write one CSV per series in NAB's results layout under this folder" };
        var json = CliContext.JsonOption();
        var command = new Command("nab", "Score a statistical detector over NAB series with the NAB scorer (standard, reward_low_FP, reward_low_FN)")
        {
            directory, detector, results, json,
        };
        command.SetAction((parse, ct) => cli.RunAsync(() =>
        {
            var folder = parse.GetValue(directory)!;
            if (!File.Exists(Path.Combine(folder, "combined_windows.json")))
            {
                throw new UsageException($"{folder} is not a NAB folder: combined_windows.json is missing");
            }

            var name = parse.GetValue(detector)!;
            Func<string, ISeriesDetector> create = name switch
            {
                "seasonal" => _ => SeriesDetectors.Seasonal(NabEvaluation.TunedSeasonalOptions),
                "ewma" => _ => SeriesDetectors.Ewma(NabEvaluation.TunedEwmaOptions),
                _ => throw new UsageException($"--detector must be seasonal or ewma, not '{name}'"),
            };
            var output = parse.GetValue(results);
            var result = NabEvaluation.Run(
                name,
                create,
                path => File.OpenRead(Path.Combine(folder, path)),
                output is null ? null : path =>
                {
                    // NAB's own layout is <detector>/<category>/<detector>_<name>.csv; this writes <category>/<name>.csv.
                    var parts = path.Split('/');
                    var full = Path.Combine(output, parts[^2], parts[^1][(name.Length + 1)..]);
                    Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                    return File.Create(full);
                });
            if (parse.GetValue(json))
            {
                cli.WriteJson(Document(result));
            }
            else
            {
                Write(cli.Out, result);
            }

            return Task.FromResult(ExitCodes.Ok);
        }));
        return command;
    }

    /// <summary>Rules (validated together) and detectors from manifests; other kinds are left out.</summary>
    private static (IReadOnlyList<RuleDefinition> Rules, IReadOnlyList<DetectorDefinition> Detectors) LoadPack(string? path)
    {
        var problems = new List<ManifestProblem>();
        var documents = path is null ? DemoManifests.Read(problems) : YamlManifestReader.ReadPath(path, problems);
        var rules = documents.Where(d => d.Body["kind"]?.GetValue<string>() == RuleKind.Kind).ToList();
        var set = RuleKind.ParseSet([.. rules.Select(d => d.Body)], out var errors);
        foreach (var error in errors)
        {
            var slash = error.Path.IndexOf('/', 1);
            var index = int.Parse(slash < 0 ? error.Path[1..] : error.Path[1..slash], CultureInfo.InvariantCulture);
            var document = rules[index];
            var pointer = slash < 0 ? string.Empty : error.Path[slash..];
            problems.Add(new ManifestProblem(document.Source, document.LineOf(pointer), pointer, error.Message));
        }

        var detectors = new List<DetectorDefinition>();
        foreach (var document in documents.Where(d => d.Body["kind"]?.GetValue<string>() == DetectorKind.Instance.Kind))
        {
            var read = DetectorKind.Instance.Read(document.Body);
            problems.AddRange(read.Errors.Select(e => new ManifestProblem(document.Source, document.LineOf(e.Path), e.Path, e.Message)));
            if (read.Value is { } detector)
            {
                detectors.Add(detector);
            }
        }

        if (problems.Count > 0)
        {
            throw new UsageException("the rules do not validate:\n  " + string.Join("\n  ", problems));
        }

        if (set!.Count == 0 && detectors.Count == 0)
        {
            throw new UsageException($"{path} holds no Rule or Detector manifests");
        }

        return (set, detectors);
    }

    private static StreamReader OpenTrace(string folder)
    {
        var gz = Path.Combine(folder, "events.jsonl.gz");
        var plain = Path.Combine(folder, "events.jsonl");
        if (File.Exists(gz))
        {
            return new StreamReader(new GZipStream(File.OpenRead(gz), CompressionMode.Decompress), Encoding.UTF8);
        }

        return File.Exists(plain) ? new StreamReader(plain, Encoding.UTF8) : throw new UsageException($"{folder} holds neither events.jsonl.gz nor events.jsonl");
    }

    private static void Write(TextWriter output, ScenarioReport report)
    {
        Table.Write(
            output,
            ["SCENARIO", "KIND", "DETECTED", "DELAY", "ACCOUNTS", "RULES"],
            report.Scenarios.Select(s => (IReadOnlyList<string?>)
            [
                s.Label.Id,
                s.Label.Kind + (s.Label.Burst ? " (burst)" : string.Empty),
                s.Detected ? "yes" : "no",
                s.DelaySeconds is { } delay ? delay.ToString("F1", CultureInfo.InvariantCulture) + " s" : "-",
                $"{s.AccountsCovered}/{s.Label.Accounts.Count}",
                string.Join(", ", s.Rules),
            ]));
        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{report.Scenarios.Count(s => s.Detected)} of {report.Scenarios.Count} scenarios detected; burst median delay {(report.BurstMedianDelaySeconds is { } m ? m.ToString("F1", CultureInfo.InvariantCulture) + " s" : "-")}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"benign accounts in detections: {report.BenignAccountsDetected.Count} of {report.BenignAccountsActive.Count} active ({report.BenignShare:P3})"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{report.Events} events, {report.Late} late, {report.Detections.Count} detections"));
    }

    private static JsonObject Document(ScenarioReport report) => new()
    {
        ["scenarios"] = new JsonArray([.. report.Scenarios.Select(s => (JsonNode)new JsonObject
        {
            ["id"] = s.Label.Id,
            ["kind"] = s.Label.Kind,
            ["burst"] = s.Label.Burst,
            ["detected"] = s.Detected,
            ["delay_seconds"] = s.DelaySeconds,
            ["accounts"] = s.Label.Accounts.Count,
            ["accounts_covered"] = s.AccountsCovered,
            ["rules"] = new JsonArray([.. s.Rules.Select(r => (JsonNode)r)]),
        })]),
        ["detected"] = report.Scenarios.Count(s => s.Detected),
        ["burst_median_delay_seconds"] = report.BurstMedianDelaySeconds,
        ["benign_accounts_active"] = report.BenignAccountsActive.Count,
        ["benign_accounts_detected"] = new JsonArray([.. report.BenignAccountsDetected.Select(a => (JsonNode)a)]),
        ["benign_share"] = report.BenignShare,
        ["events"] = report.Events,
        ["late"] = report.Late,
        ["detections"] = report.Detections.Count,
    };

    private static void Write(TextWriter output, NabEvaluationResult result)
    {
        foreach (var score in result.Scores)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{score.Profile.Name}: {score.NormalizedScore:F1} (threshold {score.Threshold:F4}, {result.Series.Count} series)"));
        }
    }

    private static JsonObject Document(NabEvaluationResult result) => new()
    {
        ["detector"] = result.Detector,
        ["series"] = result.Series.Count,
        ["profiles"] = new JsonObject([.. result.Scores.Select(p => KeyValuePair.Create(p.Profile.Name, (JsonNode?)new JsonObject
        {
            ["score"] = p.NormalizedScore,
            ["threshold"] = p.Threshold,
            ["raw"] = p.RawScore,
        }))]),
    };
}
