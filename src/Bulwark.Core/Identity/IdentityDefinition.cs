using System.Text.Json.Nodes;
using Bulwark.Manifests;

namespace Bulwark.Identity;

/// <summary>The declared part of an identity: what a manifest of kind <c>Identity</c> and <c>PUT /v1/identities/{name}</c> carry.</summary>
public sealed record IdentityDefinition
{
    /// <inheritdoc cref="IdentityRecord.Name"/>
    public required string Name { get; init; }

    /// <inheritdoc cref="IdentityRecord.Roles"/>
    public required IReadOnlyList<Role> Roles { get; init; }

    /// <inheritdoc cref="IdentityRecord.Description"/>
    public string? Description { get; init; }

    /// <summary>The definition of a stored identity.</summary>
    /// <param name="record">The stored identity.</param>
    /// <returns>Its declared part.</returns>
    public static IdentityDefinition From(IdentityRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new IdentityDefinition { Name = record.Name, Roles = record.Roles, Description = record.Description };
    }

    /// <summary>Whether two definitions declare the same thing.</summary>
    /// <param name="other">The other definition.</param>
    /// <returns><see langword="true"/> when name, roles and description are equal.</returns>
    public bool SameAs(IdentityDefinition other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Name == other.Name && Description == other.Description && Roles.SequenceEqual(other.Roles);
    }
}

/// <summary>
/// Manifest kind <c>Identity</c>: <c>name</c> (required), <c>roles</c> (required, at least one of
/// <c>viewer</c>, <c>operator</c>, <c>responder</c>, <c>approver</c>, <c>admin</c>), <c>description</c> (optional).
/// Tokens are never part of a manifest: they are created through the API and shown once.
/// </summary>
public sealed class IdentityKind : ManifestKind<IdentityDefinition>
{
    /// <summary>The shared instance.</summary>
    public static IdentityKind Instance { get; } = new();

    /// <inheritdoc />
    public override string Kind => "Identity";

    /// <inheritdoc />
    public override string Plural => "identities";

    /// <inheritdoc />
    public override Capability ChangeCapability => Capability.Administer;

    /// <inheritdoc />
    protected override IdentityDefinition? ReadCore(ManifestReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var name = reader.ReadName();
        var description = reader.ReadString("description", maxLength: 500);
        var roleNames = reader.ReadStringArray("roles", required: true);
        var roles = new SortedSet<Role>();
        if (roleNames is not null)
        {
            if (roleNames.Count == 0)
            {
                reader.Error("roles", "must name at least one role");
            }

            for (var i = 0; i < roleNames.Count; i++)
            {
                if (!Roles.TryParse(roleNames[i], out var role))
                {
                    reader.ItemError("roles", i, $"'{roleNames[i]}' is not a role; use one of viewer, operator, responder, approver, admin");
                }
                else if (!roles.Add(role))
                {
                    reader.ItemError("roles", i, $"'{roleNames[i]}' is listed twice");
                }
            }
        }

        return name is null || roleNames is null
            ? null
            : new IdentityDefinition { Name = name, Roles = [.. roles], Description = description };
    }

    /// <inheritdoc />
    protected override string NameOfCore(IdentityDefinition definition) => definition.Name;

    /// <inheritdoc />
    protected override JsonObject WriteCore(IdentityDefinition definition)
    {
        var document = new JsonObject
        {
            ["name"] = definition.Name,
            ["roles"] = new JsonArray([.. definition.Roles.Select(r => (JsonNode)Bulwark.Identity.Roles.Name(r))]),
        };
        if (definition.Description is not null)
        {
            document["description"] = definition.Description;
        }

        return document;
    }
}
