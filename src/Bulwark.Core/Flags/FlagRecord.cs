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
}
