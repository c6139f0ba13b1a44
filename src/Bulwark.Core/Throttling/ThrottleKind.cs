using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Bulwark.Identity;
using Bulwark.Manifests;

namespace Bulwark.Throttling;

/// <summary>Wire names of the throttling enums.</summary>
public static class ThrottleNames
{
    /// <summary>Decisions by wire name.</summary>
    public static IReadOnlyDictionary<string, ThrottleDecisionKind> Decisions { get; } = new Dictionary<string, ThrottleDecisionKind>(StringComparer.Ordinal)
    {
        ["allow"] = ThrottleDecisionKind.Allow,
        ["challenge"] = ThrottleDecisionKind.Challenge,
        ["block"] = ThrottleDecisionKind.Block,
    };

    /// <summary>Reasons by wire name.</summary>
    public static IReadOnlyDictionary<string, ThrottleReason> Reasons { get; } = new Dictionary<string, ThrottleReason>(StringComparer.Ordinal)
    {
        ["none"] = ThrottleReason.None,
        ["rate_exceeded"] = ThrottleReason.RateExceeded,
        ["cost_exceeds_burst"] = ThrottleReason.CostExceedsBurst,
        ["escalated"] = ThrottleReason.Escalated,
        ["blocked"] = ThrottleReason.Blocked,
        ["unavailable"] = ThrottleReason.Unavailable,
    };

    /// <summary>Fail modes by wire name.</summary>
    public static IReadOnlyDictionary<string, ThrottleFailMode> FailModes { get; } = new Dictionary<string, ThrottleFailMode>(StringComparer.Ordinal)
    {
        ["open"] = ThrottleFailMode.Open,
        ["closed"] = ThrottleFailMode.Closed,
    };

    /// <summary>The wire name of a value (the lookup is the one flags use).</summary>
    /// <typeparam name="T">The enum.</typeparam>
    /// <param name="names">One of the tables above.</param>
    /// <param name="value">The value.</param>
    /// <returns>Its name.</returns>
    public static string Name<T>(IReadOnlyDictionary<string, T> names, T value)
        where T : struct, Enum => Flags.FlagNames.Name(names, value);
}

/// <summary>
/// Manifest kind <c>Throttle</c> (API collection <c>throttles</c>):
/// <code>
/// name: password-reset
/// layers:
///   - { key: ip, limit: 10, per: 1m }
///   - { name: ip-daily, key: ip, limit: 100, per: 1d }
///   - { key: user, limit: 5, per: 1h, burst: 3 }
/// escalation: { window: 10m, challenge_after: 3, block_after: 10, block_for: 1h }
/// shadow: false
/// fail_mode: open
/// max_keys: 1000000
/// </code>
/// </summary>
public sealed partial class ThrottleKind : ManifestKind<ThrottlePolicy>
{
    private const long MaxCount = 1_000_000_000;

    /// <summary>The shared instance.</summary>
    public static ThrottleKind Instance { get; } = new();

    /// <inheritdoc />
    public override string Kind => "Throttle";

    /// <inheritdoc />
    public override string Plural => "throttles";

    /// <inheritdoc />
    public override Capability ChangeCapability => Capability.Configure;

    /// <inheritdoc />
    protected override ThrottlePolicy? ReadCore(ManifestReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var name = reader.ReadName();
        var description = reader.ReadString("description", maxLength: 1000);
        var layers = ReadLayers(reader);
        var escalation = ReadEscalation(reader);
        var shadow = reader.ReadBoolean("shadow") ?? false;
        var failMode = reader.ReadEnum("fail_mode", ThrottleNames.FailModes) ?? ThrottleFailMode.Open;
        var maxKeys = ReadCount(reader, "max_keys", 1_000, 100_000_000) ?? ThrottlePolicy.DefaultMaxKeys;
        if (name is null || layers is null || reader.ReadRaw("escalation") is not null && escalation is null)
        {
            return null;
        }

        return new ThrottlePolicy
        {
            Name = name,
            Description = description,
            Layers = layers,
            Escalation = escalation,
            Shadow = shadow,
            FailMode = failMode,
            MaxKeys = (int)maxKeys,
        };
    }

    /// <inheritdoc />
    protected override string NameOfCore(ThrottlePolicy definition) => definition.Name;

    /// <inheritdoc />
    protected override JsonObject WriteCore(ThrottlePolicy definition)
    {
        var document = new JsonObject { ["name"] = definition.Name };
        if (definition.Description is { } description)
        {
            document["description"] = description;
        }

        document["layers"] = new JsonArray([.. definition.Layers.Select(l => (JsonNode)new JsonObject
        {
            ["name"] = l.Name,
            ["key"] = l.Key,
            ["limit"] = l.Limit,
            ["per"] = Durations.Format(l.Per),
            ["burst"] = l.Burst,
        })]);
        if (definition.Escalation is { } escalation)
        {
            var node = new JsonObject { ["window"] = Durations.Format(escalation.Window) };
            if (escalation.ChallengeAfter is { } challenge)
            {
                node["challenge_after"] = challenge;
            }

            if (escalation.BlockAfter is { } block)
            {
                node["block_after"] = block;
            }

            node["block_for"] = Durations.Format(escalation.BlockFor);
            document["escalation"] = node;
        }

        document["shadow"] = definition.Shadow;
        document["fail_mode"] = ThrottleNames.Name(ThrottleNames.FailModes, definition.FailMode);
        document["max_keys"] = definition.MaxKeys;
        return document;
    }

