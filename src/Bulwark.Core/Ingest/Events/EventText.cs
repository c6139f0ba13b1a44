using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;

namespace Bulwark.Ingest;

/// <summary>The text rules of schema v1, written by hand: lengths in code points (as JSON Schema counts), the event type
/// and country patterns, and checks that a JSON string holds valid Unicode.</summary>
internal static class EventText
{
    public const int MaxCustomTypeSuffix = 60;

    /// <summary>Whether <paramref name="value"/> is a core type or matches <c>^x-[a-z0-9_.-]{1,60}$</c>.</summary>
    public static bool IsEventType(string? value) => value is not null && (IsCoreType(value) || IsCustomType(value));

    public static bool IsCoreType(string value) => value switch
    {
        "password_reset" or "account_changed" or "session_new" or "token_rotated" or "login_failed"
            or "login_succeeded" or "policy_flag" or "content_edit" or "mfa_changed" or "session_revoked" => true,
        _ => false,
    };

    public static bool IsCustomType(string value)
    {
        if (value.Length < 3 || value.Length > 2 + MaxCustomTypeSuffix || value[0] != 'x' || value[1] != '-')
        {
            return false;
        }

        for (var i = 2; i < value.Length; i++)
        {
            if (!IsCustomTypeChar(value[i]))
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsCustomTypeChar(char c) => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '.' or '-';

    /// <summary>Whether <paramref name="value"/> matches <c>^[A-Z]{2}$</c>.</summary>
    public static bool IsCountry(string value) =>
        value.Length == 2 && char.IsAsciiLetterUpper(value[0]) && char.IsAsciiLetterUpper(value[1]);

    /// <summary>The length in Unicode code points (a surrogate pair counts once), as JSON Schema measures strings.</summary>
    public static int CodePoints(string value)
    {
        var count = value.Length;
        for (var i = 1; i < value.Length; i++)
        {
            if (char.IsLowSurrogate(value[i]) && char.IsHighSurrogate(value[i - 1]))
            {
                count--;
            }
        }

        return count;
    }

    /// <summary>Whether a string is at most <paramref name="max"/> code points long (no counting when it is clearly short).</summary>
    public static bool FitsIn(string value, int max) => value.Length <= max || CodePoints(value) <= max;

    /// <summary>The string of a JSON string, or <see langword="null"/> when it is not valid Unicode (invalid UTF-8, a lone surrogate escape).</summary>
    public static string? TryGetString(JsonElement element)
    {
        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Whether a JSON string holds valid Unicode, without building it when it has no escapes.</summary>
    public static bool IsValidString(JsonElement element)
    {
        var raw = JsonMarshal.GetRawUtf8Value(element);
        return raw.IndexOf((byte)'\\') < 0 ? Utf8.IsValid(raw) : TryGetString(element) is not null;
    }

    /// <summary>A property's name, or <see langword="null"/> when it is not valid Unicode.</summary>
    public static string? TryGetName(JsonProperty property)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Escapes a name for a JSON Pointer (RFC 6901).</summary>
    public static string EscapePointer(string name) =>
        name.Contains('~', StringComparison.Ordinal) || name.Contains('/', StringComparison.Ordinal)
            ? name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)
            : name;

    /// <summary>Describes a JSON value's type for an error message.</summary>
    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>Quotes a value for a message, cut to 80 characters so a hostile value cannot flood a report.</summary>
    public static string Quote(string value) => value.Length <= 80 ? $"'{value}'" : $"'{value[..77]}...'";
}
