using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;

namespace Bulwark.Server.Response.Connectors;

/// <summary>What notifications and tickets say about an incident, the same way everywhere.</summary>
internal static class IncidentFacts
{
    /// <summary>Entities listed by name in a message; the rest are counted.</summary>
    public const int MaxListed = 20;

    public static string Severity(IncidentRecord incident) => DetectionNames.Name(DetectionNames.Severities, incident.Severity);

    public static string Kind(IncidentRecord incident) => DetectionNames.Name(DetectionNames.IncidentKinds, incident.Kind);

    public static string Confidence(IncidentRecord incident) => incident.Confidence.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>Up to <paramref name="max"/> values joined with commas, then <c>+N more</c>; <c>none</c> when empty.</summary>
    public static string List(IReadOnlyList<string> values, int max = MaxListed)
    {
        if (values.Count == 0)
        {
            return "none";
        }

        var shown = string.Join(", ", values.Take(max));
        return values.Count > max ? $"{shown} (+{values.Count - max} more)" : shown;
    }

    /// <summary>Up to <paramref name="max"/> values as a JSON array.</summary>
    public static JsonArray Array(IReadOnlyList<string> values, int max) => [.. values.Take(max).Select(v => (JsonNode)v)];

    /// <summary>The labelled lines a message lists: severity, confidence, kind, accounts, IPs, rules, platforms.</summary>
    public static IReadOnlyList<(string Label, string Value)> Lines(IncidentRecord incident) =>
    [
        ("Severity", Severity(incident)),
        ("Confidence", Confidence(incident)),
        ("Kind", Kind(incident)),
        ("Accounts", List(incident.Accounts)),
        ("IPs", List(incident.Ips)),
        ("Rules", List(incident.Rules)),
        ("Platforms", List(incident.Platforms)),
    ];

    /// <summary>Cuts a text to <paramref name="max"/> characters, marking the cut.</summary>
    public static string Cut(string text, int max) => text.Length <= max ? text : string.Concat(text.AsSpan(0, max - 1), "…");
}
