using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Bulwark.Flags;

/// <summary>Why an evaluation gave its value: the OpenFeature reasons (wire names upper case, numbers pinned).</summary>
public enum EvaluationReason
{
    /// <summary>The flag serves one value to everyone (<c>GLOBAL</c>).</summary>
    Static = 1,

    /// <summary>The subject is in a cohort.</summary>
    TargetingMatch = 2,

    /// <summary>The subject's bucket is inside the rollout percentage.</summary>
    Split = 3,

    /// <summary>The flag is <c>OFF</c> or <c>EMERGENCY_OFF</c>.</summary>
    Disabled = 4,

    /// <summary>The subject is in no cohort and outside the percentage: the off variant.</summary>
    Default = 5,

    /// <summary>The evaluation failed; the off variant and an error code.</summary>
    Error = 6,

    /// <summary>The SDK's data is older than its maximum staleness and the flag fails closed.</summary>
    Stale = 7,
}

/// <summary>OpenFeature error codes.</summary>
public enum EvaluationErrorCode
{
    /// <summary>No error.</summary>
    None = 0,

    /// <summary>No flag with this key.</summary>
    FlagNotFound = 1,

    /// <summary>The stickiness attribute needed to bucket the subject is missing.</summary>
    TargetingKeyMissing = 2,

    /// <summary>The client has no data yet.</summary>
    ProviderNotReady = 3,

    /// <summary>The value is not of the type asked for.</summary>
    TypeMismatch = 4,

    /// <summary>Anything else.</summary>
    General = 5,
}

/// <summary>The operational state of a flag: its state and, for <c>CANARY</c>/<c>GRADUAL</c>, the percentage.</summary>
/// <param name="State">The state.</param>
/// <param name="Millipercent">The rollout in 0.001% steps (0 to 100,000); ignored by other states.</param>
public readonly record struct FlagStatus(FlagState State, int Millipercent)
{
    /// <summary>The status of a new flag.</summary>
    public static FlagStatus Off { get; } = new(FlagState.Off, 0);
}

/// <summary>A variant as evaluations return it: its name and value, built once per snapshot.</summary>
/// <param name="Name">The variant name.</param>
/// <param name="Value">The JSON value (treat as read-only).</param>
public sealed record FlagVariant(string Name, JsonNode? Value)
{
    /// <summary>The value as a boolean, when it is one.</summary>
    public bool? AsBoolean { get; } = Value is JsonValue v && v.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False
        ? v.GetValue<bool>()
        : null;
}

/// <summary>The result of evaluating a flag for one subject.</summary>
/// <param name="Variant">The variant served.</param>
/// <param name="Reason">Why.</param>
/// <param name="ErrorCode">The error, when <paramref name="Reason"/> is <see cref="EvaluationReason.Error"/>.</param>
/// <param name="Cohort">The cohort that matched, for <see cref="EvaluationReason.TargetingMatch"/>.</param>
public readonly record struct FlagEvaluation(FlagVariant Variant, EvaluationReason Reason, EvaluationErrorCode ErrorCode = EvaluationErrorCode.None, string? Cohort = null);

/// <summary>The subject of an evaluation: a targeting key and attributes (OpenFeature's evaluation context).</summary>
public sealed class EvaluationContext
{
    /// <summary>The attribute name that refers to the targeting key.</summary>
    public const string TargetingKeyAttribute = "targetingKey";

    private static readonly IReadOnlyDictionary<string, string> NoAttributes = new Dictionary<string, string>();

    private readonly IReadOnlyDictionary<string, string> _attributes;

    /// <summary>Creates a context.</summary>
    /// <param name="targetingKey">The subject's stable key (user or account id); may be null.</param>
    /// <param name="attributes">Other attributes as text (numbers in invariant culture).</param>
    public EvaluationContext(string? targetingKey, IReadOnlyDictionary<string, string>? attributes = null)
    {
        TargetingKey = targetingKey;
        _attributes = attributes ?? NoAttributes;
    }

    /// <summary>The targeting key.</summary>
    public string? TargetingKey { get; }

