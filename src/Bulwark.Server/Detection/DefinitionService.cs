using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Detection.Anomaly;
using Bulwark.Detection.Rules;
using Bulwark.Json;
using Bulwark.Manifests;
using Bulwark.Problems;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Server.Identity;
using Bulwark.Storage;

namespace Bulwark.Server.Detection;

/// <summary>The definitions of a kind in force: every stored one, at the kind's version they were read at.</summary>
/// <typeparam name="T">The definition type.</typeparam>
/// <param name="Version">The kind's version.</param>
/// <param name="Items">The definitions, by name.</param>
internal sealed record DefinitionSet<T>(long Version, IReadOnlyList<T> Items);

/// <summary>
/// Definitions of a manifest kind kept in the control store's definitions table (rules, detectors): puts audited
/// (<c>rule.create</c>, <c>detector.update</c>, ...) and put in force on this node once committed; what would break the
/// set is refused with 422.
/// </summary>
/// <typeparam name="T">The definition type.</typeparam>
internal abstract class DefinitionService<T>(IControlStore store, ManifestKind<T> kind) : IDisposable
    where T : class
{
    private readonly SemaphoreSlim _load = new(1, 1);
    private DefinitionSet<T>? _current;

    public ManifestKind<T> Kind => kind;

    public void Dispose() => _load.Dispose();

    /// <summary>The definitions in force, read from the store on first use.</summary>
    public async ValueTask<DefinitionSet<T>> GetAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _current) ?? await ReloadAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// What a put would change of where the server sends a secret or what it calls (<see cref="Security.SecretDestinations"/>);
    /// null when nothing, or when the kind has no such fields.
    /// </summary>
    public virtual string? SecretDestinationChanges(T? stored, T proposed) => null;

    /// <summary>What stops a definition from joining the set in force (paths relative to the definition).</summary>
    public virtual Task<List<ManifestError>> CheckAsync(T definition, CancellationToken cancellationToken) => Task.FromResult(new List<ManifestError>());

    /// <summary>
    /// Puts a definition. <paramref name="refuse"/>, when given, is asked inside the write with the definition it would
    /// replace (null for a new one); a reason it returns refuses the put with 403 and writes nothing.
    /// </summary>
    public async Task<(DefinitionRecord Definition, PutOutcome Outcome)> PutAsync(
        T definition, ChangeContext context, CancellationToken cancellationToken, Func<T?, string?>? refuse = null)
    {
        var name = kind.NameOf(definition);
        var errors = await CheckAsync(definition, cancellationToken).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            throw new ProblemException(ProblemKind.Validation, $"{kind.Kind} '{name}' does not fit the set in force: {string.Join("; ", errors)}");
        }

        var document = kind.ToDocument(definition);
        document.Remove("kind");
        var action = kind.Kind.ToLowerInvariant();
        var result = await store.WriteAsync(
            tx =>
            {
                var existing = tx.GetDefinition(kind.Kind, name);
                if (refuse?.Invoke(existing is null ? null : kind.Read(existing.Document).Value) is { } reason)
                {
                    throw new ProblemException(ProblemKind.Forbidden, reason);
                }

                if (existing is not null && CanonicalJson.AreEqual(existing.Document, document))
                {
                    return (existing, PutOutcome.Unchanged);
                }

                var record = new DefinitionRecord
                {
                    Kind = kind.Kind,
                    Name = name,
                    Document = document,
                    Version = 0,
                    CreatedAt = existing?.CreatedAt ?? tx.Now,
                    UpdatedAt = tx.Now,
                };
                var version = tx.PutDefinition(record);
                tx.Append(context.Draft(existing is null ? action + ".create" : action + ".update", action + "/" + name, existing?.Document, document));
                return (record with { Version = version }, existing is null ? PutOutcome.Created : PutOutcome.Updated);
            },
            cancellationToken).ConfigureAwait(false);
        if (result.Item2 != PutOutcome.Unchanged)
        {
            await ReloadAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>The API shape: the manifest, and its version and times.</summary>
    public JsonObject Document(DefinitionRecord record)
    {
        var document = new JsonObject { ["kind"] = kind.Kind };
        foreach (var (key, value) in record.Document)
        {
            document[key] = value?.DeepClone();
        }

        document["status"] = new JsonObject
        {
            ["version"] = record.Version,
            ["created_at"] = AuditChain.FormatTime(record.CreatedAt),
            ["updated_at"] = AuditChain.FormatTime(record.UpdatedAt),
        };
        return document;
    }

    private async Task<DefinitionSet<T>> ReloadAsync(CancellationToken cancellationToken)
    {
        await _load.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (stored, version) = await store.ListDefinitionsAsync(kind.Kind, cancellationToken).ConfigureAwait(false);
            var items = new List<T>();
            foreach (var record in stored)
            {
                var parsed = kind.Read(record.Document);
                items.Add(parsed.Value ?? throw new InvalidDataException($"Stored {kind.Kind} '{record.Name}' no longer validates: {string.Join("; ", parsed.Errors)}"));
            }

            var set = new DefinitionSet<T>(version, items);
            Volatile.Write(ref _current, set);
            return set;
        }
        finally
        {
            _load.Release();
        }
    }
}

/// <summary>Rules: the set is validated together (unique names; a k-of-n rule names rules in force, not k-of-n ones).</summary>
internal sealed class RuleService(IControlStore store) : DefinitionService<RuleDefinition>(store, RuleManifestKind.Instance)
{
    public override async Task<List<ManifestError>> CheckAsync(RuleDefinition definition, CancellationToken cancellationToken)
    {
        var current = await GetAsync(cancellationToken).ConfigureAwait(false);
        var set = current.Items.Where(r => r.Name != definition.Name).Append(definition).ToList();
        RuleKind.ParseSet([.. set.Select(Manifest)], out var errors);
        var index = set.Count - 1;
        return [.. errors.Where(e => e.Path.StartsWith($"/{index}/", StringComparison.Ordinal)).Select(e => e with { Path = e.Path[$"/{index}".Length..] })];
    }

    private static JsonObject Manifest(RuleDefinition rule)
    {
        var document = (JsonObject)rule.Document.DeepClone();
        document["kind"] = RuleKind.Kind;
        return document;
    }
}

/// <summary>Statistical detectors.</summary>
internal sealed class DetectorService(IControlStore store) : DefinitionService<DetectorDefinition>(store, DetectorKind.Instance);
