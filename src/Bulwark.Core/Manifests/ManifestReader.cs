using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Bulwark.Manifests;

/// <summary>
/// Reads the fields of one JSON object for a validator, collecting every error instead of stopping at the first, and
/// reporting fields that nobody read as unknown. Manifests (via YAML), API bodies and CLI input all pass through it.
/// </summary>
public sealed partial class ManifestReader
{
    private readonly JsonObject _object;
    private readonly string _path;
    private readonly List<ManifestError> _errors;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    /// <summary>Starts reading <paramref name="obj"/>, adding errors to <paramref name="errors"/>.</summary>
    /// <param name="obj">The object.</param>
    /// <param name="path">Its JSON Pointer.</param>
    /// <param name="errors">Where errors are collected.</param>
    public ManifestReader(JsonObject obj, string path, List<ManifestError> errors)
    {
        _object = obj ?? throw new ArgumentNullException(nameof(obj));
        _path = path ?? throw new ArgumentNullException(nameof(path));
        _errors = errors ?? throw new ArgumentNullException(nameof(errors));
    }

    /// <summary>The object being read, for readers of nested structures that report by JSON Pointer.</summary>
    internal JsonObject Object => _object;

    /// <summary>The error list this reader reports to.</summary>
    internal List<ManifestError> Errors => _errors;

    /// <summary>The JSON Pointer of a field of this object.</summary>
    /// <param name="field">The field name.</param>
    /// <returns>For example <c>/roles</c>.</returns>
    public string PathOf(string field) => _path + "/" + Escape(field);

    /// <summary>Adds an error at a field of this object.</summary>
    /// <param name="field">The field name, or <see langword="null"/> for the object itself.</param>
    /// <param name="message">What is wrong.</param>
    public void Error(string? field, string message) =>
        _errors.Add(new ManifestError(field is null ? _path : PathOf(field), message));

    /// <summary>Adds an error at an item of an array field of this object.</summary>
    /// <param name="field">The array field.</param>
    /// <param name="index">The item's index.</param>
    /// <param name="message">What is wrong.</param>
    public void ItemError(string field, int index, string message) =>
        _errors.Add(new ManifestError($"{PathOf(field)}/{index}", message));

    /// <summary>Marks a field as known without reading it (for example <c>kind</c>).</summary>
    /// <param name="field">The field name.</param>
    public void Ignore(string field) => _read.Add(field);

    /// <summary>Reads a string field.</summary>
    /// <param name="field">The field name.</param>
    /// <param name="required">Whether a missing or null value is an error.</param>
    /// <param name="maxLength">The longest value accepted.</param>
    /// <returns>The value, or <see langword="null"/> when missing or wrong (an error is recorded when wrong).</returns>
    public string? ReadString(string field, bool required = false, int maxLength = 1024)
    {
        var node = Take(field, required);
        if (node is null)
        {
            return null;
        }

        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
        {
            Error(field, $"must be a string, not {Describe(node)}");
            return null;
        }

        var text = value.GetValue<string>();
        if (required && text.Length == 0)
        {
            Error(field, "must not be empty");
            return null;
        }

        if (text.Length > maxLength)
        {
            Error(field, $"must be at most {maxLength} characters");
            return null;
        }

        return text;
    }

    /// <summary>Reads a name field: 1–63 characters of lower-case letters, digits, <c>.</c>, <c>_</c>, <c>-</c>, starting with a letter or digit.</summary>
    /// <param name="field">The field name.</param>
    /// <returns>The name, or <see langword="null"/> when missing or invalid (an error is recorded).</returns>
    public string? ReadName(string field = "name")
    {
        var name = ReadString(field, required: true, maxLength: 63);
        if (name is not null && !NamePattern().IsMatch(name))
        {
            Error(field, "must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit");
            return null;
        }

        return name;
    }

