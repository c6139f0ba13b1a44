using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Manifests;

namespace Bulwark.Response;

/// <summary>
/// <c>{{ path }}</c> placeholders in the strings of step parameters, rendered against a context built by
/// <see cref="ResponseContext"/>. A string that is exactly one placeholder takes the value with its JSON type (an
/// array stays an array, a number a number); a placeholder inside longer text is replaced by the value's text (arrays
/// joined with <c>", "</c>). Roots and known fields are checked when a playbook is validated; a path that does not
/// resolve when rendering (an output a step did not leave) renders as empty. Parsed once, rendered many times.
/// </summary>
public static class Templates
{
    /// <summary>Compiles one string.</summary>
    /// <param name="text">The string, with or without placeholders.</param>
    /// <param name="template">The template.</param>
    /// <param name="error">What is wrong, with the position (from 1), when it is not a template.</param>
    /// <param name="visibleSteps">Step ids whose outputs it may read, or <see langword="null"/> for any.</param>
    /// <param name="parameters">Whether it may read <c>with.&lt;field&gt;</c> (a connector's HTTP mapping).</param>
    /// <returns>Whether <paramref name="text"/> is a valid template.</returns>
    public static bool TryCompile(string text, out CompiledTemplate template, out string? error, IReadOnlySet<string>? visibleSteps = null, bool parameters = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        template = CompiledTemplate.Empty;
        error = null;
        var parts = new List<TemplatePart>();
        var at = 0;
        while (at < text.Length)
        {
            var open = text.IndexOf("{{", at, StringComparison.Ordinal);
            if (open < 0)
            {
                parts.Add(new TemplatePart(text[at..], null));
                break;
            }

            if (open > at)
            {
                parts.Add(new TemplatePart(text[at..open], null));
            }

            var close = text.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0)
            {
                error = $"at {open + 1}: '{{{{' is not closed by '}}}}'";
                return false;
            }

            var path = text[(open + 2)..close].Trim();
            if (path.Length == 0)
            {
                error = $"at {open + 1}: empty placeholder";
                return false;
            }

            if (!ResponseContext.TryParsePath(path, out var segments))
            {
                error = $"at {open + 1}: '{path}' is not a path such as incident.accounts or steps.<id>.output.<field>";
                return false;
            }

            if (ResponseContext.Check(segments, visibleSteps, parameters) is { } problem)
            {
                error = $"at {open + 1}: {problem}";
                return false;
            }

            parts.Add(new TemplatePart(path, segments));
            at = close + 2;
        }

        template = new CompiledTemplate(text, parts);
        return true;
    }

    /// <summary>Compiles one string, throwing when it is not a template.</summary>
    /// <param name="text">The string.</param>
    /// <param name="parameters">Whether it may read <c>with.&lt;field&gt;</c> (a connector's HTTP mapping).</param>
    /// <returns>The template.</returns>
    /// <exception cref="FormatException">The string is not a valid template.</exception>
    public static CompiledTemplate Compile(string text, bool parameters = false) =>
        TryCompile(text, out var template, out var error, visibleSteps: null, parameters) ? template : throw new FormatException(error);

    /// <summary>
    /// Compiles every string of a JSON object (in nested objects and arrays too), reporting each invalid one at its
    /// JSON Pointer under <paramref name="location"/>.
    /// </summary>
    /// <param name="value">The object, such as a step's <c>with</c>.</param>
    /// <param name="location">The object's JSON Pointer, such as <c>/steps/0/with</c>.</param>
    /// <param name="errors">Where errors are added.</param>
    /// <param name="visibleSteps">Step ids whose outputs it may read, or <see langword="null"/> for any.</param>
    /// <param name="parameters">Whether it may read <c>with.&lt;field&gt;</c> (a connector's HTTP mapping).</param>
    /// <returns>The compiled object, or <see langword="null"/> when any string is invalid.</returns>
    public static CompiledObjectTemplate? Compile(JsonObject value, string location, List<ManifestError> errors, IReadOnlySet<string>? visibleSteps = null, bool parameters = false)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(errors);
        var before = errors.Count;
        var node = CompileNode(value, location, errors, visibleSteps, parameters);
        return errors.Count == before ? new CompiledObjectTemplate((ObjectNode)node) : null;
    }

    /// <summary>Compiles every string of a JSON object, throwing at the first invalid one.</summary>
    /// <param name="value">The object.</param>
    /// <param name="parameters">Whether it may read <c>with.&lt;field&gt;</c> (a connector's HTTP mapping).</param>
    /// <returns>The compiled object.</returns>
    /// <exception cref="FormatException">A string is not a valid template.</exception>
    public static CompiledObjectTemplate Compile(JsonObject value, bool parameters = false)
    {
        var errors = new List<ManifestError>();
        return Compile(value, string.Empty, errors, visibleSteps: null, parameters) ?? throw new FormatException(errors[0].ToString());
    }

    private static TemplateNode CompileNode(JsonNode? node, string location, List<ManifestError> errors, IReadOnlySet<string>? visibleSteps, bool parameters)
    {
        switch (node)
        {
            case JsonObject obj:
                return new ObjectNode([.. obj.Select(p => (p.Key, CompileNode(p.Value, location + "/" + ManifestReader.Escape(p.Key), errors, visibleSteps, parameters)))]);
            case JsonArray array:
                return new ArrayNode([.. array.Select((item, i) => CompileNode(item, $"{location}/{i}", errors, visibleSteps, parameters))]);
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                var text = value.GetValue<string>();
                if (!text.Contains("{{", StringComparison.Ordinal))
                {
                    return new LiteralNode(text);
                }

                if (TryCompile(text, out var template, out var error, visibleSteps, parameters))
                {
                    return new StringNode(template);
                }

                errors.Add(new ManifestError(location, error!));
                return new LiteralNode(null);
            default:
                return new LiteralNode(node?.DeepClone());
        }
    }

    internal abstract class TemplateNode
    {
        public abstract JsonNode? Render(JsonObject context);
    }

    internal sealed class LiteralNode(JsonNode? value) : TemplateNode
    {
        public override JsonNode? Render(JsonObject context) => value?.DeepClone();
    }

    internal sealed class StringNode(CompiledTemplate template) : TemplateNode
    {
        public override JsonNode? Render(JsonObject context) => template.Render(context);
    }

    internal sealed class ObjectNode((string Key, TemplateNode Value)[] fields) : TemplateNode
    {
        public override JsonNode? Render(JsonObject context) => RenderObject(context);

        public JsonObject RenderObject(JsonObject context)
        {
            var result = new JsonObject();
            foreach (var (key, value) in fields)
            {
                result[key] = value.Render(context);
            }

            return result;
        }
    }

    internal sealed class ArrayNode(TemplateNode[] items) : TemplateNode
    {
        public override JsonNode? Render(JsonObject context) => new JsonArray([.. items.Select(i => i.Render(context))]);
    }
}

