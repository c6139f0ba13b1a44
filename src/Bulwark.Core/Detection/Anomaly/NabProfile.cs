using System.Text.Json;

namespace Bulwark.Detection.Anomaly;

/// <summary>
/// One of NAB's scoring profiles (<c>config/profiles.json</c>): the weights of a detected window (true positive), a
/// detection outside every window (false positive) and a missed window (false negative).
/// </summary>
/// <param name="Name">The profile's name in NAB: <c>standard</c>, <c>reward_low_FP_rate</c> or <c>reward_low_FN_rate</c>.</param>
/// <param name="TruePositiveWeight">NAB's <c>tpWeight</c>: the credit of a window detected at its very first row.</param>
/// <param name="FalsePositiveWeight">NAB's <c>fpWeight</c>: the cost of a detection far from any window.</param>
/// <param name="FalseNegativeWeight">NAB's <c>fnWeight</c>: the cost of a window with no detection.</param>
public sealed record NabProfile(string Name, double TruePositiveWeight, double FalsePositiveWeight, double FalseNegativeWeight)
{
    /// <summary>NAB's <c>standard</c> profile: TP 1, FP 0.11, FN 1.</summary>
    public static NabProfile Standard { get; } = new("standard", 1.0, 0.11, 1.0);

    /// <summary>NAB's <c>reward_low_FP_rate</c> profile: TP 1, FP 0.22, FN 1.</summary>
    public static NabProfile RewardLowFalsePositives { get; } = new("reward_low_FP_rate", 1.0, 0.22, 1.0);

    /// <summary>NAB's <c>reward_low_FN_rate</c> profile: TP 1, FP 0.11, FN 2.</summary>
    public static NabProfile RewardLowFalseNegatives { get; } = new("reward_low_FN_rate", 1.0, 0.11, 2.0);

    /// <summary>The three profiles NAB reports, in NAB's order.</summary>
    public static IReadOnlyList<NabProfile> All { get; } = [Standard, RewardLowFalsePositives, RewardLowFalseNegatives];

    /// <summary>Reads NAB's <c>profiles.json</c> (<c>{"name": {"CostMatrix": {"tpWeight": …, "fpWeight": …, "fnWeight": …}}}</c>).</summary>
    /// <param name="json">The file's content; the caller owns the stream.</param>
    /// <returns>The profiles in the file's order.</returns>
    /// <exception cref="FormatException">The file is not in NAB's shape.</exception>
    public static IReadOnlyList<NabProfile> Read(Stream json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var document = JsonDocument.Parse(json);
        var profiles = new List<NabProfile>();
        foreach (var profile in document.RootElement.EnumerateObject())
        {
            if (!profile.Value.TryGetProperty("CostMatrix", out var matrix))
            {
                throw new FormatException($"profile '{profile.Name}' has no CostMatrix");
            }

            profiles.Add(new NabProfile(profile.Name, Weight(matrix, "tpWeight"), Weight(matrix, "fpWeight"), Weight(matrix, "fnWeight")));
        }

        return profiles;

        double Weight(JsonElement matrix, string name) =>
            matrix.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
                ? value.GetDouble()
                : throw new FormatException($"profile has no numeric {name}");
    }
}
