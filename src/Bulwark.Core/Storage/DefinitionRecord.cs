using System.Text.Json.Nodes;

namespace Bulwark.Storage;

/// <summary>
/// A stored definition of a manifest kind that needs no table of its own (rules now; detectors, playbooks and
/// connectors later): its canonical manifest document, versioned per kind like flags and sources.
/// </summary>
public sealed record DefinitionRecord
{
    /// <summary>The manifest kind (<c>Rule</c>, ...).</summary>
    public required string Kind { get; init; }

    /// <summary>The definition's name, unique within its kind.</summary>
    public required string Name { get; init; }

    /// <summary>The manifest document, without <c>kind</c>.</summary>
    public required JsonObject Document { get; init; }

    /// <summary>The kind's version at which it last changed.</summary>
    public required long Version { get; init; }

    /// <summary>When it was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }
}
