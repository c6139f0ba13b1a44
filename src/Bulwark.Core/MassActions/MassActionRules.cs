using Bulwark.Flags;
using Bulwark.Identity;

namespace Bulwark.MassActions;

/// <summary>
/// Who may do what with a mass action (see <c>docs/mass-actions.md</c>): declare it with <c>operator</c>; ask for
/// permits and report with a worker identity it names (or, when it names none, <c>operator</c>); halt with
/// <c>responder</c> or <c>operator</c>; request a resume likewise; approve a start or a resume with <c>approver</c> as a
/// different identity than the one who asked. <c>admin</c> may do everything but approve its own request.
/// </summary>
public static class MassActionRules
{
    /// <summary>The default approval threshold: audiences larger than this need a second person before the first permit.</summary>
    public const long DefaultApprovalThreshold = 10_000;

    /// <summary>Whether declaring an action for <paramref name="audienceSize"/> needs a second person's approval.</summary>
    /// <param name="audienceSize">The declared audience.</param>
    /// <param name="threshold">The server's threshold.</param>
    /// <returns><see langword="true"/> above the threshold.</returns>
    public static bool NeedsApproval(long audienceSize, long threshold) => audienceSize > threshold;

    /// <summary>Whether an identity may ask for permits and report results for <paramref name="definition"/>.</summary>
    /// <param name="definition">The declaration.</param>
    /// <param name="identity">The caller's identity name.</param>
    /// <param name="roles">The caller's roles.</param>
    /// <returns><see langword="true"/> for a named worker or an admin; when no worker is named, for an operator or admin.</returns>
    public static bool MayWork(MassActionDefinition definition, string identity, IReadOnlyCollection<Role> roles)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(roles);
        if (roles.Contains(Role.Admin))
        {
            return true;
        }

        return definition.Workers.Count == 0
            ? Roles.AnyGrants(roles, Capability.Configure)
            : definition.Workers.Contains(identity, StringComparer.Ordinal);
    }

    /// <summary>Whether the roles may halt an action, or request that a halted one resume.</summary>
    /// <param name="roles">The caller's roles.</param>
    /// <returns><see langword="true"/> for <c>responder</c>, <c>operator</c> and <c>admin</c>.</returns>
    public static bool MayHaltOrResume(IReadOnlyCollection<Role> roles) =>
        Roles.AnyGrants(roles, Capability.Respond) || Roles.AnyGrants(roles, Capability.Configure);

    /// <summary>
    /// Whether <paramref name="approver"/> may approve a start or resume requested by <paramref name="requester"/>: the
    /// flags' two-person rule (a different identity holding <c>approver</c> or <c>admin</c>; tokens are not people).
    /// </summary>
    /// <param name="requester">Who asked.</param>
    /// <param name="approver">Who approves.</param>
    /// <param name="approverRoles">The approver's roles.</param>
    /// <returns>The decision.</returns>
    public static TransitionDecision DecideApproval(string requester, string approver, IReadOnlyCollection<Role> approverRoles) =>
        FlagTransitions.DecideApproval(requester, approver, approverRoles);
}
