using System.Text;
using System.Text.Json;
using Bulwark.Detection.Anomaly;
using Bulwark.Detection.Incidents;
using Bulwark.Detection.Rules;
using Bulwark.Ingest;

namespace Bulwark.Detection.Evaluation;

/// <summary>A labeled scenario of a trace (<c>labels.json</c>, schema <c>scenario-labels-v1</c>).</summary>
/// <param name="Id">Its id.</param>
/// <param name="Kind">What it is (<c>reset_wave</c>, <c>account_takeover</c>, ...).</param>
/// <param name="Accounts">The accounts involved.</param>
/// <param name="Start">Event time of its first event.</param>
/// <param name="End">Event time of its last event.</param>
public sealed record ScenarioLabel(string Id, string Kind, IReadOnlySet<string> Accounts, DateTimeOffset Start, DateTimeOffset End)
{
    /// <summary>The longest span that makes a scenario a burst (for the median-delay target).</summary>
    public static readonly TimeSpan BurstSpan = TimeSpan.FromMinutes(10);

    /// <summary>Whether it is a burst: everything within <see cref="BurstSpan"/>.</summary>
    public bool Burst => End - Start <= BurstSpan;
}

/// <summary>How one scenario fared.</summary>
/// <param name="Label">The scenario.</param>
/// <param name="Rules">The rules whose detections covered its accounts during it (up to 5 minutes after its end).</param>
/// <param name="DelaySeconds">Event time from its start to the first such detection; <see langword="null"/> when none.</param>
/// <param name="AccountsCovered">How many of its accounts those detections named.</param>
public sealed record ScenarioOutcome(ScenarioLabel Label, IReadOnlyList<string> Rules, double? DelaySeconds, int AccountsCovered)
{
    /// <summary>Whether any detection covered it.</summary>
    public bool Detected => DelaySeconds is not null;
}

/// <summary>What a set of rules made of a labeled trace.</summary>
/// <param name="Scenarios">Each scenario's outcome, in label order.</param>
/// <param name="Detections">Every detection, of rules and detectors.</param>
/// <param name="Events">How many events were read.</param>
/// <param name="Late">Events the engine counted as late.</param>
/// <param name="BenignAccountsActive">Accounts with events in the trace that no scenario names.</param>
/// <param name="BenignAccountsDetected">Those among them that detections named.</param>
public sealed record ScenarioReport(
    IReadOnlyList<ScenarioOutcome> Scenarios,
    IReadOnlyList<DetectionRecord> Detections,
    long Events,
    long Late,
    IReadOnlyList<string> BenignAccountsActive,
    IReadOnlyList<string> BenignAccountsDetected)
{
    /// <summary>Benign accounts in detections as a share of benign accounts active.</summary>
    public double BenignShare => BenignAccountsActive.Count == 0 ? 0 : (double)BenignAccountsDetected.Count / BenignAccountsActive.Count;

    /// <summary>
    /// The median delay of the burst scenarios in seconds, an undetected one counting as an endless delay;
    /// <see langword="null"/> when there is no burst, or when the median is endless.
    /// </summary>
    public double? BurstMedianDelaySeconds
    {
        get
        {
            var delays = Scenarios.Where(s => s.Label.Burst).Select(s => s.DelaySeconds ?? double.PositiveInfinity).Order().ToList();
            if (delays.Count == 0)
            {
                return null;
            }

            var median = delays.Count % 2 == 1 ? delays[delays.Count / 2] : (delays[(delays.Count / 2) - 1] + delays[delays.Count / 2]) / 2;
            return double.IsFinite(median) ? median : null;
        }
    }
}

/// <summary>
/// Runs rules over a labeled trace (<c>events.jsonl</c> and <c>labels.json</c>) the way the server would, in event time,
/// and says, per scenario, whether it was detected and how long after its first event, and which benign accounts
/// ended up in detections. <c>bulwark eval scenarios</c> prints it; the tests hold the default pack to its targets.
/// </summary>
public static class ScenarioEvaluation
{
    /// <summary>How long after a scenario's end a detection still counts for it (event time).</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromMinutes(5);

