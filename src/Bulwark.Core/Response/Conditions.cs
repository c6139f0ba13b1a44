using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;

namespace Bulwark.Response;

/// <summary>
/// The expression language of <c>run_if</c>: paths of the <see cref="ResponseContext"/> (<c>incident.confidence</c>,
/// <c>steps.revoke.output.count</c>), literals (<c>0.9</c>, <c>'critical'</c>, <c>true</c>, <c>false</c>,
/// <c>null</c>, <c>['x', 'instagram']</c>), comparisons <c>== != &lt; &lt;= &gt; &gt;=</c>, membership <c>in</c>,
/// <c>&amp;&amp;</c>, <c>||</c>, <c>!</c> and parentheses. Two severity names compare by rank
/// (<c>low &lt; medium &lt; high &lt; critical</c>); numbers compare as numbers, other strings ordinally; values of
/// different types are never equal and never ordered. A path that does not resolve is <c>null</c>. A bare value is
/// true unless it is <c>false</c>, <c>null</c>, <c>0</c>, an empty string or an empty list. Compiled once, evaluated
/// many times.
/// </summary>
public static class Conditions
{
    /// <summary>The longest expression accepted.</summary>
    public const int MaxLength = 2000;

    private const int MaxDepth = 32;

    /// <summary>Compiles an expression.</summary>
    /// <param name="text">The expression.</param>
    /// <param name="condition">The compiled condition.</param>
    /// <param name="error">What is wrong, with its position (from 1).</param>
    /// <param name="visibleSteps">Step ids whose outputs it may read, or <see langword="null"/> for any.</param>
    /// <returns>Whether <paramref name="text"/> is a valid expression.</returns>
    public static bool TryCompile(string text, out CompiledCondition condition, out string? error, IReadOnlySet<string>? visibleSteps = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        condition = CompiledCondition.True;
        if (text.Length > MaxLength)
        {
            error = $"must be at most {MaxLength} characters";
            return false;
        }

        try
        {
            var parser = new Parser(Tokenize(text), visibleSteps);
            var root = parser.ParseAll();
            condition = new CompiledCondition(text, root);
            error = null;
            return true;
        }
        catch (ConditionSyntaxException syntax)
        {
            error = $"at {syntax.Position}: {syntax.Message}";
            return false;
        }
    }

    /// <summary>Compiles an expression, throwing when it is not valid.</summary>
    /// <param name="text">The expression.</param>
    /// <returns>The condition.</returns>
    /// <exception cref="FormatException">The expression is not valid.</exception>
    public static CompiledCondition Compile(string text) =>
        TryCompile(text, out var condition, out var error) ? condition : throw new FormatException(error);