    /// <summary>Reads an array of strings.</summary>
    /// <param name="field">The field name.</param>
    /// <param name="required">Whether a missing value is an error.</param>
    /// <returns>The strings, or <see langword="null"/> when missing or wrong.</returns>
    public IReadOnlyList<string>? ReadStringArray(string field, bool required = false)
    {
        var node = Take(field, required);
        if (node is null)
        {
            return null;
        }

        if (node is not JsonArray array)
        {
            Error(field, $"must be an array of strings, not {Describe(node)}");
            return null;
        }

        var items = new List<string>(array.Count);
        var ok = true;
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is JsonValue item && item.GetValueKind() == JsonValueKind.String)
            {
                items.Add(item.GetValue<string>());
            }
            else
            {
                ItemError(field, i, $"must be a string, not {Describe(array[i])}");
                ok = false;
            }
        }

        return ok ? items : null;
    }

    /// <summary>Reads a number field.</summary>
    /// <param name="field">The field name.</param>
    /// <param name="min">The smallest value accepted.</param>
    /// <param name="max">The largest value accepted.</param>
    /// <returns>The value, or <see langword="null"/> when missing or wrong (an error is recorded when wrong).</returns>
    public double? ReadNumber(string field, double min, double max)
    {
        var node = Take(field, required: false);
        if (node is null)
        {
            return null;
        }

        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.Number)
        {
            Error(field, $"must be a number, not {Describe(node)}");
            return null;
        }

        // Parsed JSON holds any number; a node built in memory holds the CLR type it was built from.
        var number = value.TryGetValue<double>(out var d) ? d
            : value.TryGetValue<long>(out var l) ? l
            : value.TryGetValue<int>(out var i) ? i
            : value.TryGetValue<decimal>(out var m) ? (double)m
            : double.NaN;
        if (!(number >= min && number <= max))
        {
            Error(field, $"must be from {min.ToString(System.Globalization.CultureInfo.InvariantCulture)} to {max.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            return null;
        }

        return number;
    }

    /// <summary>Reads a duration field (<c>30s</c>, <c>1h30m</c>, see <see cref="Durations"/>).</summary>
    /// <param name="field">The field name.</param>
    /// <param name="min">The shortest value accepted.</param>
    /// <param name="max">The longest value accepted.</param>
    /// <param name="required">Whether a missing value is an error.</param>
    /// <returns>The value, or <see langword="null"/> when missing or wrong (an error is recorded when wrong).</returns>
    public TimeSpan? ReadDuration(string field, TimeSpan min, TimeSpan max, bool required = false)
    {
        var text = ReadString(field, required, maxLength: 64);
        if (text is null)
        {
            return null;
        }

        if (!Durations.TryParse(text, out var value))
        {
            Error(field, $"'{text}' is not a duration such as 30s, 15m, 1h30m or 1d");
            return null;
        }

        if (value < min || value > max)
        {
            Error(field, min <= TimeSpan.Zero ? $"must be at most {Durations.Format(max)}" : $"must be from {Durations.Format(min)} to {Durations.Format(max)}");
            return null;
        }

        return value;
    }

    /// <summary>Reads a boolean field.</summary>
    /// <param name="field">The field name.</param>
    /// <returns>The value, or <see langword="null"/> when missing or wrong (an error is recorded when wrong).</returns>
    public bool? ReadBoolean(string field)
    {
        var node = Take(field, required: false);
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue value && value.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
        {
            return value.GetValue<bool>();
        }

        Error(field, $"must be true or false, not {Describe(node)}");
        return null;
    }

    /// <summary>Reads an enum field by its wire name.</summary>
    /// <typeparam name="T">The enum.</typeparam>
    /// <param name="field">The field name.</param>
    /// <param name="names">Wire names and their values.</param>
    /// <param name="required">Whether a missing value is an error.</param>
    /// <returns>The value, or <see langword="null"/> when missing or unknown (an error is recorded when unknown).</returns>
    public T? ReadEnum<T>(string field, IReadOnlyDictionary<string, T> names, bool required = false)
        where T : struct, Enum
    {
        ArgumentNullException.ThrowIfNull(names);
        var text = ReadString(field, required, maxLength: 64);
        if (text is null)
        {
            return null;
        }

        if (names.TryGetValue(text, out var value))
        {
            return value;
        }

        Error(field, $"'{text}' is not one of {string.Join(", ", names.Keys)}");
        return null;
    }

    /// <summary>Reads an object field and returns a reader over it, whose errors carry the nested path.</summary>
    /// <param name="field">The field name.</param>
    /// <returns>The reader, or <see langword="null"/> when missing or not an object.</returns>
    public ManifestReader? ReadObject(string field)
    {
        var node = Take(field, required: false);
        if (node is null)
        {
            return null;
        }

        if (node is not JsonObject child)
        {
            Error(field, $"must be an object, not {Describe(node)}");
            return null;
        }

        return new ManifestReader(child, PathOf(field), _errors);
    }

    /// <summary>Reads an array of objects and returns a reader over each item.</summary>
    /// <param name="field">The field name.</param>
    /// <returns>The readers, or <see langword="null"/> when missing or wrong.</returns>
    public IReadOnlyList<ManifestReader>? ReadObjectArray(string field)
    {
        var node = Take(field, required: false);
        if (node is null)
        {
            return null;
        }

        if (node is not JsonArray array)
        {
            Error(field, $"must be an array of objects, not {Describe(node)}");
            return null;
        }

        var readers = new List<ManifestReader>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is JsonObject item)
            {
                readers.Add(new ManifestReader(item, $"{PathOf(field)}/{i}", _errors));
            }
            else
            {
                ItemError(field, i, $"must be an object, not {Describe(array[i])}");
            }
        }

        return readers;
    }

    /// <summary>Reads an array of scalars (strings, numbers, booleans) as invariant text.</summary>
    /// <param name="field">The field name.</param>
    /// <returns>The values as text, or <see langword="null"/> when missing or wrong.</returns>
    public IReadOnlyList<string>? ReadScalarArray(string field)
    {
        var node = Take(field, required: false);
        if (node is null)
        {
            return null;
        }

        if (node is not JsonArray array)
        {
            Error(field, $"must be an array, not {Describe(node)}");
            return null;
        }

        var items = new List<string>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            switch (array[i] is JsonValue item ? item.GetValueKind() : JsonValueKind.Undefined)
            {
                case JsonValueKind.String:
                    items.Add(array[i]!.GetValue<string>());
                    break;
                case JsonValueKind.Number:
                case JsonValueKind.True:
                case JsonValueKind.False:
                    items.Add(array[i]!.ToJsonString());
                    break;
                default:
                    ItemError(field, i, $"must be a string, number or boolean, not {Describe(array[i])}");
                    break;
            }
        }

        return items;
    }

    /// <summary>The raw value of a field, marked as read (for free-form values such as variant payloads).</summary>
    /// <param name="field">The field name.</param>
    /// <returns>The value, or <see langword="null"/> when missing.</returns>
    public JsonNode? ReadRaw(string field) => Take(field, required: false);

    /// <summary>The names of every field of this object, in document order.</summary>
    public IReadOnlyList<string> FieldNames => [.. _object.Select(p => p.Key)];

    /// <summary>Reports every field that was neither read nor ignored as unknown.</summary>
    public void RejectUnknownFields()
    {
        foreach (var (key, _) in _object)
        {
            if (!_read.Contains(key))
            {
                _errors.Add(new ManifestError(PathOf(key), "unknown field"));
            }
        }
    }

    /// <summary>Describes a JSON value's type for an error message.</summary>
    /// <param name="node">The value.</param>
    /// <returns>For example <c>a number</c>.</returns>
    public static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray => "an array",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "null",
        },
        _ => "a value",
    };

    /// <summary>Escapes a field name for a JSON Pointer (RFC 6901).</summary>
    /// <param name="field">The field name.</param>
    /// <returns>The escaped token.</returns>
    public static string Escape(string field)
    {
        ArgumentNullException.ThrowIfNull(field);
        return field.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
    }

    private JsonNode? Take(string field, bool required)
    {
        _read.Add(field);
        if (!_object.TryGetPropertyValue(field, out var node) || node is null)
        {
            if (required)
            {
                Error(field, "is required");
            }

            return null;
        }

        return node;
    }

    [GeneratedRegex(@"\A[a-z0-9][a-z0-9._-]{0,62}\z", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}
