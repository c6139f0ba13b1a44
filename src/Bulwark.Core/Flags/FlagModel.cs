namespace Bulwark.Flags;

/// <summary>What a flag is for; persisted and on the wire as its lower-case name (numbers pinned by a test).</summary>
public enum FlagType
{
    /// <summary>Temporary: guards a release and must name an expiry date.</summary>
    Release = 1,

    /// <summary>Long-lived operational control.</summary>
    Operational = 2,

    /// <summary>Permanent off switch in front of a dangerous path; fails closed by default.</summary>
    KillSwitch = 3,
}

/// <summary>A flag's rollout state. <see cref="EmergencyOff"/> overrides every rule, cohort and override.</summary>
public enum FlagState
{
    /// <summary>Everyone gets the off variant (the state of every new flag).</summary>
    Off = 1,

    /// <summary>Cohorts only, plus at most the flag's canary maximum percentage.</summary>
    Canary = 2,

    /// <summary>Cohorts plus a percentage in 0.001% steps.</summary>
    Gradual = 3,

    /// <summary>Everyone gets the on variant.</summary>
    Global = 4,

    /// <summary>Everyone gets the off variant, whatever else is configured.</summary>
    EmergencyOff = 5,
}

/// <summary>What an SDK does when its data is older than its maximum staleness.</summary>
public enum FailMode
{
    /// <summary>Evaluate to the off variant.</summary>
    Closed = 1,

    /// <summary>Keep evaluating the last known data.</summary>
    LastKnown = 2,
}

/// <summary>How a cohort rule compares a context attribute with its values.</summary>
public enum RuleOperator
{
    /// <summary>Equal to the single value.</summary>
    EqualTo = 1,

    /// <summary>Not equal to the single value (true when the attribute is missing).</summary>
    NotEqualTo = 2,

    /// <summary>One of the values.</summary>
    In = 3,

    /// <summary>None of the values (true when the attribute is missing).</summary>
    NotIn = 4,

    /// <summary>Starts with one of the values.</summary>
    Prefix = 5,

    /// <summary>Matches the regular expression (the single value).</summary>
    Regex = 6,

    /// <summary>The attribute is present.</summary>
    Exists = 7,

    /// <summary>Number less than the value.</summary>
    NumberLessThan = 8,

    /// <summary>Number less than or equal to the value.</summary>
    NumberAtMost = 9,

    /// <summary>Number greater than the value.</summary>
    NumberGreaterThan = 10,

    /// <summary>Number greater than or equal to the value.</summary>
    NumberAtLeast = 11,

    /// <summary>Semantic version less than the value.</summary>
    SemverLessThan = 12,

    /// <summary>Semantic version less than or equal to the value.</summary>
    SemverAtMost = 13,

    /// <summary>Semantic version greater than the value.</summary>
    SemverGreaterThan = 14,

    /// <summary>Semantic version greater than or equal to the value.</summary>
    SemverAtLeast = 15,
}

/// <summary>Wire names of the flag enums, shared by manifests, the API and the SDK.</summary>
public static class FlagNames
{
    /// <summary>Flag types by wire name.</summary>
    public static IReadOnlyDictionary<string, FlagType> Types { get; } = new Dictionary<string, FlagType>(StringComparer.Ordinal)
    {
        ["release"] = FlagType.Release,
        ["operational"] = FlagType.Operational,
        ["kill-switch"] = FlagType.KillSwitch,
    };

    /// <summary>States by wire name.</summary>
    public static IReadOnlyDictionary<string, FlagState> States { get; } = new Dictionary<string, FlagState>(StringComparer.Ordinal)
    {
        ["OFF"] = FlagState.Off,
        ["CANARY"] = FlagState.Canary,
        ["GRADUAL"] = FlagState.Gradual,
        ["GLOBAL"] = FlagState.Global,
        ["EMERGENCY_OFF"] = FlagState.EmergencyOff,
    };

    /// <summary>Fail modes by wire name.</summary>
    public static IReadOnlyDictionary<string, FailMode> FailModes { get; } = new Dictionary<string, FailMode>(StringComparer.Ordinal)
    {
        ["closed"] = FailMode.Closed,
        ["last_known"] = FailMode.LastKnown,
    };

    /// <summary>Rule operators by wire name.</summary>
    public static IReadOnlyDictionary<string, RuleOperator> Operators { get; } = new Dictionary<string, RuleOperator>(StringComparer.Ordinal)
    {
        ["equals"] = RuleOperator.EqualTo,
        ["not_equals"] = RuleOperator.NotEqualTo,
        ["in"] = RuleOperator.In,
        ["not_in"] = RuleOperator.NotIn,
        ["prefix"] = RuleOperator.Prefix,
        ["regex"] = RuleOperator.Regex,
        ["exists"] = RuleOperator.Exists,
        ["num_lt"] = RuleOperator.NumberLessThan,
        ["num_lte"] = RuleOperator.NumberAtMost,
        ["num_gt"] = RuleOperator.NumberGreaterThan,
        ["num_gte"] = RuleOperator.NumberAtLeast,
        ["semver_lt"] = RuleOperator.SemverLessThan,
        ["semver_lte"] = RuleOperator.SemverAtMost,
        ["semver_gt"] = RuleOperator.SemverGreaterThan,
        ["semver_gte"] = RuleOperator.SemverAtLeast,
    };

    /// <summary>The wire name of a value.</summary>
    /// <typeparam name="T">The enum.</typeparam>
    /// <param name="names">One of the tables above.</param>
    /// <param name="value">The value.</param>
    /// <returns>Its wire name.</returns>
    public static string Name<T>(IReadOnlyDictionary<string, T> names, T value)
        where T : struct, Enum
    {
        ArgumentNullException.ThrowIfNull(names);
        foreach (var (name, candidate) in names)
        {
            if (EqualityComparer<T>.Default.Equals(candidate, value))
            {
                return name;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(value), value, null);
    }
}
