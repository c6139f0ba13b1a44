using System.Text.Json;

namespace Bulwark.Ingest;

/// <summary>A JSON Pointer (RFC 6901) parsed once and resolved against many items.</summary>
internal sealed class JsonPointer
{
    private readonly string[] _tokens;

    private JsonPointer(string text, string[] tokens)
    {
        Text = text;
        _tokens = tokens;
    }

    public string Text { get; }

    /// <summary>Parses <c>""</c> (the whole item) or <c>/a/b/0</c>, with <c>~0</c> for <c>~</c> and <c>~1</c> for <c>/</c>.</summary>
    public static JsonPointer? TryParse(string text)
    {
        if (text.Length == 0)
        {
            return new JsonPointer(text, []);
        }

        if (text[0] != '/')
        {
            return null;
        }

        var parts = text[1..].Split('/');
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            for (var j = 0; j < part.Length; j++)
            {
                if (part[j] == '~' && (j + 1 == part.Length || part[j + 1] is not ('0' or '1')))
                {
                    return null;
                }
            }

            if (part.Contains('~', StringComparison.Ordinal))
            {
                parts[i] = part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            }
        }

        return new JsonPointer(text, parts);
    }

    /// <summary>The value the pointer names in <paramref name="root"/>, when there is one.</summary>
    public bool TryResolve(JsonElement root, out JsonElement value)
    {
        value = root;
        foreach (var token in _tokens)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.Object:
                    if (!value.TryGetProperty(token, out value))
                    {
                        return false;
                    }

                    break;
                case JsonValueKind.Array:
                    if (!TryIndex(token, out var index) || index >= value.GetArrayLength())
                    {
                        value = default;
                        return false;
                    }

                    value = value[index];
                    break;
                default:
                    value = default;
                    return false;
            }
        }

        return true;
    }

    /// <summary>An array index token: digits without a leading zero (RFC 6901 §4).</summary>
    private static bool TryIndex(string token, out int index)
    {
        index = 0;
        if (token.Length == 0 || token.Length > 9 || (token.Length > 1 && token[0] == '0'))
        {
            return false;
        }

        foreach (var c in token)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            index = (index * 10) + (c - '0');
        }

        return true;
    }
}
