namespace Bulwark.Identity;

/// <summary>
/// A role held by an identity. Values are persisted and sent on the wire as their lower-case names; the numbers are
/// pinned by a test so that a stored role never changes meaning.
/// </summary>
public enum Role
{
    /// <summary>Reads state, audit and metrics; changes nothing.</summary>
    Viewer = 1,

    /// <summary>Changes configuration: manifests, flags, throttles, rollouts.</summary>
    Operator = 2,

    /// <summary>Takes emergency actions: kill switches, halts, incident response.</summary>
    Responder = 3,

    /// <summary>Approves changes that need a second person.</summary>
    Approver = 4,

    /// <summary>Holds every capability, including identities and tokens.</summary>
    Admin = 5,

    /// <summary>A service that pushes events (<c>POST /v1/events</c>) and nothing else: it cannot even read.</summary>
    Ingest = 6,
}

/// <summary>A capability that an endpoint or a manifest kind requires. Granted to roles by <see cref="Roles"/>.</summary>
public enum Capability
{
    /// <summary>Read state, audit entries and configuration.</summary>
    Read = 1,

    /// <summary>Change configuration.</summary>
    Configure = 2,

    /// <summary>Take emergency actions.</summary>
    Respond = 3,

    /// <summary>Approve or reject a pending change.</summary>
    Approve = 4,

    /// <summary>Manage identities and tokens.</summary>
    Administer = 5,

    /// <summary>Push events into the event log.</summary>
    Ingest = 6,
}

/// <summary>Role names and the capabilities each role grants.</summary>
public static class Roles
{
    /// <summary>Every role, in declaration order.</summary>
    public static IReadOnlyList<Role> All { get; } = Enum.GetValues<Role>();

    /// <summary>The wire and manifest name of a role (lower case).</summary>
    /// <param name="role">The role.</param>
    /// <returns>For example <c>operator</c>.</returns>
    public static string Name(Role role) => role switch
    {
        Role.Viewer => "viewer",
        Role.Operator => "operator",
        Role.Responder => "responder",
        Role.Approver => "approver",
        Role.Admin => "admin",
        Role.Ingest => "ingest",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };

    /// <summary>Parses a role name, case-sensitively, as manifests and the API write it.</summary>
    /// <param name="name">For example <c>approver</c>.</param>
    /// <param name="role">The role when the name is known.</param>
    /// <returns>Whether <paramref name="name"/> names a role.</returns>
    public static bool TryParse(string? name, out Role role)
    {
        foreach (var candidate in All)
        {
            if (string.Equals(Name(candidate), name, StringComparison.Ordinal))
            {
                role = candidate;
                return true;
            }
        }

        role = default;
        return false;
    }

    /// <summary>Whether <paramref name="role"/> grants <paramref name="capability"/>.</summary>
    /// <param name="role">The role held.</param>
    /// <param name="capability">The capability asked for.</param>
    /// <returns><see langword="true"/> when granted. Every role but <see cref="Role.Ingest"/> reads; <see cref="Role.Admin"/> holds every capability.</returns>
    public static bool Grants(Role role, Capability capability) => role switch
    {
        Role.Admin => true,
        Role.Viewer => capability == Capability.Read,
        Role.Operator => capability is Capability.Read or Capability.Configure or Capability.Ingest,
        Role.Responder => capability is Capability.Read or Capability.Respond,
        Role.Approver => capability is Capability.Read or Capability.Approve,
        Role.Ingest => capability == Capability.Ingest,
        _ => false, // An undefined role value grants nothing.
    };

    /// <summary>Whether any of <paramref name="roles"/> grants <paramref name="capability"/>.</summary>
    /// <param name="roles">The roles held.</param>
    /// <param name="capability">The capability asked for.</param>
    /// <returns><see langword="true"/> when at least one role grants it.</returns>
    public static bool AnyGrants(IEnumerable<Role> roles, Capability capability)
    {
        ArgumentNullException.ThrowIfNull(roles);
        foreach (var role in roles)
        {
            if (Grants(role, capability))
            {
                return true;
            }
        }

        return false;
    }
}
