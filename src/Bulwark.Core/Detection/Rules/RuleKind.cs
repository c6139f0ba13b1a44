using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Bulwark.Detection.Incidents;
using Bulwark.Identity;
using Bulwark.Manifests;

namespace Bulwark.Detection.Rules;

/// <summary>Wire names of the rule enums.</summary>
public static class RuleNames
{
    /// <summary>Severities by wire name.</summary>
    public static IReadOnlyDictionary<string, Severity> Severities { get; } = new Dictionary<string, Severity>(StringComparer.Ordinal)
    {
        ["low"] = Severity.Low,
        ["medium"] = Severity.Medium,
        ["high"] = Severity.High,
        ["critical"] = Severity.Critical,
    };

    /// <summary>Rule types by wire name.</summary>
    public static IReadOnlyDictionary<string, RuleType> Types { get; } = new Dictionary<string, RuleType>(StringComparer.Ordinal)
    {
        ["count"] = RuleType.Count,
        ["distinct"] = RuleType.Distinct,
        ["sequence"] = RuleType.Sequence,
        ["k_of_n"] = RuleType.KOfN,
        ["first_seen"] = RuleType.FirstSeen,
        ["run"] = RuleType.Run,
    };

    /// <summary>Transforms by wire name.</summary>
    public static IReadOnlyDictionary<string, ValueTransform> Transforms { get; } = new Dictionary<string, ValueTransform>(StringComparer.Ordinal)
    {
        ["none"] = ValueTransform.None,
        ["mailbox_base"] = ValueTransform.MailboxBase,
        ["numeric_suffix"] = ValueTransform.NumericSuffix,
        ["ip_prefix"] = ValueTransform.IpPrefix,
        ["lower"] = ValueTransform.Lower,
    };

    /// <summary>Match operators by wire name.</summary>
    public static IReadOnlyDictionary<string, MatchOperator> Operators { get; } = new Dictionary<string, MatchOperator>(StringComparer.Ordinal)
    {
        ["equals"] = MatchOperator.Equals,
        ["in"] = MatchOperator.In,
        ["prefix"] = MatchOperator.Prefix,
        ["regex"] = MatchOperator.Regex,
        ["cidr"] = MatchOperator.Cidr,
        ["exists"] = MatchOperator.Exists,
        ["gt"] = MatchOperator.GreaterThan,
        ["gte"] = MatchOperator.GreaterOrEqual,
        ["lt"] = MatchOperator.LessThan,
        ["lte"] = MatchOperator.LessOrEqual,
    };

    /// <summary>The wire name of a value.</summary>
    /// <typeparam name="T">The enum.</typeparam>
    /// <param name="names">One of the tables above.</param>
    /// <param name="value">The value.</param>
    /// <returns>Its name.</returns>
    public static string Name<T>(IReadOnlyDictionary<string, T> names, T value)
        where T : struct, Enum => Flags.FlagNames.Name(names, value);
}

/// <summary>
/// Manifest kind <c>Rule</c> (API collection <c>rules</c>). Every error is reported with its JSON Pointer path.
/// <code>
/// name: reset-spray
/// type: distinct            # count | distinct | sequence | k_of_n | first_seen | run
/// severity: medium          # low | medium | high | critical
/// confidence: 0.8
/// suppress: 30m
/// actions: [notify-security]
/// match:
///   all:
///     - { field: event_type, equals: password_reset }
///     - { field: details.phase, in: [requested] }
///     - not: { field: actor.ip, cidr: [10.0.0.0/8] }
/// group_by: [account_id]    # or { field: details.identifier, transform: mailbox_base }
/// field: actor.ip           # distinct, first_seen, run
/// window: 5m                # count, distinct, k_of_n, run; first_seen: how long values are remembered
/// threshold: 3              # count, distinct, run; k for k_of_n
/// # sequence: within: 60s, steps: [{ name: …, match: …, absent: false }]; the absence step is last
/// # k_of_n: rules: [a, b, c]; first_seen: learning: 1h
/// </code>
/// </summary>
/// <remarks>
/// Not yet a <see cref="ManifestKind{T}"/> listed in <see cref="ManifestKinds.All"/>: the server wiring comes with a
/// later change. <see cref="Parse"/> is the validator it will share with the CLI.
/// </remarks>
public static class RuleKind
{
    /// <summary>The value of <c>kind:</c>.</summary>
    public const string Kind = "Rule";

    private const int MaxDepth = 16;
    private const int MaxThreshold = 1_000_000;

