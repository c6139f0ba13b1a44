using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;

namespace Bulwark.Detection.Rules;

/// <summary>What a rule counts. Persisted and on the wire by name; the numbers are pinned by tests.</summary>
public enum RuleType
{
    /// <summary>At least <c>threshold</c> matching events per group within <c>window</c> (Sigma <c>event_count</c>).</summary>
    Count = 1,

    /// <summary>At least <c>threshold</c> distinct values of <c>field</c> per group within <c>window</c> (Sigma <c>value_count</c>).</summary>
    Distinct = 2,

    /// <summary>Ordered steps per group within <c>within</c>, optionally ending in an absence step (EQL sequences).</summary>
    Sequence = 3,

    /// <summary>At least <c>k</c> of the named rules fired for the same group key within <c>window</c>.</summary>
    KOfN = 4,

    /// <summary>A value of <c>field</c> never seen before for the group (a new country or device for an account).</summary>
    FirstSeen = 5,

    /// <summary>At least <c>threshold</c> consecutive numbers of <c>field</c> per group within <c>window</c> (sequential ids).</summary>
    Run = 6,
}

/// <summary>A transform applied to a field's value before it is compared, grouped or counted.</summary>
public enum ValueTransform
{
    /// <summary>The value as it is.</summary>
    None = 0,

    /// <summary>The mailbox without its <c>+tag</c>, lower case; for gmail-like providers also without dots in the local part.</summary>
    MailboxBase = 1,

    /// <summary>The trailing digits as a number without leading zeros (<c>acct_000123</c> → <c>123</c>).</summary>
    NumericSuffix = 2,

    /// <summary>The network of an IP address: <c>/24</c> for IPv4 and <c>/64</c> for IPv6 unless <c>bits</c> says otherwise.</summary>
    IpPrefix = 3,

    /// <summary>The value in lower case (invariant).</summary>
    Lower = 4,
}

/// <summary>
/// A value taken from an event: a field path (<c>account_id</c>, <c>actor.ip</c>, <c>details.identifier</c>, …) and an
/// optional transform. Manifests write it as the path alone or as <c>{ field: …, transform: …, bits: … }</c>.
/// </summary>
/// <param name="Field">The field path (see <see cref="EventFields.Known"/>; any <c>details.&lt;name&gt;</c>).</param>
/// <param name="Transform">The transform.</param>
/// <param name="Bits">The prefix length for <see cref="ValueTransform.IpPrefix"/>, or <see langword="null"/> for the default.</param>
public sealed record ValueExpression(string Field, ValueTransform Transform = ValueTransform.None, int? Bits = null)
{
    /// <inheritdoc />
    public override string ToString() => Transform switch
    {
        ValueTransform.None => Field,
        ValueTransform.IpPrefix when Bits is { } bits => $"{RuleNames.Name(RuleNames.Transforms, Transform)}/{bits}({Field})",
        _ => $"{RuleNames.Name(RuleNames.Transforms, Transform)}({Field})",
    };
}

/// <summary>A comparison operator of a match condition.</summary>
public enum MatchOperator
{
    /// <summary>The value equals the operand (ordinal text comparison).</summary>
    Equals = 1,

    /// <summary>The value is one of the operands.</summary>
    In = 2,

    /// <summary>The value starts with the operand (ordinal).</summary>
    Prefix = 3,

    /// <summary>The value matches the regular expression (.NET syntax, culture-invariant, 100 ms timeout).</summary>
    Regex = 4,

    /// <summary>The value is an IP address inside one of the CIDR blocks.</summary>
    Cidr = 5,

    /// <summary>The value is present (<c>exists: true</c>) or absent (<c>exists: false</c>).</summary>
    Exists = 6,

    /// <summary>The value is a number greater than the operand.</summary>
    GreaterThan = 7,

    /// <summary>The value is a number greater than or equal to the operand.</summary>
    GreaterOrEqual = 8,

    /// <summary>The value is a number less than the operand.</summary>
    LessThan = 9,

    /// <summary>The value is a number less than or equal to the operand.</summary>
    LessOrEqual = 10,
}

