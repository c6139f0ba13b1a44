using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Bulwark.Identity;
using Bulwark.Manifests;

namespace Bulwark.Flags;

/// <summary>One condition of a cohort: a context attribute compared with values.</summary>
public sealed record CohortRule
{
    /// <summary>The context attribute (<c>targetingKey</c> for the targeting key).</summary>
    public required string Attribute { get; init; }

    /// <summary>The comparison.</summary>
    public required RuleOperator Operator { get; init; }

    /// <summary>The values, as invariant text (empty for <see cref="RuleOperator.Exists"/>).</summary>
    public required IReadOnlyList<string> Values { get; init; }
}

/// <summary>A named group of subjects that is in whenever the flag is <c>CANARY</c> or <c>GRADUAL</c>.</summary>
public sealed record Cohort
{
    /// <summary>The cohort's name, shown as the reason's detail.</summary>
    public required string Name { get; init; }

    /// <summary>Conditions that must all hold (an empty list never matches on its own).</summary>
    public required IReadOnlyList<CohortRule> Rules { get; init; }

    /// <summary>Targeting keys that are always in the cohort.</summary>
    public required IReadOnlyList<string> Allow { get; init; }
}

/// <summary>
/// The declared part of a flag: manifest kind <c>Flag</c> and the body of <c>PUT /v1/flags/{key}</c>. Its rollout state
/// is not declared here: state changes go through their own audited, approval-gated calls.
/// </summary>
public sealed record FlagDefinition
{
    /// <summary>The variant names used when none are declared: <c>on</c> (true) and <c>off</c> (false).</summary>
    public static IReadOnlyDictionary<string, JsonNode?> BooleanVariants { get; } =
        new Dictionary<string, JsonNode?>(StringComparer.Ordinal) { ["on"] = true, ["off"] = false };

    /// <summary>The flag key.</summary>
    public required string Key { get; init; }

    /// <summary>What the flag is for.</summary>
    public required FlagType Type { get; init; }

    /// <summary>The owning team or person.</summary>
    public required string Owner { get; init; }

    /// <summary>Why the flag exists.</summary>
    public required string Purpose { get; init; }

    /// <summary>When the flag should be gone (required for <see cref="FlagType.Release"/>).</summary>
    public DateOnly? Expires { get; init; }

    /// <summary>Variant values by name; all of one JSON type.</summary>
    /// <value>Default <see cref="BooleanVariants"/>.</value>
    public IReadOnlyDictionary<string, JsonNode?> Variants { get; init; } = BooleanVariants;

    /// <summary>The variant served when the flag is on for a subject.</summary>
    /// <value>Default <c>on</c>.</value>
    public string OnVariant { get; init; } = "on";

    /// <summary>The variant served when the flag is off (the safe default).</summary>
    /// <value>Default <c>off</c>.</value>
    public string OffVariant { get; init; } = "off";

    /// <summary>Cohorts that are in during <c>CANARY</c> and <c>GRADUAL</c>.</summary>
    public IReadOnlyList<Cohort> Cohorts { get; init; } = [];

    /// <summary>The context attribute that buckets subjects.</summary>
    /// <value>Default <c>targetingKey</c>.</value>
    public string Stickiness { get; init; } = "targetingKey";

    /// <summary>Flags sharing a bucketing group bucket every subject alike.</summary>
    /// <value>Default the flag key.</value>
    public string? BucketingGroup { get; init; }

    /// <summary>What an SDK does with stale data.</summary>
    /// <value>Default <see cref="FailMode.Closed"/> for kill switches, <see cref="FailMode.LastKnown"/> otherwise.</value>
    public FailMode? FailMode { get; init; }

    /// <summary>The largest percentage <c>CANARY</c> may serve, in 0.001% steps.</summary>
    /// <value>Default 1,000 (1%).</value>
    public int CanaryMaxMillipercent { get; init; } = 1000;

    /// <summary>The fail mode in force.</summary>
    public FailMode EffectiveFailMode => FailMode ?? (Type == FlagType.KillSwitch ? Flags.FailMode.Closed : Flags.FailMode.LastKnown);

    /// <summary>The bucketing group in force.</summary>
    public string EffectiveBucketingGroup => BucketingGroup ?? Key;
}

/// <summary>Manifest kind <c>Flag</c>; see <c>docs/flags.md</c> for every field.</summary>
public sealed class FlagKind : ManifestKind<FlagDefinition>
{
    /// <summary>How long a rule's regular expression may run per evaluation.</summary>
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(50);

    /// <summary>The shared instance.</summary>
    public static FlagKind Instance { get; } = new();

