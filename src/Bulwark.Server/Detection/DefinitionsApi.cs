using System.Text.Json.Nodes;
using Bulwark.Detection.Anomaly;
using Bulwark.Detection.Rules;
using Bulwark.Identity;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Detection;

/// <summary><c>/v1/rules</c>, <c>/v1/detectors</c>, <c>/v1/connectors</c>, <c>/v1/playbooks</c>: definitions kept by a <see cref="DefinitionService{T}"/>.</summary>
internal static class DefinitionsApi
{
    public static IEndpointRouteBuilder MapDefinitionsApi(this IEndpointRouteBuilder routes)
    {
        routes.MapDefinitions<RuleService, RuleDefinition>("Rules");
        routes.MapDefinitions<DetectorService, DetectorDefinition>("Detectors");
        routes.MapDefinitions<Response.ConnectorService, Bulwark.Response.ConnectorDefinition>("Connectors");
        routes.MapDefinitions<Response.PlaybookService, Bulwark.Response.PlaybookDefinition>("Playbooks");
        return routes;
    }

    /// <summary>
    /// <c>GET /v1/{plural}</c>, <c>GET /v1/{plural}/{name}</c> (read) and <c>PUT /v1/{plural}/{name}</c> (configure) for
    /// the definitions that <typeparamref name="TService"/> keeps.
    /// </summary>
    public static void MapDefinitions<TService, T>(this IEndpointRouteBuilder routes, string tag)
        where TService : DefinitionService<T>
        where T : class
    {
        var group = routes.MapGroup("/v1/" + PluralOf<TService, T>(routes)).WithTags(tag);
        static TService Service(HttpContext context) => context.RequestServices.GetRequiredService<TService>();
        group.MapGet("/", (HttpContext context, IControlStore store) => ListAsync(context, store, Service(context))).RequireCapability(Capability.Read);
        group.MapGet("/{name}", (string name, HttpContext context, IControlStore store) => GetAsync(name, context, store, Service(context))).RequireCapability(Capability.Read);
        group.MapPut("/{name}", (string name, HttpContext context) => PutAsync(name, context, Service(context)))
            .RequireCapability(Capability.Configure).Accepts<JsonObject>("application/json");
    }

    private static string PluralOf<TService, T>(IEndpointRouteBuilder routes)
        where TService : DefinitionService<T>
        where T : class =>
        routes.ServiceProvider.GetRequiredService<TService>().Kind.Plural;

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

        var stored = (await service.GetAsync(context.RequestAborted).ConfigureAwait(false)).Items.FirstOrDefault(d => service.Kind.NameOf(d) == name);
        if (SecretDestinations.Guard(context, service.SecretDestinationChanges(stored, definition!)) is { } forbidden)
        {
            return forbidden;
        }

        var errors = await service.CheckAsync(definition!, context.RequestAborted).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        Func<T?, string?>? refuse = SecretDestinations.MayAdminister(context)
            ? null
            : replaced => service.SecretDestinationChanges(replaced, definition!) is { } changes ? SecretDestinations.Refusal(changes) : null;
        var (record, outcome) = await service.PutAsync(definition!, RequestChange.Of(context), CancellationToken.None, refuse).ConfigureAwait(false);
        return ManifestBodies.Answer(context, outcome, $"/v1/{service.Kind.Plural}/{name}", service.Document(record));
    }
}
