using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.Manifests;
using Bulwark.Server.Flags;
using Bulwark.Server.Hosting;
using Bulwark.Server.Identity;

namespace Bulwark.Server.Manifests;

/// <summary>Applies one validated manifest of a kind; each capability registers one for each kind it adds.</summary>
internal interface IManifestHandler
{
    ManifestKind Kind { get; }

    Task<PutOutcome> ApplyAsync(object definition, ChangeContext context, CancellationToken cancellationToken);
}

internal sealed class IdentityManifestHandler(IdentityService identities) : IManifestHandler
{
    public ManifestKind Kind => IdentityKind.Instance;

    public async Task<PutOutcome> ApplyAsync(object definition, ChangeContext context, CancellationToken cancellationToken)
    {
        var (_, outcome) = await identities.PutAsync((IdentityDefinition)definition, context, cancellationToken).ConfigureAwait(false);
        return outcome;
    }
}

internal sealed class FlagManifestHandler(FlagService flags) : IManifestHandler
{
    public ManifestKind Kind => FlagKind.Instance;

    public async Task<PutOutcome> ApplyAsync(object definition, ChangeContext context, CancellationToken cancellationToken)
    {
        var (_, outcome) = await flags.PutAsync((FlagDefinition)definition, context, cancellationToken).ConfigureAwait(false);
        return outcome;
    }
}

internal sealed class ThrottleManifestHandler(Throttles.ThrottleService throttles) : IManifestHandler
{
    public ManifestKind Kind => Throttling.ThrottleKind.Instance;

    public async Task<PutOutcome> ApplyAsync(object definition, ChangeContext context, CancellationToken cancellationToken)
    {
        var (_, outcome) = await throttles.PutAsync((Throttling.ThrottlePolicy)definition, context, cancellationToken).ConfigureAwait(false);
        return outcome;
    }
}

internal sealed class MassActionManifestHandler(MassActions.MassActionService actions) : IManifestHandler
{
    public ManifestKind Kind => Bulwark.MassActions.MassActionKind.Instance;

    public async Task<PutOutcome> ApplyAsync(object definition, ChangeContext context, CancellationToken cancellationToken)
    {
        var (_, outcome) = await actions.DeclareAsync((Bulwark.MassActions.MassActionDefinition)definition, context, createOnly: false, cancellationToken).ConfigureAwait(false);
        return outcome;
    }
}

/// <summary>One applied manifest.</summary>
/// <param name="Kind">Its kind.</param>
/// <param name="Name">Its name.</param>
/// <param name="Outcome">What changed.</param>
public sealed record AppliedManifest(string Kind, string Name, string Outcome);

/// <summary>
/// Applies a set of manifests in the server process (for <c>bulwark serve --manifests</c> and <c>--demo</c>): all are
/// validated first, and nothing is applied unless all are valid. Applying the same set twice changes nothing and writes
/// no audit entry the second time.
/// </summary>
public sealed class ManifestApplier
{
    private readonly Dictionary<string, IManifestHandler> _handlers;

    internal ManifestApplier(IEnumerable<IManifestHandler> handlers) =>
        _handlers = handlers.ToDictionary(h => h.Kind.Kind, StringComparer.Ordinal);

    /// <summary>Validates and applies <paramref name="documents"/> as <c>system:manifests</c>.</summary>
    /// <param name="documents">The documents.</param>
    /// <param name="cancellationToken">Cancels the remaining work.</param>
    /// <returns>What each manifest did.</returns>
    /// <exception cref="ManifestValidationException">When any document is invalid; nothing was applied.</exception>
    public async Task<IReadOnlyList<AppliedManifest>> ApplyAsync(IEnumerable<ManifestDocument> documents, CancellationToken cancellationToken)
    {
        var valid = ManifestSet.Validate(documents, out var problems);
        if (problems.Count > 0)
        {
            throw new ManifestValidationException(problems);
        }

        var context = ChangeContext.System("manifests");
        var applied = new List<AppliedManifest>(valid.Count);
        foreach (var manifest in valid)
        {
            // A kind Core knows but this server does not serve yet is reported, not fatal (the response kinds land in two steps).
            if (!_handlers.TryGetValue(manifest.Kind.Kind, out var handler))
            {
                applied.Add(new AppliedManifest(manifest.Kind.Kind, manifest.Name, "skipped: not served by this server yet"));
                continue;
            }

            var outcome = await handler.ApplyAsync(manifest.Definition, context, cancellationToken).ConfigureAwait(false);
            applied.Add(new AppliedManifest(manifest.Kind.Kind, manifest.Name, outcome.ToString().ToLowerInvariant()));
        }

        return applied;
    }
}

/// <summary>Thrown when manifests given at start are invalid; lists every problem with file and line.</summary>
public sealed class ManifestValidationException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="problems">Every problem.</param>
    public ManifestValidationException(IReadOnlyList<ManifestProblem> problems)
        : base("Invalid manifests:" + Environment.NewLine + string.Join(Environment.NewLine, problems)) => Problems = problems;

    /// <summary>Creates the exception.</summary>
    public ManifestValidationException()
        : this([])
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public ManifestValidationException(string message)
        : base(message) => Problems = [];

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public ManifestValidationException(string message, Exception innerException)
        : base(message, innerException) => Problems = [];

    /// <summary>Every problem found.</summary>
    public IReadOnlyList<ManifestProblem> Problems { get; }
}

internal sealed class SourceManifestHandler(Ingest.SourceService sources) : IManifestHandler
{
    public ManifestKind Kind => Bulwark.Ingest.SourceKind.Instance;

    public async Task<PutOutcome> ApplyAsync(object definition, ChangeContext context, CancellationToken cancellationToken)
    {
        var (_, outcome) = await sources.PutAsync((Bulwark.Ingest.SourceDefinition)definition, context, cancellationToken).ConfigureAwait(false);
        return outcome;
    }
}

internal sealed class DefinitionManifestHandler<T>(Detection.DefinitionService<T> definitions) : IManifestHandler
    where T : class
{
    public ManifestKind Kind => definitions.Kind;

    public async Task<PutOutcome> ApplyAsync(object definition, ChangeContext context, CancellationToken cancellationToken)
    {
        var (_, outcome) = await definitions.PutAsync((T)definition, context, cancellationToken).ConfigureAwait(false);
        return outcome;
    }
}
