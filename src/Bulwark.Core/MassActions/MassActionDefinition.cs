using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Bulwark.Identity;
using Bulwark.Manifests;

namespace Bulwark.MassActions;

/// <summary>
/// The failure-rate breaker of a mass action: it halts the action once at least <see cref="MinSamples"/> results have
/// been reported since it started (or was last resumed) and more than <see cref="MaxFailureRatio"/> of them failed.
/// </summary>
public sealed record MassActionBreaker
{
    /// <summary>The breaker used when a declaration names none.</summary>
    public static MassActionBreaker Default { get; } = new() { MaxFailureRatio = 0.05, MinSamples = 200 };

    /// <summary>The largest failed share of results tolerated, from 0 to 1 (1 never trips).</summary>
    /// <value>Default 0.05.</value>
    public required double MaxFailureRatio { get; init; }

    /// <summary>How many results must be in before the ratio is judged.</summary>
    /// <value>Default 200.</value>
    public required long MinSamples { get; init; }

    /// <summary>Whether <paramref name="failed"/> of <paramref name="results"/> trips the breaker.</summary>
    /// <param name="results">Results reported since the action started or was last resumed.</param>
    /// <param name="failed">How many of them failed.</param>
    /// <returns><see langword="true"/> when the action must halt.</returns>
    public bool Trips(long results, long failed) => results >= MinSamples && results > 0 && (double)failed / results > MaxFailureRatio;
}

/// <summary>
/// The declared part of a mass action: manifest kind <c>MassAction</c> and the body of <c>POST /v1/mass-actions</c>.
/// A declaration is fixed once created; its progress and state live in <see cref="MassActionRecord"/>.
/// </summary>
public sealed record MassActionDefinition
{
    /// <summary>The mass action's name, unique (<c>reset-2026-11</c>).</summary>
    public required string Name { get; init; }

    /// <summary>What the job does (<c>password-reset</c>); passed to the throttle as the key <c>action</c>.</summary>
    public required string Action { get; init; }

    /// <summary>What it is for, for people.</summary>
    public string? Description { get; init; }

    /// <summary>The flag in front of the job: <c>EMERGENCY_OFF</c> halts it, <c>OFF</c> (or archived) pauses it.</summary>
    public required string Flag { get; init; }

    /// <summary>A throttle every permit is also taken from; <see langword="null"/> for none.</summary>
    public string? Throttle { get; init; }

    /// <summary>How many units (accounts, messages) the job may touch; permits never exceed it.</summary>
    public required long AudienceSize { get; init; }

    /// <summary>The most permits per minute (a GCRA cap of its own); <see langword="null"/> for none.</summary>
    public long? MaxPerMinute { get; init; }

    /// <summary>The failure-rate breaker.</summary>
    /// <value>Default <see cref="MassActionBreaker.Default"/>.</value>
    public MassActionBreaker Breaker { get; init; } = MassActionBreaker.Default;

    /// <summary>
    /// The identities whose tokens may ask for permits and report results. Empty: identities with the <c>operator</c>
    /// (or <c>admin</c>) role.
    /// </summary>
    public IReadOnlyList<string> Workers { get; init; } = [];
}

/// <summary>
/// Manifest kind <c>MassAction</c> (API collection <c>mass-actions</c>):
/// <code>
/// name: reset-2026-11
/// action: password-reset
/// flag: bulk-password-reset
/// throttle: password-reset
/// audience_size: 120000
/// max_per_minute: 600
/// breaker: { max_failure_ratio: 0.05, min_samples: 200 }
/// workers: [reset-worker]
/// </code>
/// </summary>
public sealed partial class MassActionKind : ManifestKind<MassActionDefinition>
{
    /// <summary>The prefix of mass action ids; names may not start with it, so a path segment is one or the other.</summary>
    public const string IdPrefix = "ma_";

    /// <summary>The largest audience and cap accepted.</summary>
    public const long MaxCount = 1_000_000_000;

    /// <summary>The most worker identities one mass action may name.</summary>
    public const int MaxWorkers = 32;

    /// <summary>The shared instance.</summary>
    public static MassActionKind Instance { get; } = new();

    /// <inheritdoc />
    public override string Kind => "MassAction";

    /// <inheritdoc />
    public override string Plural => "mass-actions";

    /// <inheritdoc />
    public override Capability ChangeCapability => Capability.Configure;

    /// <summary>Reads a whole number field from <paramref name="min"/> to <paramref name="max"/>.</summary>
    /// <param name="reader">The reader.</param>
    /// <param name="field">The field name.</param>
    /// <param name="min">The smallest value accepted.</param>
    /// <param name="max">The largest value accepted.</param>
    /// <param name="required">Whether a missing value is an error.</param>
    /// <returns>The value, or <see langword="null"/> when missing or wrong (an error is recorded when wrong).</returns>
    public static long? ReadWholeNumber(ManifestReader reader, string field, long min, long max, bool required = false)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (reader.ReadRaw(field) is null)
        {
            if (required)
            {
                reader.Error(field, "is required");
            }

            return null;
        }

