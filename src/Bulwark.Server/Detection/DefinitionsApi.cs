using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Detection;

/// <summary><c>/v1/rules</c> and <c>/v1/detectors</c>: definitions kept by a <see cref="DefinitionService{T}"/>.</summary>
internal static class DefinitionsApi
{
    public static IEndpointRouteBuilder MapDefinitionsApi(this IEndpointRouteBuilder routes)
    {
        var rules = routes.MapGroup("/v1/rules").WithTags("Rules");
        rules.MapGet("/", (HttpContext context, IControlStore store, RuleService service) => ListAsync(context, store, service)).RequireCapability(Capability.Read);
        rules.MapGet("/{name}", (string name, HttpContext context, IControlStore store, RuleService service) => GetAsync(name, context, store, service)).RequireCapability(Capability.Read);
        rules.MapPut("/{name}", (string name, HttpContext context, RuleService service) => PutAsync(name, context, service))
            .RequireCapability(Capability.Configure).Accepts<JsonObject>("application/json");

        var detectors = routes.MapGroup("/v1/detectors").WithTags("Detectors");
        detectors.MapGet("/", (HttpContext context, IControlStore store, DetectorService service) => ListAsync(context, store, service)).RequireCapability(Capability.Read);
        detectors.MapGet("/{name}", (string name, HttpContext context, IControlStore store, DetectorService service) => GetAsync(name, context, store, service)).RequireCapability(Capability.Read);
        detectors.MapPut("/{name}", (string name, HttpContext context, DetectorService service) => PutAsync(name, context, service))
            .RequireCapability(Capability.Configure).Accepts<JsonObject>("application/json");
        return routes;
    }

    private static async Task<IResult> ListAsync<T>(HttpContext context, IControlStore store, DefinitionService<T> service)
        where T : class
    {
        var (items, version) = await store.ListDefinitionsAsync(service.Kind.Kind, context.RequestAborted).ConfigureAwait(false);
        if (VersionETag.NotModified(context, version))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        return TypedResults.Ok(new JsonObject
        {
            ["items"] = new JsonArray([.. items.Select(r => (JsonNode)service.Document(r))]),
            ["version"] = version,
        });
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetAsync<T>(string name, HttpContext context, IControlStore store, DefinitionService<T> service)
        where T : class
    {
        var (items, _) = await store.ListDefinitionsAsync(service.Kind.Kind, context.RequestAborted).ConfigureAwait(false);
        return items.FirstOrDefault(r => r.Name == name) is { } record
            ? TypedResults.Ok(service.Document(record))
            : ProblemResults.NotFound(context, $"{service.Kind.Kind} '{name}'");
    }

    private static async Task<Results<Ok<JsonObject>, Created<JsonObject>, ProblemHttpResult>> PutAsync<T>(string name, HttpContext context, DefinitionService<T> service)
        where T : class
    {
        var (definition, problem) = await ManifestBodies.ReadPutAsync(context, service.Kind, "name", name).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = await service.CheckAsync(definition!, context.RequestAborted).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var (record, outcome) = await service.PutAsync(definition!, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        return ManifestBodies.Answer(context, outcome, $"/v1/{service.Kind.Plural}/{name}", service.Document(record));
    }
}
