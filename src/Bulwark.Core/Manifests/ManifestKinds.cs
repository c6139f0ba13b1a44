using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.MassActions;
using Bulwark.Throttling;

namespace Bulwark.Manifests;

/// <summary>Every manifest kind Bulwark knows, by <c>kind:</c> name and by API collection.</summary>
public static class ManifestKinds
{
    /// <summary>The kinds, in the order <c>apply</c> applies them (identities first, so later kinds can name owners;
    /// mass actions and sources after the flags and throttles they name; playbooks after the rules and connectors they name).</summary>
    public static IReadOnlyList<ManifestKind> All { get; } = [IdentityKind.Instance, FlagKind.Instance, ThrottleKind.Instance, MassActionKind.Instance, Ingest.SourceKind.Instance, Detection.Rules.RuleManifestKind.Instance, Detection.Anomaly.DetectorKind.Instance, Response.ConnectorKind.Instance, Response.PlaybookKind.Instance];

    /// <summary>Finds a kind by its <c>kind:</c> name.</summary>
    /// <param name="kind">For example <c>Identity</c>.</param>
    /// <returns>The kind, or <see langword="null"/>.</returns>
    public static ManifestKind? Find(string? kind) =>
        All.FirstOrDefault(k => string.Equals(k.Kind, kind, StringComparison.Ordinal));

    /// <summary>The names of every kind, for error messages.</summary>
    public static string Names => string.Join(", ", All.Select(k => k.Kind));

    /// <summary>The position of a kind in apply order.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>Its index in <see cref="All"/>.</returns>
    public static int OrderOf(ManifestKind kind)
    {
        for (var i = 0; i < All.Count; i++)
        {
            if (ReferenceEquals(All[i], kind))
            {
                return i;
            }
        }

        return All.Count;
    }
}
