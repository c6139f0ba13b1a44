namespace Bulwark.Identity;

/// <summary>A person or a service that calls Bulwark: a name, its roles, and any number of tokens.</summary>
public sealed record IdentityRecord
{
    /// <summary>The unique name, for example <c>alice</c> or <c>ci-deployer</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The roles held, sorted and without duplicates.</summary>
    public required IReadOnlyList<Role> Roles { get; init; }

    /// <summary>A free-text description; <see langword="null"/> when none was given.</summary>
    public string? Description { get; init; }

    /// <summary>When the identity was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When its roles or description last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>A bearer token: only its SHA-256 hash is stored, the token itself is shown once at creation.</summary>
public sealed record TokenRecord
{
    /// <summary>The public token id (for example <c>tk_3f9c…</c>), used to list and revoke it.</summary>
    public required string Id { get; init; }

    /// <summary>The name of the identity the token authenticates.</summary>
    public required string Identity { get; init; }

    /// <summary>SHA-256 of the token's UTF-8 bytes (32 bytes).</summary>
    public required byte[] Hash { get; init; }

    /// <summary>A label chosen by whoever created it; <see langword="null"/> when none.</summary>
    public string? Label { get; init; }

    /// <summary>When the token was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the token was revoked; <see langword="null"/> while it is active.</summary>
    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>Whether the token still authenticates.</summary>
    public bool IsActive => RevokedAt is null;
}