    /// <summary>Validates a rule document (with or without <c>kind</c>), returning the definition or every error.</summary>
    /// <param name="document">The document.</param>
    /// <returns>The definition or the errors.</returns>
    public static ManifestResult<RuleDefinition> Parse(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var errors = new List<ManifestError>();
        var reader = new ManifestReader(document, string.Empty, errors);
        reader.Ignore("kind");
        if (document.TryGetPropertyValue("kind", out var kind) && kind?.GetValueKind() is not JsonValueKind.String)
        {
            reader.Error("kind", "must be a string");
        }
        else if (kind is not null && !string.Equals(kind.GetValue<string>(), Kind, StringComparison.Ordinal))
        {
            reader.Error("kind", $"must be '{Kind}' here, not '{kind.GetValue<string>()}'");
        }

        var definition = ReadCore(reader, document, errors);
        reader.RejectUnknownFields();
        return new ManifestResult<RuleDefinition>(errors.Count == 0 ? definition : null, errors);
    }

    /// <summary>
    /// Validates a set of rules together: each rule alone, then that names are unique and that every rule a k-of-n
    /// rule names exists and is not itself k-of-n. Errors carry the document's index as the first path segment
    /// (<c>/2/threshold</c>).
    /// </summary>
    /// <param name="documents">The documents.</param>
    /// <param name="errors">Every error found.</param>
    /// <returns>The definitions, or <see langword="null"/> when there are errors.</returns>
    public static IReadOnlyList<RuleDefinition>? ParseSet(IReadOnlyList<JsonObject> documents, out IReadOnlyList<ManifestError> errors)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var found = new List<ManifestError>();
        var rules = new List<RuleDefinition>();
        var index = new Dictionary<string, (int Index, RuleDefinition Rule)>(StringComparer.Ordinal);
        for (var i = 0; i < documents.Count; i++)
        {
            var result = Parse(documents[i]);
            found.AddRange(result.Errors.Select(e => e with { Path = $"/{i}{e.Path}" }));
            if (result.Value is { } rule)
            {
                if (!index.TryAdd(rule.Name, (i, rule)))
                {
                    found.Add(new ManifestError($"/{i}/name", $"'{rule.Name}' is also the name of rule {index[rule.Name].Index}"));
                }

                rules.Add(rule);
            }
        }

        for (var i = 0; i < documents.Count; i++)
        {
            if (!documents[i].TryGetPropertyValue("name", out var nameNode) || nameNode?.GetValueKind() != JsonValueKind.String ||
                !index.TryGetValue(nameNode.GetValue<string>(), out var entry) || entry.Index != i || entry.Rule.Type != RuleType.KOfN)
            {
                continue;
            }

            for (var r = 0; r < entry.Rule.Rules.Count; r++)
            {
                var name = entry.Rule.Rules[r];
                if (!index.TryGetValue(name, out var named))
                {
                    found.Add(new ManifestError($"/{i}/rules/{r}", $"there is no rule '{name}'"));
                }
                else if (named.Rule.Type == RuleType.KOfN)
                {
                    found.Add(new ManifestError($"/{i}/rules/{r}", $"'{name}' is a k_of_n rule; k_of_n rules combine other kinds only"));
                }
            }
        }

