using System.Globalization;
using Bulwark.Manifests;

namespace Bulwark.Server.Http;

/// <summary>Reads query-string parameters, collecting every problem (with the parameter as its path) for one 422.</summary>
internal static class QueryParameters
{
    /// <summary>The parameter's first value, or <see langword="null"/> when it is missing or empty.</summary>
    public static string? Text(IQueryCollection query, string name) =>
        query.TryGetValue(name, out var values) && values.Count > 0 && !string.IsNullOrEmpty(values[0]) ? values[0] : null;

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>], or <see langword="null"/> when missing.</summary>
    public static long? Number(IQueryCollection query, string name, long min, long max, List<ManifestError> errors)
    {
        if (Text(query, name) is not { } text)
        {
            return null;
        }

        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        errors.Add(new ManifestError("/" + name, $"must be a whole number from {min} to {max}"));
        return null;
    }

    /// <summary>One of <paramref name="names"/>' keys, or <see langword="null"/> when missing.</summary>
    public static T? Choice<T>(IQueryCollection query, string name, IReadOnlyDictionary<string, T> names, List<ManifestError> errors)
        where T : struct
    {
        if (Text(query, name) is not { } text)
        {
            return null;
        }

        if (names.TryGetValue(text, out var value))
        {
            return value;
        }

        errors.Add(new ManifestError("/" + name, "must be one of " + string.Join(", ", names.Keys)));
        return null;
    }
}
