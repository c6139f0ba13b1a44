using System.Globalization;
using System.Text.RegularExpressions;
using Bulwark.Ingest;

namespace Bulwark.Detection.Rules;

/// <summary>Compiles match expressions into predicates over events.</summary>
public static class CompiledMatch
{
    private static readonly Func<NormalizedEvent, bool> Always = _ => true;

    /// <summary>Compiles a match expression.</summary>
    /// <param name="expression">The expression, or <see langword="null"/> for one that matches every event.</param>
    /// <returns>The predicate.</returns>
    public static Func<NormalizedEvent, bool> Compile(MatchExpression? expression) => expression switch
    {
        null => Always,
        MatchAll all => CompileAll([.. all.Parts.Select(Compile)]),
        MatchAny any => CompileAny([.. any.Parts.Select(Compile)]),
        MatchNot not => CompileNot(Compile(not.Part)),
        MatchCondition condition => CompileCondition(condition),
        _ => throw new ArgumentOutOfRangeException(nameof(expression), expression, "unknown match expression"),
    };

    private static Func<NormalizedEvent, bool> CompileAll(Func<NormalizedEvent, bool>[] parts) => e =>
    {
        foreach (var part in parts)
        {
            if (!part(e))
            {
                return false;
            }
        }

        return true;
    };

    private static Func<NormalizedEvent, bool> CompileAny(Func<NormalizedEvent, bool>[] parts) => e =>
    {
        foreach (var part in parts)
        {
            if (part(e))
            {
                return true;
            }
        }

        return false;
    };

    private static Func<NormalizedEvent, bool> CompileNot(Func<NormalizedEvent, bool> part) => e => !part(e);

    private static Func<NormalizedEvent, bool> CompileCondition(MatchCondition condition)
    {
        var read = EventFields.Compile(condition.Value);
        var first = condition.Operands.Count > 0 ? condition.Operands[0] : string.Empty;
        switch (condition.Operator)
        {
            case MatchOperator.Equals:
                return e => string.Equals(read(e), first, StringComparison.Ordinal);
            case MatchOperator.In:
                var set = condition.Operands.ToHashSet(StringComparer.Ordinal);
                return e => read(e) is { } value && set.Contains(value);
            case MatchOperator.Prefix:
                return e => read(e)?.StartsWith(first, StringComparison.Ordinal) == true;
            case MatchOperator.Regex:
                var regex = new Regex(first, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
                return e => read(e) is { } value && SafeMatch(regex, value);
            case MatchOperator.Cidr:
                var blocks = condition.Operands.Select(text => Cidr.TryParse(text, out var block) ? block! : throw new ArgumentException($"'{text}' is not a CIDR block", nameof(condition))).ToArray();
                return e => read(e) is { } value && blocks.Any(block => block.Contains(value));
            case MatchOperator.Exists:
                var wanted = first == "true";
                return e => read(e) is not null == wanted;
            default:
                var operand = double.Parse(first, NumberStyles.Float, CultureInfo.InvariantCulture);
                Func<double, bool> compare = condition.Operator switch
                {
                    MatchOperator.GreaterThan => v => v > operand,
                    MatchOperator.GreaterOrEqual => v => v >= operand,
                    MatchOperator.LessThan => v => v < operand,
                    MatchOperator.LessOrEqual => v => v <= operand,
                    _ => throw new ArgumentOutOfRangeException(nameof(condition), condition.Operator, "unknown operator"),
                };
                return e => double.TryParse(read(e), NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && compare(number);
        }
    }

    private static bool SafeMatch(Regex regex, string value)
    {
        try
        {
            return regex.IsMatch(value);
        }
        catch (RegexMatchTimeoutException)
        {
            // A pathological value must not stall detection; it simply does not match.
            return false;
        }
    }
}
