using System.Collections.Concurrent;
using Bulwark.Ingest;
using Bulwark.Storage;

namespace Bulwark.Server.Ingest;

/// <summary>A source ready to receive: its record, scheme, normalizer and resolved secrets.</summary>
/// <param name="Record">The stored source.</param>
/// <param name="Scheme">The signature scheme.</param>
/// <param name="Normalizer">The normalizer.</param>
/// <param name="Secrets">The resolved secrets (those that resolve on this node).</param>
/// <param name="ResolvedAt">When the secrets were resolved.</param>
internal sealed record LiveSource(SourceRecord Record, IWebhookScheme Scheme, INormalizer Normalizer, SchemeSecrets Secrets, DateTimeOffset ResolvedAt)
{
    public SourceDefinition Definition => Record.Definition;
}

/// <summary>
/// The sources of this node, loaded from the store on first use and replaced when one is written here; secrets are
/// resolved again after <see cref="ResolveEvery"/>, so a secret file rewritten for a rotation is picked up without a
/// restart.
/// </summary>
internal sealed class SourceRegistry(IControlStore store, ISecretResolver resolver, TimeProvider time) : IDisposable
{
    public static readonly TimeSpan ResolveEvery = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, LiveSource> _sources = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _loading = new(1, 1);
    private volatile bool _loaded;

    public DateTimeOffset Now => time.GetUtcNow();

    /// <summary>Whether a source with this name is configured.</summary>
    public async ValueTask<bool> ExistsAsync(string name, CancellationToken cancellationToken)
    {
        if (!_loaded)
        {
            await LoadAsync(cancellationToken).ConfigureAwait(false);
        }

        return _sources.ContainsKey(name);
    }

    public async ValueTask<LiveSource?> GetAsync(string name, CancellationToken cancellationToken)
    {
        if (!_loaded)
        {
            await LoadAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!_sources.TryGetValue(name, out var live))
        {
            return null;
        }

        if (Now - live.ResolvedAt > ResolveEvery)
        {
            // Only in place of what was read: a put applied while the secrets were resolved again is newer than this
            // record, and must stay.
            var fresh = Make(live.Record);
            return _sources.TryUpdate(name, fresh, live) ? fresh : _sources.GetValueOrDefault(name);
        }

        return live;
    }

    /// <summary>Makes a written source live, unless a later version of it already is (two puts applied out of order).</summary>
    public void Apply(SourceRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var made = Make(record);
        _sources.AddOrUpdate(record.Name, made, (_, existing) => existing.Record.Version > record.Version ? existing : made);
    }

    public void Dispose() => _loading.Dispose();

    /// <summary>Resolves every secret reference of a definition; the errors name the references that fail.</summary>
    public (List<string> Values, List<(int Index, string Error)> Errors) Resolve(SourceDefinition definition)
    {
        var values = new List<string>();
        var errors = new List<(int, string)>();
        for (var i = 0; i < definition.Secrets.Count; i++)
        {
            if (resolver.TryResolve(definition.Secrets[i], out var value, out var error))
            {
                if (WebhookSchemes.ValidateSecret(definition.Scheme, value) is { } invalid)
                {
                    errors.Add((i, $"the secret in {definition.Secrets[i]} is not a valid {definition.Scheme} secret: {invalid}"));
                }
                else
                {
                    values.Add(value);
                }
            }
            else
            {
                errors.Add((i, error));
            }
        }

        return (values, errors);
    }

    /// <summary>Whether the reference resolves on this node (for the API's status; the value is not kept).</summary>
    public bool Resolves(SecretReference reference) => resolver.TryResolve(reference, out _, out _);

    private LiveSource Make(SourceRecord record)
    {
        var definition = record.Definition;
        var (values, _) = Resolve(definition);
        string? verifyToken = null;
        if (definition.VerifyToken is { } reference && resolver.TryResolve(reference, out var token, out _))
        {
            verifyToken = token;
        }

        var scheme = WebhookSchemes.Find(definition.Scheme) ?? throw new InvalidOperationException($"no scheme {definition.Scheme}");
        var normalizer = Normalizers.Find(definition.Normalizer) ?? throw new InvalidOperationException($"no normalizer {definition.Normalizer}");
        return new LiveSource(record, scheme, normalizer, new SchemeSecrets(values, verifyToken), Now);
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        await _loading.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_loaded)
            {
                return;
            }

            var (sources, _) = await store.ListSourcesAsync(cancellationToken).ConfigureAwait(false);
            foreach (var source in sources)
            {
                _sources.TryAdd(source.Name, Make(source));
            }

            _loaded = true;
        }
        finally
        {
            _loading.Release();
        }
    }
}