        errors = found;
        return found.Count == 0 ? rules : null;
    }

    internal static RuleDefinition? ReadCore(ManifestReader reader, JsonObject document, List<ManifestError> errors)
    {
        var name = reader.ReadName();
        var description = reader.ReadString("description", maxLength: 2000);
        var type = reader.ReadEnum("type", RuleNames.Types, required: true);
        var severity = reader.ReadEnum("severity", RuleNames.Severities, required: true);
        var confidence = reader.ReadNumber("confidence", 0, 1) ?? 0.5;
        var suppress = reader.ReadDuration("suppress", TimeSpan.Zero, TimeSpan.FromDays(30)) ?? TimeSpan.FromMinutes(15);
        var actions = reader.ReadStringArray("actions") ?? [];
        var groupBy = ReadValueList(reader, "group_by", errors);

        var definition = new RuleDefinition
        {
            Name = name ?? string.Empty,
            Description = description,
            Type = type ?? RuleType.Count,
            Severity = severity ?? Severity.Low,
            Confidence = confidence,
            Suppress = suppress,
            Actions = actions,
            GroupBy = groupBy,
        };

        switch (type)
        {
            case RuleType.Count:
                definition = definition with
                {
                    Match = ReadOptionalMatch(reader, "match"),
                    Window = ReadWindow(reader),
                    Threshold = ReadThreshold(reader, document, "threshold", 1),
                };
                break;
            case RuleType.Distinct:
                definition = definition with
                {
                    Match = ReadOptionalMatch(reader, "match"),
                    Field = ReadRequiredValue(reader, "field", errors),
                    Window = ReadWindow(reader),
                    Threshold = ReadThreshold(reader, document, "threshold", 2),
                };
                break;
            case RuleType.Run:
                definition = definition with
                {
                    Match = ReadOptionalMatch(reader, "match"),
                    Field = ReadRequiredValue(reader, "field", errors),
                    Window = ReadWindow(reader),
                    Threshold = ReadThreshold(reader, document, "threshold", 2),
                };
                break;
            case RuleType.FirstSeen:
                definition = definition with
                {
                    Match = ReadOptionalMatch(reader, "match"),
                    Field = ReadRequiredValue(reader, "field", errors),
                    Window = reader.ReadDuration("window", TimeSpan.FromSeconds(1), TimeSpan.FromDays(400)) ?? TimeSpan.FromDays(30),
                    Learning = reader.ReadDuration("learning", TimeSpan.Zero, TimeSpan.FromDays(400)) ?? TimeSpan.Zero,
                };
                if (definition.GroupBy.Count == 0)
                {
                    reader.Error("group_by", "is required for first_seen: it names the entity whose values are remembered");
                }

                break;
            case RuleType.Sequence:
                definition = definition with
                {
                    Window = reader.ReadDuration("within", TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(7), required: true) ?? TimeSpan.Zero,
                    Steps = ReadSteps(reader),
                };
                break;
            case RuleType.KOfN:
                var rules = reader.ReadStringArray("rules", required: true) ?? [];
                var k = ReadThreshold(reader, document, "threshold", 1);
                if (rules.Count < 2)
                {
                    reader.Error("rules", "must name at least two rules");
                }
                else if (rules.Distinct(StringComparer.Ordinal).Count() != rules.Count)
                {
                    reader.Error("rules", "must not name a rule twice");
                }
                else if (k > rules.Count)
                {
                    reader.Error("threshold", $"must be at most the number of rules ({rules.Count})");
                }

                definition = definition with { Rules = rules, Threshold = k, Window = ReadWindow(reader) };
                if (definition.GroupBy.Count > 0)
                {
                    reader.Error("group_by", "does not apply to k_of_n: it groups by the combined rules' group keys");
                }

                break;
        }

        definition = definition with { Document = Snapshot(document) };
        return name is null || type is null || severity is null ? null : definition;
    }

    private static JsonObject Snapshot(JsonObject document)
    {
        var copy = (JsonObject)document.DeepClone();
        copy.Remove("kind");
        return copy;
    }

    private static TimeSpan ReadWindow(ManifestReader reader) =>
        reader.ReadDuration("window", TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(7), required: true) ?? TimeSpan.Zero;

    private static int ReadThreshold(ManifestReader reader, JsonObject document, string field, int min)
    {
        var value = reader.ReadNumber(field, min, MaxThreshold);
        if (!document.ContainsKey(field))
        {
            reader.Error(field, "is required");
            return 0;
        }

        if (value is { } number && number != Math.Floor(number))
        {
            reader.Error(field, "must be a whole number");
            return 0;
        }

        return (int)(value ?? 0);
    }

    private static List<RuleStep> ReadSteps(ManifestReader reader)
    {
        var items = reader.ReadObjectArray("steps");
        if (items is null)
        {
            reader.Error("steps", "is required");
            return [];
        }

        var steps = new List<RuleStep>(items.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var name = item.ReadName();
            if (name is not null && !names.Add(name))
            {
                item.Error("name", $"'{name}' names another step too");
            }

            var absent = item.ReadBoolean("absent") ?? false;
            var match = ReadMatchField(item, "match", required: true);
            item.RejectUnknownFields();
            if (absent && i != items.Count - 1)
            {
                item.Error("absent", "only the last step can be an absence step");
            }

            if (name is not null && match is not null)
            {
                steps.Add(new RuleStep(name, match, absent));
            }
        }

        var positive = items.Count - (items.Count > 0 && steps.Count == items.Count && steps[^1].Absent ? 1 : 0);
        if (items.Count < 2 || positive < 1)
        {
            reader.Error("steps", "must have at least two steps, the first of them not an absence step");
        }

        return steps;
    }

    internal static MatchExpression? ReadOptionalMatch(ManifestReader reader, string field) => ReadMatchField(reader, field, required: false);

    private static MatchExpression? ReadMatchField(ManifestReader reader, string field, bool required)
    {
        var node = reader.ReadObject(field);
        if (node is null)
        {
            if (required)
            {
                reader.Error(field, "is required");
            }

            return null;
        }

        return ReadMatch(node, 0);
    }

    private static MatchExpression? ReadMatch(ManifestReader reader, int depth)
    {
        if (depth > MaxDepth)
        {
            reader.Error(null, $"nests deeper than {MaxDepth} levels");
            return null;
        }

        var fields = reader.FieldNames;
        if (fields.Contains("all") || fields.Contains("any") || fields.Contains("not"))
        {
            if (fields.Count != 1)
            {
                reader.Error(null, "must have exactly one of 'all', 'any' or 'not' and nothing beside it");
                foreach (var other in fields)
                {
                    reader.Ignore(other);
                }

                return null;
            }

            MatchExpression? result;
            if (fields[0] == "not")
            {
                var inner = reader.ReadObject("not");
                var part = inner is null ? null : ReadMatch(inner, depth + 1);
                result = part is null ? null : new MatchNot(part);
            }
            else
            {
                var items = reader.ReadObjectArray(fields[0]) ?? [];
                var parts = new List<MatchExpression>(items.Count);
                foreach (var item in items)
                {
                    if (ReadMatch(item, depth + 1) is { } part)
                    {
                        parts.Add(part);
                    }
                }

                result = parts.Count != items.Count ? null : fields[0] == "all" ? new MatchAll(parts) : new MatchAny(parts);
            }

            reader.RejectUnknownFields();
            return result;
        }

        var condition = ReadCondition(reader);
        reader.RejectUnknownFields();
        return condition;
    }

    private static MatchCondition? ReadCondition(ManifestReader reader)
    {
        var value = ReadValueFields(reader);
        var operators = reader.FieldNames.Where(RuleNames.Operators.ContainsKey).ToList();
        if (operators.Count != 1)
        {
            reader.Error(null, operators.Count == 0
                ? $"must have 'all', 'any', 'not', or a 'field' with one operator ({string.Join(", ", RuleNames.Operators.Keys)})"
                : $"has {operators.Count} operators ({string.Join(", ", operators)}); write one condition per operator");
            foreach (var op in operators)
            {
                reader.Ignore(op);
            }

            return null;
        }

        var field = operators[0];
        var kind = RuleNames.Operators[field];
        var operands = ReadOperands(reader, field, kind);
        return value is null || operands is null ? null : new MatchCondition(value, kind, operands);
    }

    private static List<string>? ReadOperands(ManifestReader reader, string field, MatchOperator kind)
    {
        var node = reader.ReadRaw(field);
        switch (kind)
        {
            case MatchOperator.Exists:
                if (node is JsonValue flag && flag.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
                {
                    return [flag.GetValue<bool>() ? "true" : "false"];
                }

                reader.Error(field, $"must be true or false, not {ManifestReader.Describe(node)}");
                return null;
            case MatchOperator.In:
            case MatchOperator.Cidr:
                var list = node is JsonArray array ? array.ToList() : kind == MatchOperator.Cidr ? [node] : null;
                if (list is null || list.Count == 0)
                {
                    reader.Error(field, $"must be a non-empty array, not {ManifestReader.Describe(node)}");
                    return null;
                }

                var texts = new List<string>(list.Count);
                for (var i = 0; i < list.Count; i++)
                {
                    var text = ScalarText(list[i]);
                    if (text is null)
                    {
                        reader.Error(field, $"item {i} must be a string, number or boolean, not {ManifestReader.Describe(list[i])}");
                        return null;
                    }

                    if (kind == MatchOperator.Cidr && !Cidr.TryParse(text, out _))
                    {
                        reader.Error(field, $"'{text}' is not a CIDR block such as 10.0.0.0/8 or 2001:db8::/32");
                        return null;
                    }

                    texts.Add(text);
                }

                return texts;
            default:
                var single = ScalarText(node);
                if (single is null)
                {
                    reader.Error(field, $"must be a string, number or boolean, not {ManifestReader.Describe(node)}");
                    return null;
                }

                if (kind == MatchOperator.Regex)
                {
                    try
                    {
                        _ = new Regex(single, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
                    }
                    catch (ArgumentException e)
                    {
                        reader.Error(field, $"is not a valid regular expression: {e.Message}");
                        return null;
                    }
                }

                if (kind is MatchOperator.GreaterThan or MatchOperator.GreaterOrEqual or MatchOperator.LessThan or MatchOperator.LessOrEqual &&
                    !double.TryParse(single, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                {
                    reader.Error(field, $"must be a number, not '{single}'");
                    return null;
                }

                return [single];
        }
    }

    private static string? ScalarText(JsonNode? node) => node is JsonValue value
        ? value.GetValueKind() switch
        {
            JsonValueKind.String => value.GetValue<string>(),
            JsonValueKind.Number => value.ToJsonString(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => null,
        }
        : null;

    internal static List<ValueExpression> ReadValueList(ManifestReader reader, string field, List<ManifestError> errors)
    {
        var node = reader.ReadRaw(field);
        if (node is null)
        {
            return [];
        }

        if (node is not JsonArray array)
        {
            reader.Error(field, $"must be an array of fields, not {ManifestReader.Describe(node)}");
            return [];
        }

        var values = new List<ValueExpression>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            if (ReadValueNode(reader, array[i], $"{reader.PathOf(field)}/{i}", i, field, errors) is { } value)
            {
                values.Add(value);
            }
        }

        return values;
    }

    private static ValueExpression? ReadRequiredValue(ManifestReader reader, string field, List<ManifestError> errors)
    {
        var node = reader.ReadRaw(field);
        if (node is null)
        {
            reader.Error(field, "is required");
            return null;
        }

        return ReadValueNode(reader, node, reader.PathOf(field), null, field, errors);
    }

    private static ValueExpression? ReadValueNode(ManifestReader parent, JsonNode? node, string path, int? index, string field, List<ManifestError> errors)
    {
        if (node is JsonValue text && text.GetValueKind() == JsonValueKind.String)
        {
            var name = text.GetValue<string>();
            if (!EventFields.IsKnown(name))
            {
                Report(parent, field, index, $"'{name}' is not an event field ({string.Join(", ", EventFields.Known)} or details.<name>)");
                return null;
            }

            return new ValueExpression(name);
        }

        if (node is JsonObject obj)
        {
            var before = errors.Count;
            var reader = new ManifestReader(obj, path, errors);
            var value = ReadValueFields(reader);
            reader.RejectUnknownFields();
            return errors.Count == before ? value : null;
        }

        Report(parent, field, index, $"must be a field name or {{ field, transform }}, not {ManifestReader.Describe(node)}");
        return null;
    }

    private static void Report(ManifestReader reader, string field, int? index, string message)
    {
        if (index is { } i)
        {
            reader.ItemError(field, i, message);
        }
        else
        {
            reader.Error(field, message);
        }
    }

    private static ValueExpression? ReadValueFields(ManifestReader reader)
    {
        var name = reader.ReadString("field", required: true, maxLength: 200);
        var transform = reader.ReadEnum("transform", RuleNames.Transforms) ?? ValueTransform.None;
        var bits = reader.ReadNumber("bits", 1, 128);
        if (name is not null && !EventFields.IsKnown(name))
        {
            reader.Error("field", $"'{name}' is not an event field ({string.Join(", ", EventFields.Known)} or details.<name>)");
            return null;
        }

        if (bits is not null && transform != ValueTransform.IpPrefix)
        {
            reader.Error("bits", "applies to the ip_prefix transform only");
            return null;
        }

        if (bits is { } b && b != Math.Floor(b))
        {
            reader.Error("bits", "must be a whole number");
            return null;
        }

        return name is null ? null : new ValueExpression(name, transform, bits is null ? null : (int)bits.Value);
    }
}

/// <summary>
/// The manifest kind <c>Rule</c> (<c>PUT /v1/rules/{name}</c>, <c>bulwark apply</c>): the same validation as
/// <see cref="RuleKind.Parse"/>, with every error at its JSON Pointer.
/// </summary>
public sealed class RuleManifestKind : ManifestKind<RuleDefinition>
{
    /// <summary>The instance.</summary>
    public static RuleManifestKind Instance { get; } = new();

    /// <inheritdoc />
    public override string Kind => RuleKind.Kind;

    /// <inheritdoc />
    public override string Plural => "rules";

    /// <inheritdoc />
    public override Capability ChangeCapability => Capability.Configure;

    /// <inheritdoc />
    protected override RuleDefinition? ReadCore(ManifestReader reader) => RuleKind.ReadCore(reader, reader.Object, reader.Errors);

    /// <inheritdoc />
    protected override string NameOfCore(RuleDefinition definition) => definition.Name;

    /// <inheritdoc />
    protected override JsonObject WriteCore(RuleDefinition definition) => (JsonObject)definition.Document.DeepClone();
}