    /// <summary>An attribute's value, <c>targetingKey</c> included; <see langword="null"/> when missing.</summary>
    /// <param name="attribute">The attribute name.</param>
    /// <returns>The value.</returns>
    public string? Get(string attribute) =>
        attribute == TargetingKeyAttribute ? TargetingKey : _attributes.TryGetValue(attribute, out var value) ? value : null;
}

/// <summary>
/// A flag ready to evaluate: definition and status compiled once (sets, regular expressions, variant results), so that
/// <see cref="Evaluate"/> allocates nothing. The server and every SDK evaluate with this one class, so they cannot
/// disagree. Rules: <c>EMERGENCY_OFF</c> and <c>OFF</c> → off (<c>DISABLED</c>); <c>GLOBAL</c> → on (<c>STATIC</c>);
/// <c>CANARY</c>/<c>GRADUAL</c> → on for a cohort member (<c>TARGETING_MATCH</c>), else on when the subject's bucket is
/// inside the percentage (<c>SPLIT</c>; <c>CANARY</c> is capped at the flag's canary maximum), else off (<c>DEFAULT</c>).
/// </summary>
public sealed class CompiledFlag
{
    private readonly CompiledCohort[] _cohorts;
    private readonly int _millipercent;
    private readonly string _group;
    private readonly string _stickiness;

    /// <summary>Compiles <paramref name="definition"/> in <paramref name="status"/>.</summary>
    /// <param name="definition">A valid definition.</param>
    /// <param name="status">The operational state.</param>
    public CompiledFlag(FlagDefinition definition, FlagStatus status)
    {
        ArgumentNullException.ThrowIfNull(definition);
        Definition = definition;
        Status = status;
        On = new FlagVariant(definition.OnVariant, definition.Variants[definition.OnVariant]);
        Off = new FlagVariant(definition.OffVariant, definition.Variants[definition.OffVariant]);
        _cohorts = [.. definition.Cohorts.Select(c => new CompiledCohort(c))];
        _millipercent = EffectiveMillipercent(definition, status);
        _group = definition.EffectiveBucketingGroup;
        _stickiness = definition.Stickiness;
    }

    private CompiledFlag(CompiledFlag compiled, FlagStatus status)
    {
        Definition = compiled.Definition;
        Status = status;
        On = compiled.On;
        Off = compiled.Off;
        _cohorts = compiled._cohorts;
        _millipercent = EffectiveMillipercent(compiled.Definition, status);
        _group = compiled._group;
        _stickiness = compiled._stickiness;
    }

    /// <summary>The definition.</summary>
    public FlagDefinition Definition { get; }

    /// <summary>The status compiled in.</summary>
    public FlagStatus Status { get; }

    /// <summary>The variant served when on.</summary>
    public FlagVariant On { get; }

    /// <summary>The variant served when off.</summary>
    public FlagVariant Off { get; }

    /// <summary>
    /// The same definition in another status, sharing what was compiled from the definition (sets, regular expressions,
    /// variants): a status change — a kill — costs one small object, not a recompilation.
    /// </summary>
    /// <param name="status">The new operational state.</param>
    /// <returns>This flag when the status is unchanged, else the flag in <paramref name="status"/>.</returns>
    public CompiledFlag WithStatus(FlagStatus status) => status == Status ? this : new CompiledFlag(this, status);

    /// <summary>Evaluates the flag for a subject.</summary>
    /// <param name="context">The subject.</param>
    /// <returns>The variant and the reason.</returns>
    public FlagEvaluation Evaluate(EvaluationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        switch (Status.State)
        {
            case FlagState.EmergencyOff:
            case FlagState.Off:
                return new FlagEvaluation(Off, EvaluationReason.Disabled);
            case FlagState.Global:
                return new FlagEvaluation(On, EvaluationReason.Static);
        }

        foreach (var cohort in _cohorts)
        {
            if (cohort.Matches(context))
            {
                return new FlagEvaluation(On, EvaluationReason.TargetingMatch, Cohort: cohort.Name);
            }
        }

        if (_millipercent == 0)
        {
            return new FlagEvaluation(Off, EvaluationReason.Default);
        }

        var subject = context.Get(_stickiness);
        if (subject is null)
        {
            return new FlagEvaluation(Off, EvaluationReason.Error, EvaluationErrorCode.TargetingKeyMissing);
        }

        return Bucketing.IsIn(Bucketing.Bucket(_group, subject), _millipercent)
            ? new FlagEvaluation(On, EvaluationReason.Split)
            : new FlagEvaluation(Off, EvaluationReason.Default);
    }