    /// <summary>
    /// A short hash of a definition's canonical document (32 hex characters of SHA-256): the change stream carries it so
    /// that a client holding this definition applies a status change without parsing the definition again. Server and
    /// SDK compute it here, so they cannot disagree.
    /// </summary>
    /// <param name="definition">The definition.</param>
    /// <returns>The hash.</returns>
    public static string DefinitionHash(FlagDefinition definition) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(Json.CanonicalJson.Serialize(Instance.ToDocument(definition))!)))[..32];

    /// <inheritdoc />
    public override string Kind => "Flag";

    /// <inheritdoc />
    public override string Plural => "flags";

    /// <inheritdoc />
    public override Capability ChangeCapability => Capability.Configure;

    /// <inheritdoc />
    protected override FlagDefinition? ReadCore(ManifestReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var key = reader.ReadName("key");
        var type = reader.ReadEnum("type", FlagNames.Types, required: true);
        var owner = reader.ReadString("owner", required: true, maxLength: 200);
        var purpose = reader.ReadString("purpose", required: true, maxLength: 1000);
        var expires = ReadDate(reader, "expires");
        if (type == FlagType.Release && expires is null && reader.ReadRaw("expires") is null)
        {
            reader.Error("expires", "is required for a release flag (YYYY-MM-DD)");
        }

        var variants = ReadVariants(reader, out var variantNames);
        var onVariant = reader.ReadString("on_variant", maxLength: 63) ?? "on";
        var offVariant = reader.ReadString("off_variant", maxLength: 63) ?? "off";
        if (!variantNames.Contains(onVariant))
        {
            reader.Error("on_variant", $"'{onVariant}' is not one of the variants");
        }

        if (!variantNames.Contains(offVariant))
        {
            reader.Error("off_variant", $"'{offVariant}' is not one of the variants");
        }

        if (onVariant == offVariant)
        {
            reader.Error("off_variant", "must differ from on_variant");
        }

        var cohorts = ReadCohorts(reader);
        var stickiness = reader.ReadString("stickiness", maxLength: 200) ?? "targetingKey";
        var group = reader.ReadString("bucketing_group", maxLength: 63);
        var failMode = reader.ReadEnum("fail_mode", FlagNames.FailModes);
        var canaryMax = reader.ReadNumber("canary_max", 0, 100);
        var canaryMillipercent = 1000;
        if (canaryMax is { } percent && !Bucketing.TryToMillipercent(percent, out canaryMillipercent))
        {
            reader.Error("canary_max", "must be a multiple of 0.001");
        }

        if (key is null || type is null || owner is null || purpose is null || variants is null || cohorts is null)
        {
            return null;
        }

        return new FlagDefinition
        {
            Key = key,
            Type = type.Value,
            Owner = owner,
            Purpose = purpose,
            Expires = expires,
            Variants = variants,
            OnVariant = onVariant,
            OffVariant = offVariant,
            Cohorts = cohorts,
            Stickiness = stickiness,
            BucketingGroup = group,
            FailMode = failMode,
            CanaryMaxMillipercent = canaryMillipercent,
        };
    }

    /// <inheritdoc />
    protected override string NameOfCore(FlagDefinition definition) => definition.Key;

    /// <inheritdoc />
    protected override JsonObject WriteCore(FlagDefinition definition)
    {
        var document = new JsonObject
        {
            ["key"] = definition.Key,
            ["type"] = FlagNames.Name(FlagNames.Types, definition.Type),
            ["owner"] = definition.Owner,
            ["purpose"] = definition.Purpose,
        };
        if (definition.Expires is { } expires)
        {
            document["expires"] = expires.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        }

        var variants = new JsonObject();
        foreach (var (name, value) in definition.Variants)
        {
            variants[name] = value?.DeepClone();
        }

        document["variants"] = variants;
        document["on_variant"] = definition.OnVariant;
        document["off_variant"] = definition.OffVariant;
        document["cohorts"] = new JsonArray([.. definition.Cohorts.Select(c => (JsonNode)new JsonObject
        {
            ["name"] = c.Name,
            ["rules"] = new JsonArray([.. c.Rules.Select(r => (JsonNode)new JsonObject
            {
                ["attribute"] = r.Attribute,
                ["op"] = FlagNames.Name(FlagNames.Operators, r.Operator),
                ["values"] = new JsonArray([.. r.Values.Select(v => (JsonNode)v)]),
            })]),
            ["allow"] = new JsonArray([.. c.Allow.Select(a => (JsonNode)a)]),
        })]);
        document["stickiness"] = definition.Stickiness;
        document["bucketing_group"] = definition.EffectiveBucketingGroup;
        document["fail_mode"] = FlagNames.Name(FlagNames.FailModes, definition.EffectiveFailMode);
        document["canary_max"] = definition.CanaryMaxMillipercent / (double)Bucketing.BucketsPerPercent;
        return document;
    }

    private static DateOnly? ReadDate(ManifestReader reader, string field)
    {
        var text = reader.ReadString(field, maxLength: 10);
        if (text is null)
        {
            return null;
        }

        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return date;
        }

        reader.Error(field, "must be a date as YYYY-MM-DD");
        return null;
    }

    private static Dictionary<string, JsonNode?>? ReadVariants(ManifestReader reader, out IReadOnlyList<string> names)
    {
        var variantsReader = reader.ReadObject("variants");
        if (variantsReader is null)
        {
            names = [.. FlagDefinition.BooleanVariants.Keys];
            return new Dictionary<string, JsonNode?>(FlagDefinition.BooleanVariants, StringComparer.Ordinal);
        }

        names = variantsReader.FieldNames;

        var variants = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        JsonValueKind? kind = null;
        var ok = true;
        foreach (var name in variantsReader.FieldNames)
        {
            var value = variantsReader.ReadRaw(name);
            var valueKind = value?.GetValueKind() switch
            {
                JsonValueKind.True or JsonValueKind.False => JsonValueKind.True,
                var other => other ?? JsonValueKind.Null,
            };
            if (valueKind is JsonValueKind.Null or JsonValueKind.Array)
            {
                variantsReader.Error(name, "must be a boolean, string, number or object");
                ok = false;
                continue;
            }

            if (kind is not null && kind != valueKind)
            {
                variantsReader.Error(name, "must be of the same type as the other variants");
                ok = false;
            }

            kind ??= valueKind;
            variants[name] = value?.DeepClone();
        }

        if (variants.Count < 2)
        {
            reader.Error("variants", "must declare at least two variants (one on, one off)");
            ok = false;
        }

        return ok ? variants : null;
    }

    private static List<Cohort>? ReadCohorts(ManifestReader reader)
    {
        var cohorts = new List<Cohort>();
        var ok = true;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var cohortReader in reader.ReadObjectArray("cohorts") ?? [])
        {
            var name = cohortReader.ReadName();
            if (name is not null && !names.Add(name))
            {
                cohortReader.Error("name", $"cohort '{name}' is declared twice");
            }

            var allow = cohortReader.ReadStringArray("allow") ?? [];
            var rules = new List<CohortRule>();
            var ruleReaders = cohortReader.ReadObjectArray("rules") ?? [];
            foreach (var ruleReader in ruleReaders)
            {
                var rule = ReadRule(ruleReader);
                ruleReader.RejectUnknownFields();
                if (rule is null)
                {
                    ok = false;
                }
                else
                {
                    rules.Add(rule);
                }
            }

            if (allow.Count == 0 && ruleReaders.Count == 0)
            {
                cohortReader.Error(null, "a cohort needs rules, an allow list, or both");
                ok = false;
            }

            cohortReader.RejectUnknownFields();
            if (name is null)
            {
                ok = false;
                continue;
            }

            cohorts.Add(new Cohort { Name = name, Rules = rules, Allow = allow });
        }

        return ok ? cohorts : null;
    }

    private static CohortRule? ReadRule(ManifestReader reader)
    {
        var attribute = reader.ReadString("attribute", required: true, maxLength: 200);
        var op = reader.ReadEnum("op", FlagNames.Operators, required: true);
        var values = reader.ReadScalarArray("values") ?? [];
        if (op is null || attribute is null)
        {
            return null;
        }

        var single = op is not (RuleOperator.In or RuleOperator.NotIn or RuleOperator.Prefix or RuleOperator.Exists);
        if (op == RuleOperator.Exists && values.Count > 0)
        {
            reader.Error("values", "must be empty for 'exists'");
            return null;
        }

        if (op != RuleOperator.Exists && values.Count == 0)
        {
            reader.Error("values", "needs at least one value");
            return null;
        }

        if (single && values.Count != 1)
        {
            reader.Error("values", $"needs exactly one value for '{FlagNames.Name(FlagNames.Operators, op.Value)}'");
            return null;
        }

        var problem = op switch
        {
            RuleOperator.Regex => TryRegex(values[0]),
            RuleOperator.NumberLessThan or RuleOperator.NumberAtMost or RuleOperator.NumberGreaterThan or RuleOperator.NumberAtLeast =>
                double.TryParse(values[0], NumberStyles.Float, CultureInfo.InvariantCulture, out _) ? null : "must be a number",
            RuleOperator.SemverLessThan or RuleOperator.SemverAtMost or RuleOperator.SemverGreaterThan or RuleOperator.SemverAtLeast =>
                SemanticVersion.IsValid(values[0]) ? null : "must be a semantic version such as 2.4.0",
            _ => null,
        };
        if (problem is not null)
        {
            reader.ItemError("values", 0, problem);
            return null;
        }

        return new CohortRule { Attribute = attribute, Operator = op.Value, Values = values };
    }

    private static string? TryRegex(string pattern)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.CultureInvariant, RegexTimeout);
            return null;
        }
        catch (ArgumentException error)
        {
            return "is not a valid regular expression: " + error.Message;
        }
    }
}