/// <summary>One literal run of text (<paramref name="Segments"/> null) or one placeholder's path.</summary>
/// <param name="Text">The literal text, or the dotted path.</param>
/// <param name="Segments">The path's segments, for a placeholder.</param>
internal sealed record TemplatePart(string Text, string[]? Segments);

/// <summary>A compiled template string (see <see cref="Templates"/>).</summary>
public sealed class CompiledTemplate
{
    internal static readonly CompiledTemplate Empty = new(string.Empty, []);

    private readonly TemplatePart[] _parts;

    internal CompiledTemplate(string source, IReadOnlyList<TemplatePart> parts)
    {
        Source = source;
        _parts = [.. parts];
    }

    /// <summary>The template as written.</summary>
    public string Source { get; }

    /// <summary>The paths its placeholders read, in order.</summary>
    public IReadOnlyList<string> Paths => [.. _parts.Where(p => p.Segments is not null).Select(p => p.Text)];

    /// <summary>Whether the whole string is one placeholder, so that rendering keeps the value's JSON type.</summary>
    public bool IsSinglePlaceholder => _parts is [{ Segments: not null }];

    /// <summary>Renders against a context: the value itself for a single placeholder, else a string.</summary>
    /// <param name="context">The context (see <see cref="ResponseContext"/>).</param>
    /// <returns>The rendered value; a single placeholder that does not resolve renders as an empty string.</returns>
    public JsonNode? Render(JsonObject context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (IsSinglePlaceholder)
        {
            return ResponseContext.Resolve(context, _parts[0].Segments!)?.DeepClone() ?? JsonValue.Create(string.Empty);
        }

        return JsonValue.Create(RenderText(context));
    }

    /// <summary>Renders against a context as text, whatever the values' types.</summary>
    /// <param name="context">The context.</param>
    /// <returns>The text.</returns>
    public string RenderText(JsonObject context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var builder = new StringBuilder();
        foreach (var part in _parts)
        {
            builder.Append(part.Segments is null ? part.Text : ResponseContext.Text(ResponseContext.Resolve(context, part.Segments)));
        }

        return builder.ToString();
    }
}

/// <summary>A JSON object whose strings are compiled templates (see <see cref="Templates"/>).</summary>
public sealed class CompiledObjectTemplate
{
    private readonly Templates.ObjectNode _root;

    internal CompiledObjectTemplate(Templates.ObjectNode root) => _root = root;

    /// <summary>Renders a new object against a context; strings without placeholders and other values are copied.</summary>
    /// <param name="context">The context (see <see cref="ResponseContext"/>).</param>
    /// <returns>A new object.</returns>
    public JsonObject Render(JsonObject context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return _root.RenderObject(context);
    }
}