        var number = reader.ReadNumber(field, min, max);
        if (number is { } value && value != Math.Floor(value))
        {
            reader.Error(field, "must be a whole number");
            return null;
        }

        return (long?)number;
    }

    /// <inheritdoc />
    protected override MassActionDefinition? ReadCore(ManifestReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var name = reader.ReadName();
        if (name is not null && name.StartsWith(IdPrefix, StringComparison.Ordinal))
        {
            reader.Error("name", $"must not start with '{IdPrefix}', which starts mass action ids");
            name = null;
        }

        var action = reader.ReadName("action");
        var description = reader.ReadString("description", maxLength: 1000);
        var flag = reader.ReadName("flag");
        var throttle = reader.ReadRaw("throttle") is null ? null : reader.ReadName("throttle");
        var audience = ReadWholeNumber(reader, "audience_size", 1, MaxCount, required: true);
        var maxPerMinute = ReadWholeNumber(reader, "max_per_minute", 1, MaxCount);
        if (reader.ReadRaw("throttle") is null && reader.ReadRaw("max_per_minute") is null)
        {
            reader.Error("max_per_minute", "a mass action needs a throttle, a max_per_minute cap, or both");
        }

        var breaker = ReadBreaker(reader);
        var workers = ReadWorkers(reader);
        if (name is null || action is null || flag is null || audience is null || breaker is null || workers is null)
        {
            return null;
        }

        return new MassActionDefinition
        {
            Name = name,
            Action = action,
            Description = description,
            Flag = flag,
            Throttle = throttle,
            AudienceSize = audience.Value,
            MaxPerMinute = maxPerMinute,
            Breaker = breaker,
            Workers = workers,
        };
    }

    /// <inheritdoc />
    protected override string NameOfCore(MassActionDefinition definition) => definition.Name;

    /// <inheritdoc />
    protected override JsonObject WriteCore(MassActionDefinition definition)
    {
        var document = new JsonObject { ["name"] = definition.Name, ["action"] = definition.Action };
        if (definition.Description is { } description)
        {
            document["description"] = description;
        }

        document["flag"] = definition.Flag;
        if (definition.Throttle is { } throttle)
        {
            document["throttle"] = throttle;
        }

        document["audience_size"] = definition.AudienceSize;
        if (definition.MaxPerMinute is { } cap)
        {
            document["max_per_minute"] = cap;
        }

        document["breaker"] = new JsonObject
        {
            ["max_failure_ratio"] = definition.Breaker.MaxFailureRatio,
            ["min_samples"] = definition.Breaker.MinSamples,
        };
        document["workers"] = new JsonArray([.. definition.Workers.Select(w => (JsonNode)w)]);
        return document;
    }

    private static MassActionBreaker? ReadBreaker(ManifestReader reader)
    {
        if (reader.ReadRaw("breaker") is null)
        {
            return MassActionBreaker.Default;
        }

        var breaker = reader.ReadObject("breaker");
        if (breaker is null)
        {
            return null;
        }

        var ratio = breaker.ReadNumber("max_failure_ratio", 0, 1);
        if (ratio is null && breaker.ReadRaw("max_failure_ratio") is null)
        {
            breaker.Error("max_failure_ratio", "is required: the failed share of results, from 0 to 1, above which the action halts");
        }

        var samples = ReadWholeNumber(breaker, "min_samples", 1, MaxCount) ?? MassActionBreaker.Default.MinSamples;
        breaker.RejectUnknownFields();
        return ratio is null ? null : new MassActionBreaker { MaxFailureRatio = ratio.Value, MinSamples = samples };
    }

    private static List<string>? ReadWorkers(ManifestReader reader)
    {
        var workers = reader.ReadStringArray("workers");
        if (workers is null)
        {
            return reader.ReadRaw("workers") is null ? [] : null;
        }

        if (workers.Count > MaxWorkers)
        {
            reader.Error("workers", $"must name at most {MaxWorkers} identities");
            return null;
        }

        var ok = true;
        for (var i = 0; i < workers.Count; i++)
        {
            if (!IdentityName().IsMatch(workers[i]))
            {
                reader.ItemError("workers", i, "must be an identity name");
                ok = false;
            }
        }

        return ok ? [.. workers.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)] : null;
    }

    [GeneratedRegex(@"\A[a-z0-9][a-z0-9._-]{0,62}\z", RegexOptions.CultureInvariant)]
    private static partial Regex IdentityName();
}
