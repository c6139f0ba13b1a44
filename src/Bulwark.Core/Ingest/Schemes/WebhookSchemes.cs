namespace Bulwark.Ingest;

/// <summary>Every webhook signature scheme by its manifest name, and the secret checks the manifest validator uses.</summary>
public static class WebhookSchemes
{
    /// <summary>Every scheme, in the order of the documentation.</summary>
    public static IReadOnlyList<IWebhookScheme> All { get; } =
    [
        StandardWebhooksScheme.Instance, StripeScheme.Instance, GitHubScheme.Instance, MetaScheme.Instance, XScheme.Instance,
        LinkedInScheme.Instance, OktaScheme.Instance, Auth0Scheme.Instance, SlackScheme.Instance, BearerScheme.Instance,
    ];

    /// <summary>The scheme with a manifest name (exact, lower case).</summary>
    /// <param name="name">The name, such as <c>stripe</c>.</param>
    /// <returns>The scheme, or <see langword="null"/> when there is none of that name.</returns>
    public static IWebhookScheme? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var scheme in All)
        {
            if (string.Equals(scheme.Name, name, StringComparison.Ordinal))
            {
                return scheme;
            }
        }

        return null;
    }

    /// <summary>Checks a secret for a scheme; the message never repeats the secret.</summary>
    /// <param name="scheme">The scheme's manifest name.</param>
    /// <param name="secret">The secret's value.</param>
    /// <returns>An error, or <see langword="null"/> when the secret is usable with the scheme.</returns>
    public static string? ValidateSecret(string scheme, string secret)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        ArgumentNullException.ThrowIfNull(secret);
        return scheme switch
        {
            "standard-webhooks" => StandardWebhooksScheme.ValidateSecret(secret),
            "stripe" => StripeScheme.ValidateSecret(secret),
            "github" => GitHubScheme.ValidateSecret(secret),
            "meta" => MetaScheme.ValidateSecret(secret),
            "x" => XScheme.ValidateSecret(secret),
            "linkedin" => LinkedInScheme.ValidateSecret(secret),
            "okta" => OktaScheme.ValidateSecret(secret),
            "auth0" => Auth0Scheme.ValidateSecret(secret),
            "slack" => SlackScheme.ValidateSecret(secret),
            "bearer" => BearerScheme.ValidateSecret(secret),
            _ => "Unknown webhook scheme.",
        };
    }
}
