using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Manifests;
using Bulwark.Server.Detection;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Response;

/// <summary>
/// Evidence records: <c>GET /v1/incidents/{id}/evidence</c> (an incident's, newest first), <c>GET /v1/evidence/{id}</c>
/// (one, with its frozen content and hash) and <c>GET /v1/evidence/{id}/content</c> (the content exactly as hashed).
/// </summary>
internal static class EvidenceApi
{
    public static IEndpointRouteBuilder MapEvidenceApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGroup("/v1/incidents").WithTags("Incidents").MapGet("/{id}/evidence", ListAsync).RequireCapability(Capability.Read);
        var evidence = routes.MapGroup("/v1/evidence").WithTags("Incidents");
        evidence.MapGet("/{id}", GetAsync).RequireCapability(Capability.Read);
        evidence.MapGet("/{id}/content", GetContentAsync).RequireCapability(Capability.Read);
        return routes;
    }

    private static async Task<IResult> ListAsync(string id, HttpContext context, IControlStore store)
    {
        var query = context.Request.Query;
        var errors = new List<ManifestError>();
        var before = QueryParameters.Number(query, "before", 1, long.MaxValue, errors);
        var limit = (int)(QueryParameters.Number(query, "limit", 1, 1000, errors) ?? 100);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        if (await store.GetIncidentAsync(id, context.RequestAborted).ConfigureAwait(false) is null)
        {
            return ProblemResults.NotFound(context, $"Incident '{id}'");
        }

        var found = await store.ListEvidenceAsync(id, before, limit, context.RequestAborted).ConfigureAwait(false);
        return DetectionsApi.Page(found, limit, e => e.Summary());
    }

    /// <summary>The record's summary and its <c>content</c>, whose canonical JSON hashes to <c>sha256</c>.</summary>
    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetAsync(string id, HttpContext context, IControlStore store)
    {
        if (await store.GetEvidenceAsync(id, context.RequestAborted).ConfigureAwait(false) is not { } record)
        {
            return ProblemResults.NotFound(context, $"Evidence '{id}'");
        }

        var document = record.Summary();
        document["content"] = JsonNode.Parse(record.Content);
        return TypedResults.Ok(document);
    }

    /// <summary>The content as stored: its bytes are what <c>sha256</c> was computed over (<c>sha256sum</c> checks it).</summary>
    private static async Task<IResult> GetContentAsync(string id, HttpContext context, IControlStore store)
    {
        if (await store.GetEvidenceAsync(id, context.RequestAborted).ConfigureAwait(false) is not { } record)
        {
            return ProblemResults.NotFound(context, $"Evidence '{id}'");
        }

        context.Response.Headers["Bulwark-Evidence-SHA256"] = record.Sha256;
        return TypedResults.Text(record.Content, "application/json", System.Text.Encoding.UTF8);
    }
}