    private static List<ThrottleLayer>? ReadLayers(ManifestReader reader)
    {
        var readers = reader.ReadObjectArray("layers");
        if (readers is null)
        {
            if (reader.ReadRaw("layers") is null)
            {
                reader.Error("layers", "is required: at least one layer");
            }

            return null;
        }

        if (readers.Count is 0 or > ThrottlePolicy.MaxLayers)
        {
            reader.Error("layers", $"must have from 1 to {ThrottlePolicy.MaxLayers} layers");
            return null;
        }

        var layers = new List<ThrottleLayer>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var ok = true;
        foreach (var layerReader in readers)
        {
            var key = layerReader.ReadString("key", required: true, maxLength: 63);
            if (key is not null && !KeyPattern().IsMatch(key))
            {
                layerReader.Error("key", "must be global, tenant, account_type, ip, subnet, user or a context key of letters, digits, '_', '-' and '.'");
                key = null;
            }

            var name = layerReader.ReadString("name", maxLength: 63);
            if (name is not null && !KeyPattern().IsMatch(name))
            {
                // Layer names go into RateLimit headers as Structured Field strings: keep them plain.
                layerReader.Error("name", "must be letters, digits, '_', '-' and '.'");
                ok = false;
            }

            name ??= key;
            if (name is not null && !names.Add(name))
            {
                layerReader.Error("name", $"layer '{name}' is declared twice: give layers with the same key distinct names");
                ok = false;
            }

            var limit = ReadCount(layerReader, "limit", 1, MaxCount, required: true);
            var per = layerReader.ReadDuration("per", TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(366), required: true);
            var burst = ReadCount(layerReader, "burst", 1, MaxCount) ?? limit;
            layerReader.RejectUnknownFields();
            if (key is null || name is null || limit is null || per is null || burst is null)
            {
                ok = false;
                continue;
            }

            if (per.Value.Ticks / limit.Value == 0)
            {
                layerReader.Error("limit", "is more than one per 100 ns: use a longer period");
                ok = false;
                continue;
            }

            if (Gcra.EmissionInterval(limit.Value, per.Value) > Gcra.MaxRefill.Ticks / burst.Value)
            {
                layerReader.Error("burst", "takes more than ten years to refill (burst × per ÷ limit)");
                ok = false;
                continue;
            }

            layers.Add(new ThrottleLayer { Name = name, Key = key, Limit = limit.Value, Per = per.Value, Burst = burst.Value });
        }

        return ok ? layers : null;
    }

    private static ThrottleEscalation? ReadEscalation(ManifestReader reader)
    {
        var escalation = reader.ReadObject("escalation");
        if (escalation is null)
        {
            return null;
        }

        var window = escalation.ReadDuration("window", TimeSpan.FromSeconds(1), TimeSpan.FromDays(30), required: true);
        var challengeAfter = ReadCount(escalation, "challenge_after", 1, 1_000_000);
        var blockAfter = ReadCount(escalation, "block_after", 1, 1_000_000);
        var blockFor = escalation.ReadDuration("block_for", TimeSpan.FromSeconds(1), TimeSpan.FromDays(365)) ?? TimeSpan.FromHours(1);
        escalation.RejectUnknownFields();
        if (challengeAfter is null && blockAfter is null && escalation.ReadRaw("challenge_after") is null && escalation.ReadRaw("block_after") is null)
        {
            reader.Error("escalation", "needs challenge_after, block_after or both");
            return null;
        }

        if (challengeAfter is { } c && blockAfter is { } b && c >= b)
        {
            escalation.Error("block_after", "must be larger than challenge_after");
            return null;
        }

        return window is null ? null : new ThrottleEscalation
        {
            Window = window.Value,
            ChallengeAfter = (int?)challengeAfter,
            BlockAfter = (int?)blockAfter,
            BlockFor = blockFor,
        };
    }

    private static long? ReadCount(ManifestReader reader, string field, long min, long max, bool required = false)
    {
        var number = reader.ReadNumber(field, min, max);
        if (number is null)
        {
            if (required && reader.ReadRaw(field) is null)
            {
                reader.Error(field, "is required");
            }

            return null;
        }

        if (number.Value != Math.Floor(number.Value))
        {
            reader.Error(field, "must be a whole number");
            return null;
        }

        return (long)number.Value;
    }

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,63}$")]
    private static partial Regex KeyPattern();
}