    /// <summary>Reads <c>labels.json</c>.</summary>
    /// <param name="json">The file's content.</param>
    /// <returns>The scenarios.</returns>
    /// <exception cref="InvalidDataException">It is not scenario labels.</exception>
    public static IReadOnlyList<ScenarioLabel> ReadLabels(Stream json)
    {
        using var document = JsonDocument.Parse(json);
        try
        {
            return [.. document.RootElement.GetProperty("scenarios").EnumerateArray().Select(s => new ScenarioLabel(
                s.GetProperty("id").GetString()!,
                s.GetProperty("kind").GetString()!,
                s.GetProperty("accounts").EnumerateArray().Select(a => a.GetString()!).ToHashSet(StringComparer.Ordinal),
                s.GetProperty("start").GetDateTimeOffset(),
                s.GetProperty("end").GetDateTimeOffset()))];
        }
        catch (Exception error) when (error is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException("Not scenario labels (scenario-labels-v1): " + error.Message, error);
        }
    }

    /// <summary>Reads events, one schema v1 event per line (already decompressed).</summary>
    /// <param name="lines">The lines.</param>
    /// <returns>The events, in file order.</returns>
    /// <exception cref="InvalidDataException">A line is not a valid v1 event (its number says which).</exception>
    public static IEnumerable<NormalizedEvent> ReadEvents(TextReader lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var number = 0;
        while (lines.ReadLine() is { } line)
        {
            number++;
            if (line.Length == 0)
            {
                continue;
            }

            if (!EventJson.TryRead(Encoding.UTF8.GetBytes(line), out var value, out var errors))
            {
                throw new InvalidDataException($"line {number}: not a valid v1 event: {string.Join("; ", errors)}");
            }

            yield return value;
        }
    }

    /// <summary>Runs the rules and detectors over the events and scores the outcome against the labels.</summary>
    /// <param name="rules">The rules (validated together).</param>
    /// <param name="detectors">The statistical detectors.</param>
    /// <param name="events">The trace, in file order.</param>
    /// <param name="labels">Its scenarios.</param>
    /// <param name="options">Engine options; <see langword="null"/> for the server's defaults.</param>
    /// <returns>The report.</returns>
    public static ScenarioReport Run(
        IReadOnlyList<RuleDefinition> rules, IReadOnlyList<DetectorDefinition> detectors, IEnumerable<NormalizedEvent> events, IReadOnlyList<ScenarioLabel> labels, RuleEngineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(labels);

        // The trace is read as fast as it can be: wall time stands still, so only event time moves windows.
        var engine = new RuleEngine(rules, options, new StoppedClock());
        var rates = new RateDetectorEngine(detectors, options?.Lateness);
        var detections = new List<DetectionRecord>();
        var active = new HashSet<string>(StringComparer.Ordinal);
        long count = 0;
        foreach (var e in events)
        {
            count++;
            active.Add(e.AccountId);
            detections.AddRange(engine.Add(e).Select(d => d.ToRecord()));
            detections.AddRange(rates.Add(e));
        }

        detections.AddRange(engine.Flush().Select(d => d.ToRecord()));
        detections.AddRange(rates.Flush());
        var scenarioAccounts = labels.SelectMany(l => l.Accounts).ToHashSet(StringComparer.Ordinal);
        var outcomes = labels.Select(label =>
        {
            var caught = detections
                .Where(d => d.DetectedEventAt >= label.Start && d.DetectedEventAt <= label.End + Grace && d.Accounts.Any(label.Accounts.Contains))
                .OrderBy(d => d.DetectedEventAt)
                .ToList();
            return new ScenarioOutcome(
                label,
                [.. caught.Select(d => d.Rule).Distinct(StringComparer.Ordinal)],
                caught.Count == 0 ? null : (caught[0].DetectedEventAt - label.Start).TotalSeconds,
                caught.SelectMany(d => d.Accounts).Where(label.Accounts.Contains).Distinct(StringComparer.Ordinal).Count());
        }).ToList();
        var benign = active.Where(a => !scenarioAccounts.Contains(a)).Order(StringComparer.Ordinal).ToList();
        var benignSet = benign.ToHashSet(StringComparer.Ordinal);
        var benignDetected = detections.SelectMany(d => d.Accounts).Where(benignSet.Contains).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return new ScenarioReport(outcomes, detections, count, engine.Statistics.Late + rates.Late, benign, benignDetected);
    }

    /// <summary>A wall clock that never moves, so that idle advance never fires while a file is read.</summary>
    private sealed class StoppedClock : TimeProvider
    {
        private static readonly DateTimeOffset Epoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Epoch;
    }
}
