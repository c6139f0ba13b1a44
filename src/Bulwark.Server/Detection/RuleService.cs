using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Detection.Rules;
using Bulwark.Json;
using Bulwark.Manifests;
using Bulwark.Problems;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Server.Identity;
using Bulwark.Storage;

namespace Bulwark.Server.Detection;

/// <summary>The rules in force: every stored rule, validated together, at the rules version they were read at.</summary>
/// <param name="Version">The rules version.</param>
/// <param name="Rules">The rules.</param>
internal sealed record RuleSet(long Version, IReadOnlyList<RuleDefinition> Rules);

/// <summary>
/// Rules (manifest kind <c>Rule</c>): definitions audited (<c>rule.create</c>, <c>rule.update</c>) and put in force on
/// this node once committed. A rule that would break the set (a k-of-n rule naming a rule that does not exist) is
/// refused with 422.
/// </summary>
internal sealed class RuleService(IControlStore store) : IDisposable
{
    private readonly SemaphoreSlim _load = new(1, 1);
    private RuleSet? _current;

    public void Dispose() => _load.Dispose();

    /// <summary>The rules in force, read from the store on first use.</summary>
    public async ValueTask<RuleSet> GetAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _current) ?? await ReloadAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>What stops a rule from joining the rules in force (the set's own checks: unique names, k-of-n members).</summary>
    public async Task<List<ManifestError>> CheckAsync(RuleDefinition definition, CancellationToken cancellationToken)
    {
        var current = await GetAsync(cancellationToken).ConfigureAwait(false);
        var set = current.Rules.Where(r => r.Name != definition.Name).Append(definition).ToList();
        RuleKind.ParseSet([.. set.Select(r => Manifest(r))], out var errors);
        var index = set.Count - 1;
        return [.. errors.Where(e => e.Path.StartsWith($"/{index}/", StringComparison.Ordinal)).Select(e => e with { Path = e.Path[$"/{index}".Length..] })];
    }

    public async Task<(DefinitionRecord Rule, PutOutcome Outcome)> PutAsync(RuleDefinition definition, ChangeContext context, CancellationToken cancellationToken)
    {
        var errors = await CheckAsync(definition, cancellationToken).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            throw new ProblemException(ProblemKind.Validation, $"Rule '{definition.Name}' does not fit the rules in force: {string.Join("; ", errors)}");
        }

        var document = RuleManifestKind.Instance.ToDocument(definition);
        document.Remove("kind");
        var result = await store.WriteAsync(
            tx =>
            {
                var existing = tx.GetDefinition(RuleKind.Kind, definition.Name);
                if (existing is not null && CanonicalJson.AreEqual(existing.Document, document))
                {
                    return (existing, PutOutcome.Unchanged);
                }

                var record = new DefinitionRecord
                {
                    Kind = RuleKind.Kind,
                    Name = definition.Name,
                    Document = document,
                    Version = 0,
                    CreatedAt = existing?.CreatedAt ?? tx.Now,
                    UpdatedAt = tx.Now,
                };
                var version = tx.PutDefinition(record);
                tx.Append(context.Draft(existing is null ? "rule.create" : "rule.update", "rule/" + definition.Name, existing?.Document, document));
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
    public static JsonObject Document(DefinitionRecord rule)
    {
        var document = new JsonObject { ["kind"] = RuleKind.Kind };
        foreach (var (key, value) in rule.Document)
        {
            document[key] = value?.DeepClone();
        }

        document["status"] = new JsonObject
        {
            ["version"] = rule.Version,
            ["created_at"] = AuditChain.FormatTime(rule.CreatedAt),
            ["updated_at"] = AuditChain.FormatTime(rule.UpdatedAt),
        };
        return document;
    }

    private static JsonObject Manifest(RuleDefinition rule)
    {
        var document = (JsonObject)rule.Document.DeepClone();
        document["kind"] = RuleKind.Kind;
        return document;
    }

    private async Task<RuleSet> ReloadAsync(CancellationToken cancellationToken)
    {
        await _load.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (stored, version) = await store.ListDefinitionsAsync(RuleKind.Kind, cancellationToken).ConfigureAwait(false);
            var rules = new List<RuleDefinition>();
            foreach (var record in stored)
            {
                var parsed = RuleManifestKind.Instance.Read(record.Document);
                rules.Add(parsed.Value ?? throw new InvalidDataException($"Stored rule '{record.Name}' no longer validates: {string.Join("; ", parsed.Errors)}"));
            }

            var set = new RuleSet(version, rules);
            Volatile.Write(ref _current, set);
            return set;
        }
        finally
        {
            _load.Release();
        }
    }
}
