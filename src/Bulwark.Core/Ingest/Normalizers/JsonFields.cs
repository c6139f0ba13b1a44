using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.Ingest;

/// <summary>Tolerant reads of platform payloads: a member of the wrong type reads as absent, and the caller decides
/// whether absent is an issue. Text that is not valid Unicode throws <see cref="InvalidOperationException"/>, which the
/// normalizers turn into an issue for that item.</summary>
internal static class JsonFields
{
    /// <summary>Numbers from this value up are Unix milliseconds; below, Unix seconds (seconds this large would be past the year 5000).</summary>
    public const long UnixMillisecondsFrom = 100_000_000_000;

    private const long MinUnixMilliseconds = -62_135_596_800_000;
    private const long MaxUnixMilliseconds = 253_402_300_799_999;

    public static bool TryGet(JsonElement obj, ReadOnlySpan<byte> name, out JsonElement value)
    {
        if (obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out value))
        {
            return true;
        }

        value = default;
        return false;
    }

    public static bool TryGetObject(JsonElement obj, ReadOnlySpan<byte> name, out JsonElement value) =>
        TryGet(obj, name, out value) && value.ValueKind == JsonValueKind.Object;

    public static bool TryGetArray(JsonElement obj, ReadOnlySpan<byte> name, out JsonElement value) =>
        TryGet(obj, name, out value) && value.ValueKind == JsonValueKind.Array;

    /// <summary>A non-empty string member, else <see langword="null"/>.</summary>
    public static string? String(JsonElement obj, ReadOnlySpan<byte> name) =>
        TryGet(obj, name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
            ? text
            : null;

    /// <summary>A non-empty string member of a nested object, else <see langword="null"/>.</summary>
    public static string? String(JsonElement obj, ReadOnlySpan<byte> parent, ReadOnlySpan<byte> name) =>
        TryGetObject(obj, parent, out var child) ? String(child, name) : null;

    /// <summary>
    /// The first 16 bytes of the SHA-256 of an item's bytes as sent, in hex: part of an event id for items that carry no
    /// id of their own, the same on a retry and different for different items.
    /// </summary>
    public static string ContentHash(JsonElement item)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(JsonMarshal.GetRawUtf8Value(item), hash);
        return Convert.ToHexStringLower(hash[..16]);
    }

    /// <summary>An id member: a non-empty string, or an integer written as its digits.</summary>
    public static string? Id(JsonElement obj, ReadOnlySpan<byte> name) =>
        TryGet(obj, name, out var value) ? IdText(value) : null;

    /// <summary>An id value: a non-empty string, or an integer written as its digits.</summary>
    public static string? IdText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString() is { Length: > 0 } text ? text : null,
        JsonValueKind.Number when value.TryGetInt64(out var number) => number.ToString(CultureInfo.InvariantCulture),
        JsonValueKind.Number when value.TryGetDecimal(out var number) && decimal.IsInteger(number) => number.ToString("0", CultureInfo.InvariantCulture),
        _ => null,
    };

    /// <summary>An id, a string, a number or a boolean as text (what a mapping accepts for scalar fields).</summary>
    public static string? ScalarText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        _ => null,
    };

    /// <summary>An RFC 3339 string, or Unix seconds or milliseconds as a number (see <see cref="UnixMillisecondsFrom"/>).</summary>
    public static bool TryTimestamp(JsonElement value, out DateTimeOffset utc) => value.ValueKind switch
    {
        JsonValueKind.String => TryRfc3339(value, out utc),
        JsonValueKind.Number => TryUnix(value, out utc),
        _ => Fail(out utc),
    };

    public static bool TryRfc3339(JsonElement value, out DateTimeOffset utc)
    {
        if (value.ValueKind == JsonValueKind.String && value.GetString() is { } text && Rfc3339.TryParse(text, out utc))
        {
            utc = Rfc3339.ToWire(utc);
            return true;
        }

        return Fail(out utc);
    }

    /// <summary>Unix seconds or milliseconds, as a number or as a string of digits (X sends <c>timestamp_ms</c> as text).</summary>
    public static bool TryUnix(JsonElement value, out DateTimeOffset utc)
    {
        double number;
        if (value.ValueKind == JsonValueKind.Number)
        {
            if (!value.TryGetDouble(out number))
            {
                return Fail(out utc);
            }
        }
        else if (value.ValueKind != JsonValueKind.String
            || !double.TryParse(value.GetString(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out number))
        {
            return Fail(out utc);
        }

        var milliseconds = Math.Abs(number) >= UnixMillisecondsFrom ? number : number * 1000;
        if (!double.IsFinite(milliseconds) || milliseconds < MinUnixMilliseconds || milliseconds > MaxUnixMilliseconds)
        {
            return Fail(out utc);
        }

        utc = DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Floor(milliseconds));
        return true;
    }

    /// <summary>An independent copy of a value for <c>details</c> (a repeated name keeps its last value).</summary>
    public static JsonNode? Copy(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                var obj = new JsonObject();
                foreach (var property in value.EnumerateObject())
                {
                    obj[property.Name] = Copy(property.Value);
                }

                return obj;
            case JsonValueKind.Array:
                var array = new JsonArray();
                foreach (var item in value.EnumerateArray())
                {
                    array.Add(Copy(item));
                }

                return array;
            case JsonValueKind.String:
                return JsonValue.Create(value.GetString());
            case JsonValueKind.Number:
                return value.TryGetInt64(out var integer) ? JsonValue.Create(integer)
                    : value.TryGetDecimal(out var number) ? JsonValue.Create(number)
                    : JsonValue.Create(value.GetRawText());
            case JsonValueKind.True:
                return JsonValue.Create(true);
            case JsonValueKind.False:
                return JsonValue.Create(false);
            default:
                return null;
        }
    }

    private static bool Fail(out DateTimeOffset utc)
    {
        utc = default;
        return false;
    }
}
