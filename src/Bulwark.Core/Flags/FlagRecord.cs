namespace Bulwark.Flags;

/// <summary>A stored flag: its definition, its operational status, and the snapshot version of its last change.</summary>
public sealed record FlagRecord
{
    /// <summary>The definition.</summary>
    public required FlagDefinition Definition { get; init; }

    /// <summary>The operational status.</summary>
    public required FlagStatus Status { get; init; }

    /// <summary>Whether the flag is archived (kept for history, evaluated as off, hidden from lists by default).</summary>
    public bool Archived { get; init; }

    /// <summary>The flag snapshot version at which this flag last changed.</summary>
    public required long Version { get; init; }

    /// <summary>When the flag was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When its definition or status last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The flag key.</summary>
    public string Key => Definition.Key;

    /// <summary>How long a flag may sit unchanged in <c>GLOBAL</c> before it is listed as stale: its job is done.</summary>
    public static readonly TimeSpan GlobalStaleAfter = TimeSpan.FromDays(30);

    /// <summary>Why the flag is stale at <paramref name="now"/>, or <see langword="null"/> when it is not.</summary>
    /// <param name="now">The current time.</param>
    /// <returns>A sentence, or <see langword="null"/>.</returns>
    public string? StaleReason(DateTimeOffset now)
    {
        if (Archived)
        {
            return null;
        }

        if (Definition.Expires is { } expires && DateOnly.FromDateTime(now.UtcDateTime) > expires)
        {
            return $"expired on {expires:yyyy-MM-dd}";
        }

        return Status.State == FlagState.Global && now - UpdatedAt >= GlobalStaleAfter
            ? $"GLOBAL and unchanged since {UpdatedAt:yyyy-MM-dd}: remove the flag from the code"
            : null;
    }
}
