namespace Bulwark.Ingest;

/// <summary>The built-in normalizers, one per manifest name. Each is stateless, thread-safe and never throws for a body.</summary>
public static class Normalizers
{
    /// <summary>Every normalizer: <c>event-v1</c>, <c>okta</c>, <c>auth0</c>, <c>meta</c>, <c>x</c>, <c>linkedin</c>, <c>mapping</c>.</summary>
    public static IReadOnlyList<INormalizer> All { get; } =
    [
        new EventV1Normalizer(),
        new OktaNormalizer(),
        new Auth0Normalizer(),
        new MetaNormalizer(),
        new XNormalizer(),
        new LinkedInNormalizer(),
        new MappingNormalizer(),
    ];

    /// <summary>The normalizer with a manifest name (exact, lower case).</summary>
    /// <param name="name">The name, such as <c>okta</c>.</param>
    /// <returns>The normalizer, or <see langword="null"/> when there is none by that name.</returns>
    public static INormalizer? Find(string? name)
    {
        foreach (var normalizer in All)
        {
            if (string.Equals(normalizer.Name, name, StringComparison.Ordinal))
            {
                return normalizer;
            }
        }

        return null;
    }
}