    /// <summary>Whether a value counts as true (see <see cref="Conditions"/>).</summary>
    /// <param name="value">The value.</param>
    /// <returns>Its truth.</returns>
    public static bool IsTruthy(JsonNode? value) => value switch
    {
        null => false,
        JsonArray array => array.Count > 0,
        JsonObject => true,
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.False or JsonValueKind.Null or JsonValueKind.Undefined => false,
            JsonValueKind.String => v.GetValue<string>().Length > 0,
            JsonValueKind.Number => Number(v) != 0,
            _ => true,
        },
        _ => true,
    };

    private static double Number(JsonValue value) =>
        value.TryGetValue<double>(out var d) ? d
        : value.TryGetValue<long>(out var l) ? l
        : value.TryGetValue<int>(out var i) ? i
        : value.TryGetValue<decimal>(out var m) ? (double)m
        : double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture);

    internal static bool AreEqual(JsonNode? a, JsonNode? b)
    {
        if (IsNull(a) || IsNull(b))
        {
            return IsNull(a) && IsNull(b);
        }

        if (a is JsonValue va && b is JsonValue vb)
        {
            var (ka, kb) = (va.GetValueKind(), vb.GetValueKind());
            if (ka == JsonValueKind.Number && kb == JsonValueKind.Number)
            {
                return Number(va) == Number(vb);
            }

            if (ka == JsonValueKind.String && kb == JsonValueKind.String)
            {
                return string.Equals(va.GetValue<string>(), vb.GetValue<string>(), StringComparison.Ordinal);
            }
        }

        return JsonNode.DeepEquals(a, b);
    }

    /// <summary>Orders two values, or returns <see langword="null"/> when they cannot be ordered.</summary>
    internal static int? Order(JsonNode? a, JsonNode? b)
    {
        if (a is not JsonValue va || b is not JsonValue vb)
        {
            return null;
        }

        var (ka, kb) = (va.GetValueKind(), vb.GetValueKind());
        if (ka == JsonValueKind.Number && kb == JsonValueKind.Number)
        {
            return Number(va).CompareTo(Number(vb));
        }

        if (ka == JsonValueKind.String && kb == JsonValueKind.String)
        {
            var (sa, sb) = (va.GetValue<string>(), vb.GetValue<string>());
            return DetectionNames.Severities.TryGetValue(sa, out var ra) && DetectionNames.Severities.TryGetValue(sb, out var rb)
                ? ((int)ra).CompareTo((int)rb)
                : string.CompareOrdinal(sa, sb);
        }

        return null;
    }

    private static bool IsNull(JsonNode? node) => node is null || node is JsonValue v && v.GetValueKind() == JsonValueKind.Null;

    private enum TokenKind
    {
        End,
        Number,
        String,
        Path,
        True,
        False,
        Null,
        In,
        Operator,
        OpenParen,
        CloseParen,
        OpenBracket,
        CloseBracket,
        Comma,
    }

    private sealed record Token(TokenKind Kind, string Text, int Position, double Number = 0);

    private static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            var position = i + 1;
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (char.IsAsciiDigit(c) || (c == '-' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
            {
                var start = i++;
                while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
                {
                    i++;
                }

                var literal = text[start..i];
                if (!double.TryParse(literal, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                {
                    throw new ConditionSyntaxException(position, $"'{literal}' is not a number");
                }

                tokens.Add(new Token(TokenKind.Number, literal, position, number));
            }
            else if (c == '\'')
            {
                var builder = new StringBuilder();
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        throw new ConditionSyntaxException(position, "the string is not closed by '");
                    }

                    if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] is '\'' or '\\')
                    {
                        builder.Append(text[i + 1]);
                        i += 2;
                    }
                    else if (text[i] == '\'')
                    {
                        i++;
                        break;
                    }
                    else
                    {
                        builder.Append(text[i++]);
                    }
                }

                tokens.Add(new Token(TokenKind.String, builder.ToString(), position));
            }
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                var start = i;
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] is '_' or '-' or '.'))
                {
                    i++;
                }

                var word = text[start..i];
                tokens.Add(word switch
                {
                    "true" => new Token(TokenKind.True, word, position),
                    "false" => new Token(TokenKind.False, word, position),
                    "null" => new Token(TokenKind.Null, word, position),
                    "in" => new Token(TokenKind.In, word, position),
                    _ => new Token(TokenKind.Path, word, position),
                });
            }
            else
            {
                var two = i + 1 < text.Length ? text.Substring(i, 2) : string.Empty;
                if (two is "==" or "!=" or "<=" or ">=" or "&&" or "||")
                {
                    tokens.Add(new Token(TokenKind.Operator, two, position));
                    i += 2;
                    continue;
                }

                tokens.Add(c switch
                {
                    '<' or '>' or '!' => new Token(TokenKind.Operator, c.ToString(), position),
                    '(' => new Token(TokenKind.OpenParen, "(", position),
                    ')' => new Token(TokenKind.CloseParen, ")", position),
                    '[' => new Token(TokenKind.OpenBracket, "[", position),
                    ']' => new Token(TokenKind.CloseBracket, "]", position),
                    ',' => new Token(TokenKind.Comma, ",", position),
                    '=' => throw new ConditionSyntaxException(position, "use == to compare"),
                    '&' => throw new ConditionSyntaxException(position, "use && for and"),
                    '|' => throw new ConditionSyntaxException(position, "use || for or"),
                    _ => throw new ConditionSyntaxException(position, $"unexpected '{c}'"),
                });
                i++;
            }
        }

        tokens.Add(new Token(TokenKind.End, string.Empty, text.Length + 1));
        return tokens;
    }

    private sealed class Parser(List<Token> tokens, IReadOnlySet<string>? visibleSteps)
    {
        private int _at;
        private int _depth;

        private Token Current => tokens[_at];

        public Node ParseAll()
        {
            if (Current.Kind == TokenKind.End)
            {
                throw new ConditionSyntaxException(Current.Position, "the expression is empty");
            }

            var node = ParseOr();
            if (Current.Kind != TokenKind.End)
            {
                throw new ConditionSyntaxException(Current.Position, $"unexpected '{Current.Text}'");
            }

            return node;
        }

        private Node ParseOr()
        {
            var left = ParseAnd();
            while (IsOperator("||"))
            {
                _at++;
                left = new OrNode(left, ParseAnd());
            }

            return left;
        }

        private Node ParseAnd()
        {
            var left = ParseNot();
            while (IsOperator("&&"))
            {
                _at++;
                left = new AndNode(left, ParseNot());
            }

            return left;
        }

        private Node ParseNot()
        {
            if (IsOperator("!"))
            {
                _at++;
                return Nested(() => new NotNode(ParseNot()));
            }

            return ParseComparison();
        }

        private Node ParseComparison()
        {
            var left = ParsePrimary();
            if (Current.Kind == TokenKind.In)
            {
                _at++;
                return new InNode(left, ParsePrimary());
            }

            if (Current.Kind == TokenKind.Operator && Current.Text is "==" or "!=" or "<" or "<=" or ">" or ">=")
            {
                var op = Current.Text;
                _at++;
                return new CompareNode(op, left, ParsePrimary());
            }

            return left;
        }

        private Node ParsePrimary()
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.Number:
                    _at++;
                    return new LiteralNode(JsonValue.Create(token.Number));
                case TokenKind.String:
                    _at++;
                    return new LiteralNode(JsonValue.Create(token.Text));
                case TokenKind.True or TokenKind.False:
                    _at++;
                    return new LiteralNode(JsonValue.Create(token.Kind == TokenKind.True));
                case TokenKind.Null:
                    _at++;
                    return new LiteralNode(null);
                case TokenKind.Path:
                    _at++;
                    if (!ResponseContext.TryParsePath(token.Text, out var segments))
                    {
                        throw new ConditionSyntaxException(token.Position, $"'{token.Text}' is not a path such as incident.severity");
                    }

                    if (ResponseContext.Check(segments, visibleSteps) is { } problem)
                    {
                        throw new ConditionSyntaxException(token.Position, problem);
                    }

                    return new PathNode(segments);
                case TokenKind.OpenParen:
                    _at++;
                    var inner = Nested(ParseOr);
                    Expect(TokenKind.CloseParen, "')'");
                    return inner;
                case TokenKind.OpenBracket:
                    _at++;
                    var items = new List<Node>();
                    if (Current.Kind != TokenKind.CloseBracket)
                    {
                        while (true)
                        {
                            if (Current.Kind is not (TokenKind.Number or TokenKind.String or TokenKind.True or TokenKind.False or TokenKind.Null))
                            {
                                throw new ConditionSyntaxException(Current.Position, "a list holds literals only (numbers, 'strings', true, false, null)");
                            }

                            items.Add(ParsePrimary());
                            if (Current.Kind != TokenKind.Comma)
                            {
                                break;
                            }

                            _at++;
                        }
                    }

                    Expect(TokenKind.CloseBracket, "',' or ']'");
                    return new LiteralNode(new JsonArray([.. items.Select(i => ((LiteralNode)i).Value?.DeepClone())]));
                case TokenKind.End:
                    throw new ConditionSyntaxException(token.Position, "the expression ends too early: expected a value");
                default:
                    throw new ConditionSyntaxException(token.Position, $"expected a value, not '{token.Text}'");
            }
        }

        private Node Nested(Func<Node> parse)
        {
            if (++_depth > MaxDepth)
            {
                throw new ConditionSyntaxException(Current.Position, $"nests deeper than {MaxDepth} levels");
            }

            var node = parse();
            _depth--;
            return node;
        }

        private void Expect(TokenKind kind, string what)
        {
            if (Current.Kind != kind)
            {
                throw new ConditionSyntaxException(Current.Position, Current.Kind == TokenKind.End ? $"expected {what} before the end" : $"expected {what}, not '{Current.Text}'");
            }

            _at++;
        }

        private bool IsOperator(string op) => Current.Kind == TokenKind.Operator && Current.Text == op;
    }

    internal abstract class Node
    {
        public abstract JsonNode? Evaluate(JsonObject context);
    }

    private sealed class LiteralNode(JsonNode? value) : Node
    {
        public JsonNode? Value => value;

        public override JsonNode? Evaluate(JsonObject context) => value;
    }

    private sealed class PathNode(string[] segments) : Node
    {
        public override JsonNode? Evaluate(JsonObject context) => ResponseContext.Resolve(context, segments);
    }

    private sealed class NotNode(Node operand) : Node
    {
        public override JsonNode? Evaluate(JsonObject context) => JsonValue.Create(!IsTruthy(operand.Evaluate(context)));
    }

    private sealed class AndNode(Node left, Node right) : Node
    {
        public override JsonNode? Evaluate(JsonObject context) => JsonValue.Create(IsTruthy(left.Evaluate(context)) && IsTruthy(right.Evaluate(context)));
    }

    private sealed class OrNode(Node left, Node right) : Node
    {
        public override JsonNode? Evaluate(JsonObject context) => JsonValue.Create(IsTruthy(left.Evaluate(context)) || IsTruthy(right.Evaluate(context)));
    }

    private sealed class InNode(Node item, Node collection) : Node
    {
        public override JsonNode? Evaluate(JsonObject context)
        {
            var value = item.Evaluate(context);
            var result = collection.Evaluate(context) switch
            {
                JsonArray array => array.Any(candidate => AreEqual(value, candidate)),
                JsonValue text when text.GetValueKind() == JsonValueKind.String && value is JsonValue part && part.GetValueKind() == JsonValueKind.String =>
                    text.GetValue<string>().Contains(part.GetValue<string>(), StringComparison.Ordinal),
                _ => false,
            };
            return JsonValue.Create(result);
        }
    }

    private sealed class CompareNode(string op, Node left, Node right) : Node
    {
        public override JsonNode? Evaluate(JsonObject context)
        {
            var (a, b) = (left.Evaluate(context), right.Evaluate(context));
            var result = op switch
            {
                "==" => AreEqual(a, b),
                "!=" => !AreEqual(a, b),
                _ => Order(a, b) is { } order && op switch
                {
                    "<" => order < 0,
                    "<=" => order <= 0,
                    ">" => order > 0,
                    _ => order >= 0,
                },
            };
            return JsonValue.Create(result);
        }
    }
}

/// <summary>A compiled <c>run_if</c> expression (see <see cref="Conditions"/>).</summary>
public sealed class CompiledCondition
{
    internal static readonly CompiledCondition True = new("true", null);

    private readonly Conditions.Node? _root;

    internal CompiledCondition(string source, Conditions.Node? root)
    {
        Source = source;
        _root = root;
    }

    /// <summary>The expression as written.</summary>
    public string Source { get; }

    /// <summary>Evaluates the expression against a context.</summary>
    /// <param name="context">The context (see <see cref="ResponseContext"/>).</param>
    /// <returns>Whether it holds.</returns>
    public bool Evaluate(JsonObject context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return _root is null || Conditions.IsTruthy(_root.Evaluate(context));
    }
}

/// <summary>A syntax error in a condition, at a position from 1.</summary>
internal sealed class ConditionSyntaxException(int position, string message) : Exception(message)
{
    public int Position { get; } = position;
}