/// <summary>A match expression: a tree of <c>all</c>, <c>any</c>, <c>not</c> and conditions.</summary>
public abstract record MatchExpression;

/// <summary>Every part matches (an empty list always matches).</summary>
/// <param name="Parts">The parts.</param>
public sealed record MatchAll(IReadOnlyList<MatchExpression> Parts) : MatchExpression;

/// <summary>At least one part matches.</summary>
/// <param name="Parts">The parts.</param>
public sealed record MatchAny(IReadOnlyList<MatchExpression> Parts) : MatchExpression;

/// <summary>The part does not match.</summary>
/// <param name="Part">The part.</param>
public sealed record MatchNot(MatchExpression Part) : MatchExpression;

/// <summary>One condition on one value: <c>{ field: actor.ip, cidr: [10.0.0.0/8] }</c>.</summary>
/// <param name="Value">The value compared.</param>
/// <param name="Operator">The operator.</param>
/// <param name="Operands">The operands as text (one for most operators, several for <c>in</c> and <c>cidr</c>; <c>true</c>/<c>false</c> for <c>exists</c>).</param>
public sealed record MatchCondition(ValueExpression Value, MatchOperator Operator, IReadOnlyList<string> Operands) : MatchExpression;

/// <summary>One step of a sequence rule.</summary>
/// <param name="Name">The step's name, used in explanations.</param>
/// <param name="Match">What events the step takes.</param>
/// <param name="Absent">Whether the step is a missing-event step: the sequence fires when no such event follows within the span.</param>
public sealed record RuleStep(string Name, MatchExpression Match, bool Absent = false);

/// <summary>
/// A detection rule (manifest kind <c>Rule</c>, read by <see cref="RuleKind"/>). Which fields matter depends on
/// <see cref="Type"/>; the validator rejects the ones that do not apply.
/// </summary>
public sealed record RuleDefinition
{
    /// <summary>The rule's name.</summary>
    public required string Name { get; init; }

    /// <summary>What the rule finds, for people.</summary>
    public string? Description { get; init; }

    /// <summary>What the rule counts.</summary>
    public required RuleType Type { get; init; }

    /// <summary>The severity of its detections.</summary>
    public required Severity Severity { get; init; }

    /// <summary>How sure a detection is, from 0 to 1.</summary>
    /// <value>Defaults to 0.5.</value>
    public double Confidence { get; init; } = 0.5;

    /// <summary>After a detection, the same rule stays quiet for the same group for this long (event time).</summary>
    /// <value>Defaults to 15 minutes.</value>
    public TimeSpan Suppress { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Names of actions (playbooks) to run on a detection, for a later issue.</summary>
    public IReadOnlyList<string> Actions { get; init; } = [];

    /// <summary>Which events the rule considers (every event when <see langword="null"/>; unused by sequences and k-of-n).</summary>
    public MatchExpression? Match { get; init; }

    /// <summary>The group key's parts (an empty list puts every event in one group).</summary>
    public IReadOnlyList<ValueExpression> GroupBy { get; init; } = [];

    /// <summary>The sliding window in event time (count, distinct, k-of-n, run), the span of a sequence, or the retention of first-seen values.</summary>
    public TimeSpan Window { get; init; }

    /// <summary>The count, distinct count, rule count (k) or run length at which the rule fires.</summary>
    public int Threshold { get; init; }

    /// <summary>The value counted (distinct), remembered (first-seen) or ordered (run).</summary>
    public ValueExpression? Field { get; init; }

    /// <summary>The steps of a sequence.</summary>
    public IReadOnlyList<RuleStep> Steps { get; init; } = [];

    /// <summary>The rules a k-of-n rule combines.</summary>
    public IReadOnlyList<string> Rules { get; init; } = [];

    /// <summary>First-seen only: for this long after the first event the engine sees, values are learned but not reported.</summary>
    public TimeSpan Learning { get; init; }

    /// <summary>The validated document (without <c>kind</c>), as given: what <c>GET</c> answers.</summary>
    public JsonObject Document { get; init; } = [];
}
