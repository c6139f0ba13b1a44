using System.Text.Json.Nodes;
using Bulwark.Detection.Rules;
using Bulwark.Identity;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Detection;

/// <summary><c>/v1/rules</c>: detection rules (manifest kind <c>Rule</c>).</summary>
internal static class RulesApi
{
    public static IEndpointRouteBuilder MapRulesApi(this IEndpointRouteBuilder routes)
    {
        var rules = routes.MapGroup("/v1/rules").WithTags("Rules");
        rules.MapGet("/", ListAsync).RequireCapability(Capability.Read);
        rules.MapGet("/{name}", GetAsync).RequireCapability(Capability.Read);
        rules.MapPut("/{name}", PutAsync).RequireCapability(Capability.Configure).Accepts<JsonObject>("application/json");
        return routes;
    }

    private static async Task<IResult> ListAsync(HttpContext context, IControlStore store)
    {
        var (rules, version) = await store.ListDefinitionsAsync(RuleKind.Kind, context.RequestAborted).ConfigureAwait(false);
        if (VersionETag.NotModified(context, version))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        return TypedResults.Ok(new JsonObject
        {
            ["items"] = new JsonArray([.. rules.Select(r => (JsonNode)RuleService.Document(r))]),
            ["version"] = version,
        });
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetAsync(string name, HttpContext context, IControlStore store)
    {
        var (rules, _) = await store.ListDefinitionsAsync(RuleKind.Kind, context.RequestAborted).ConfigureAwait(false);
        return rules.FirstOrDefault(r => r.Name == name) is { } rule ? TypedResults.Ok(RuleService.Document(rule)) : ProblemResults.NotFound(context, $"Rule '{name}'");
    }

    private static async Task<Results<Ok<JsonObject>, Created<JsonObject>, ProblemHttpResult>> PutAsync(string name, HttpContext context, RuleService service)
    {
        var (definition, problem) = await ManifestBodies.ReadPutAsync(context, RuleManifestKind.Instance, "name", name).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = await service.CheckAsync(definition!, context.RequestAborted).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var (rule, outcome) = await service.PutAsync(definition!, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        return ManifestBodies.Answer(context, outcome, $"/v1/rules/{name}", RuleService.Document(rule));
    }
}
