using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Ingest;
using Bulwark.Json;
using Bulwark.Manifests;
using Bulwark.Problems;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Server.Identity;
using Bulwark.Storage;

namespace Bulwark.Server.Ingest;

/// <summary>
/// Sources: definitions audited (<c>source.create</c>, <c>source.update</c>; secret references only, never values) and
/// made live on this node once committed. A definition whose secrets do not resolve on this node, or resolve to values
/// the scheme cannot use, is refused (422) rather than left to answer every delivery with 401.
/// </summary>
internal sealed class SourceService(IControlStore store, SourceRegistry registry)
{
    /// <summary>What stops a definition from working on this node (secrets, verify token, poll auth, throttle).</summary>
    public async Task<List<ManifestError>> CheckAsync(SourceDefinition definition, CancellationToken cancellationToken)
    {
        var errors = new List<ManifestError>();
        foreach (var (index, error) in registry.Resolve(definition).Errors)
        {
            errors.Add(new ManifestError($"/secrets/{index}", error));
        }

        if (definition.VerifyToken is { } verifyToken && !registry.Resolves(verifyToken))
        {
            errors.Add(new ManifestError("/verify_token", $"{verifyToken} does not resolve on this server"));
        }

        if (definition.Poll is { } poll && SourceKind.AuthHeaderProblem(poll) is { } headerProblem)
        {
            errors.Add(new ManifestError("/poll/auth_header", headerProblem));
        }

        if (definition.Poll?.Auth is { } auth && !registry.Resolves(auth))
        {
            errors.Add(new ManifestError("/poll/auth", $"{auth} does not resolve on this server"));
        }

        if (definition.Throttle is { } throttle && await store.GetThrottleAsync(throttle, cancellationToken).ConfigureAwait(false) is null)
        {
            errors.Add(new ManifestError("/throttle", $"there is no throttle '{throttle}'"));
        }

        return errors;
    }

    /// <summary>
    /// Puts a source. <paramref name="refuse"/>, when given, is asked inside the write with the definition it would replace
    /// (null for a new one); a reason it returns refuses the put with 403 and writes nothing.
    /// </summary>
    public async Task<(SourceRecord Source, PutOutcome Outcome)> PutAsync(
        SourceDefinition definition, ChangeContext context, CancellationToken cancellationToken, Func<SourceDefinition?, string?>? refuse = null)
    {
        var errors = await CheckAsync(definition, cancellationToken).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            throw new ProblemException(ProblemKind.Validation, $"Source '{definition.Name}' cannot be used on this server: {string.Join("; ", errors)}");
        }

        var (source, outcome) = await store.WriteAsync(
            tx =>
            {
                var existing = tx.GetSource(definition.Name);
                if (refuse?.Invoke(existing?.Definition) is { } reason)
                {
                    throw new ProblemException(ProblemKind.Forbidden, reason);
                }

                if (existing is not null && CanonicalJson.AreEqual(SourceKind.Instance.ToDocument(existing.Definition), SourceKind.Instance.ToDocument(definition)))
                {
                    return (existing, PutOutcome.Unchanged);
                }

                var record = new SourceRecord { Definition = definition, Version = 0, CreatedAt = existing?.CreatedAt ?? tx.Now, UpdatedAt = tx.Now };
                var version = tx.PutSource(record);
                tx.Append(context.Draft(
                    existing is null ? "source.create" : "source.update",
                    "source/" + definition.Name,
                    existing is null ? null : SourceKind.Instance.ToDocument(existing.Definition),
                    SourceKind.Instance.ToDocument(definition)));
                return (record with { Version = version }, existing is null ? PutOutcome.Created : PutOutcome.Updated);
            },
            cancellationToken).ConfigureAwait(false);
        registry.Apply(source);
        return (source, outcome);
    }

    /// <summary>The API shape: the manifest (references only) and a status that says which references resolve here.</summary>
    public JsonObject Document(SourceRecord source)
    {
        var document = SourceKind.Instance.ToDocument(source.Definition);
        document["status"] = new JsonObject
        {
            ["version"] = source.Version,
            ["created_at"] = AuditChain.FormatTime(source.CreatedAt),
            ["updated_at"] = AuditChain.FormatTime(source.UpdatedAt),
            ["endpoint"] = "/v1/webhooks/" + source.Name,
            ["secrets"] = new JsonArray([.. source.Definition.Secrets.Select(s => (JsonNode)new JsonObject
            {
                ["ref"] = s.ToString(),
                ["resolves"] = registry.Resolves(s),
            })]),
        };
        return document;
    }
}
