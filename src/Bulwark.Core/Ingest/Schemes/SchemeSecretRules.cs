namespace Bulwark.Ingest;

/// <summary>
/// The checks secrets of every scheme share. Messages name the problem, never the secret. Whitespace at either end and
/// control characters are refused because they are copy-paste accidents, and a header value can carry neither.
/// </summary>
internal static class SchemeSecretRules
{
    /// <summary>The shortest static token accepted (Okta, Auth0, bearer): the token is the whole authentication.</summary>
    public const int MinimumTokenLength = 16;

    /// <summary>Checks a secret used as text (an HMAC key's UTF-8 bytes, or a token).</summary>
    /// <param name="secret">The secret.</param>
    /// <returns>An error, or <see langword="null"/>.</returns>
    public static string? Text(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (secret.Length == 0)
        {
            return "The secret is empty.";
        }

        if (char.IsWhiteSpace(secret[0]) || char.IsWhiteSpace(secret[^1]))
        {
            return "The secret starts or ends with whitespace.";
        }

        foreach (var c in secret)
        {
            if (char.IsControl(c))
            {
                return "The secret contains a control character.";
            }
        }

        return null;
    }

    /// <summary>Checks a static token compared with a whole header value (Okta, Auth0).</summary>
    /// <param name="secret">The token.</param>
    /// <returns>An error, or <see langword="null"/>.</returns>
    public static string? Token(string secret) =>
        Text(secret) ?? (secret.Length < MinimumTokenLength
            ? $"The token is shorter than {MinimumTokenLength} characters."
            : null);
}