    private static int EffectiveMillipercent(FlagDefinition definition, FlagStatus status) => status.State == FlagState.Canary
        ? Math.Min(status.Millipercent, definition.CanaryMaxMillipercent)
        : Math.Clamp(status.Millipercent, 0, Bucketing.Buckets);

    private sealed class CompiledCohort(Cohort cohort)
    {
        private readonly HashSet<string> _allow = new(cohort.Allow, StringComparer.Ordinal);
        private readonly CompiledRule[] _rules = [.. cohort.Rules.Select(r => new CompiledRule(r))];

        public string Name { get; } = cohort.Name;

        public bool Matches(EvaluationContext context)
        {
            if (_allow.Count > 0 && context.TargetingKey is { } key && _allow.Contains(key))
            {
                return true;
            }

            if (_rules.Length == 0)
            {
                return false;
            }

            foreach (var rule in _rules)
            {
                if (!rule.Matches(context))
                {
                    return false;
                }
            }

            return true;
        }
    }

    private sealed class CompiledRule
    {
        private readonly string _attribute;
        private readonly RuleOperator _operator;
        private readonly string[] _values;
        private readonly HashSet<string>? _set;
        private readonly Regex? _regex;
        private readonly double _number;

        public CompiledRule(CohortRule rule)
        {
            _attribute = rule.Attribute;
            _operator = rule.Operator;
            _values = [.. rule.Values];
            _set = rule.Operator is RuleOperator.In or RuleOperator.NotIn ? new HashSet<string>(rule.Values, StringComparer.Ordinal) : null;
            _regex = rule.Operator == RuleOperator.Regex ? new Regex(rule.Values[0], RegexOptions.CultureInvariant, FlagKind.RegexTimeout) : null;
            _number = rule.Operator is >= RuleOperator.NumberLessThan and <= RuleOperator.NumberAtLeast
                ? double.Parse(rule.Values[0], NumberStyles.Float, CultureInfo.InvariantCulture)
                : 0;
        }

        public bool Matches(EvaluationContext context)
        {
            var value = context.Get(_attribute);
            switch (_operator)
            {
                case RuleOperator.Exists:
                    return value is not null;
                case RuleOperator.NotEqualTo:
                    return value is null || !string.Equals(value, _values[0], StringComparison.Ordinal);
                case RuleOperator.NotIn:
                    return value is null || !_set!.Contains(value);
            }

            if (value is null)
            {
                return false;
            }

            switch (_operator)
            {
                case RuleOperator.EqualTo:
                    return string.Equals(value, _values[0], StringComparison.Ordinal);
                case RuleOperator.In:
                    return _set!.Contains(value);
                case RuleOperator.Prefix:
                    foreach (var prefix in _values)
                    {
                        if (value.StartsWith(prefix, StringComparison.Ordinal))
                        {
                            return true;
                        }
                    }

                    return false;
                case RuleOperator.Regex:
                    try
                    {
                        return _regex!.IsMatch(value);
                    }
                    catch (RegexMatchTimeoutException)
                    {
                        return false;
                    }

                case RuleOperator.NumberLessThan:
                case RuleOperator.NumberAtMost:
                case RuleOperator.NumberGreaterThan:
                case RuleOperator.NumberAtLeast:
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                    {
                        return false;
                    }

                    return _operator switch
                    {
                        RuleOperator.NumberLessThan => number < _number,
                        RuleOperator.NumberAtMost => number <= _number,
                        RuleOperator.NumberGreaterThan => number > _number,
                        _ => number >= _number,
                    };
                default:
                    if (!SemanticVersion.TryCompare(value, _values[0], out var order))
                    {
                        return false;
                    }

                    return _operator switch
                    {
                        RuleOperator.SemverLessThan => order < 0,
                        RuleOperator.SemverAtMost => order <= 0,
                        RuleOperator.SemverGreaterThan => order > 0,
                        _ => order >= 0,
                    };
            }
        }
    }
}
