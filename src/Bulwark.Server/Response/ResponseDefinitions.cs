using Bulwark.Manifests;
using Bulwark.Response;
using Bulwark.Server.Detection;
using Bulwark.Server.Response.Connectors;
using Bulwark.Storage;

namespace Bulwark.Server.Response;

/// <summary>The playbooks in force (<c>/v1/playbooks</c>, manifest kind <c>Playbook</c>); each must name connectors that exist, of the right type.</summary>
internal sealed class PlaybookService(IControlStore store, ConnectorService connectors) : DefinitionService<PlaybookDefinition>(store, PlaybookKind.Instance)
{
    public override async Task<List<ManifestError>> CheckAsync(PlaybookDefinition definition, CancellationToken cancellationToken)
    {
        var set = await connectors.GetAsync(cancellationToken).ConfigureAwait(false);
        return [.. PlaybookChecks.CheckConnectors(definition, name => set.Items.FirstOrDefault(c => c.Name == name))];
    }

    /// <summary>The playbook in force with this name, if any.</summary>
    public async Task<PlaybookDefinition?> FindAsync(string name, CancellationToken cancellationToken) =>
        (await GetAsync(cancellationToken).ConfigureAwait(false)).Items.FirstOrDefault(p => p.Name == name);
}

/// <summary>The connectors in force (<c>/v1/connectors</c>, manifest kind <c>Connector</c>): secrets as references only.</summary>
internal sealed class ConnectorService(IControlStore store) : DefinitionService<ConnectorDefinition>(store, ConnectorKind.Instance), IConnectorCatalog
{
    /// <summary>A connector sends its secret to its URL (for Slack, the secret is the URL): both are guarded.</summary>
    public override string? SecretDestinationChanges(ConnectorDefinition? stored, ConnectorDefinition proposed) =>
        (proposed.Url is null && proposed.Secret is null) || (stored is not null && stored.Url?.AbsoluteUri == proposed.Url?.AbsoluteUri && stored.Secret == proposed.Secret && stored.Type == proposed.Type)
            ? null
            : "where this connector calls or the secret it sends (url, secret, type)";

    /// <summary>The connector in force with this name, if any.</summary>
    public async Task<ConnectorDefinition?> FindAsync(string name, CancellationToken cancellationToken) =>
        (await GetAsync(cancellationToken).ConfigureAwait(false)).Items.FirstOrDefault(c => c.Name == name);

    /// <summary>The connector in force with this name, from the set in memory (loaded once, at first use).</summary>
    public ConnectorDefinition? Find(string name) =>
        GetAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult().Items.FirstOrDefault(c => c.Name == name);
}
