using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Manifests;
using Bulwark.Problems;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Identity;

/// <summary><c>/v1/identities</c>, <c>/v1/tokens</c> and <c>/v1/whoami</c>.</summary>
internal static class IdentitiesApi
{
    public static IEndpointRouteBuilder MapIdentitiesApi(this IEndpointRouteBuilder routes)
    {
        var identities = routes.MapGroup("/v1/identities").WithTags("Identities").RequireCapability(Capability.Administer);
        identities.MapGet("/", ListAsync);
        identities.MapPost("/", CreateAsync).Accepts<JsonObject>("application/json");
        identities.MapGet("/{name}", GetAsync);
        identities.MapPut("/{name}", PutAsync).Accepts<JsonObject>("application/json");
        identities.MapDelete("/{name}", DeleteAsync);
        identities.MapPost("/{name}/tokens", CreateTokenAsync).Accepts<JsonObject>("application/json").WithSecretResponseFields("token");

        var tokens = routes.MapGroup("/v1/tokens").WithTags("Identities").RequireCapability(Capability.Administer);
        tokens.MapGet("/", ListTokensAsync);
        tokens.MapDelete("/{id}", RevokeTokenAsync);

        routes.MapGet("/v1/whoami", WhoAmI).WithTags("Identities").RequireCapability(Capability.Read);
        return routes;
    }

    private static async Task<Ok<ItemList>> ListAsync(IControlStore store, CancellationToken cancellationToken)
    {
        var all = await store.ListIdentitiesAsync(cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(new ItemList([.. all.Select(IdentityService.Document)]));
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetAsync(string name, HttpContext context, IControlStore store)
    {
        var identity = await store.GetIdentityAsync(name, context.RequestAborted).ConfigureAwait(false);
        return identity is null ? ProblemResults.NotFound(context, $"Identity '{name}'") : TypedResults.Ok(IdentityService.Document(identity));
    }

    private static async Task<Results<Created<JsonObject>, ProblemHttpResult>> CreateAsync(HttpContext context, IdentityService service)
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var result = IdentityKind.Instance.Read(body!);
        if (!result.IsValid)
        {
            return ProblemResults.Validation(context, result.Errors);
        }

        var created = await service.CreateAsync(result.Value!, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        return TypedResults.Created($"/v1/identities/{created.Name}", IdentityService.Document(created));
    }

    private static async Task<Results<Ok<JsonObject>, Created<JsonObject>, ProblemHttpResult>> PutAsync(string name, HttpContext context, IdentityService service)
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        body!.TryAdd("name", name);
        var result = IdentityKind.Instance.Read(body);
        if (!result.IsValid)
        {
            return ProblemResults.Validation(context, result.Errors);
        }

        if (result.Value!.Name != name)
        {
            return ProblemResults.Validation(context, [new ManifestError("/name", $"must match the name in the path, '{name}'")]);
        }

        var (identity, outcome) = await service.PutAsync(result.Value, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        context.Response.Headers["Bulwark-Outcome"] = outcome.ToString().ToLowerInvariant();
        var document = IdentityService.Document(identity);
        return outcome == PutOutcome.Created ? TypedResults.Created($"/v1/identities/{name}", document) : TypedResults.Ok(document);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string name, HttpContext context, IdentityService service)
    {
        var deleted = await service.DeleteAsync(name, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        return deleted ? TypedResults.NoContent() : ProblemResults.NotFound(context, $"Identity '{name}'");
    }

    private static async Task<Results<Created<JsonObject>, ProblemHttpResult>> CreateTokenAsync(string name, HttpContext context, IdentityService service)
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context, optional: true).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new List<ManifestError>();
        var reader = new ManifestReader(body!, string.Empty, errors);
        var label = reader.ReadString("label", maxLength: 200);
        reader.RejectUnknownFields();
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var (record, token) = await service.CreateTokenAsync(name, label, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        var document = IdentityService.TokenDocument(record);
        document["token"] = token;
        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Created($"/v1/tokens/{record.Id}", document);
    }

    private static async Task<Results<Ok<ItemList>, ProblemHttpResult>> ListTokensAsync(HttpContext context, IControlStore store, string? identity = null)
    {
        var tokens = await store.ListTokensAsync(identity, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new ItemList([.. tokens.Select(IdentityService.TokenDocument)]));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeTokenAsync(string id, HttpContext context, IdentityService service)
    {
        var token = await service.RevokeTokenAsync(id, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        return token is null ? ProblemResults.NotFound(context, $"Token '{id}'") : TypedResults.NoContent();
    }

    private static Ok<JsonObject> WhoAmI(HttpContext context)
    {
        var caller = Caller.Require(context);
        var document = IdentityService.Document(caller.Identity);
        document["token_id"] = caller.TokenId;
        return TypedResults.Ok(document);
    }
}

/// <summary>A list answer: <c>{ "items": [...] }</c>.</summary>
internal sealed record ItemList(IReadOnlyList<JsonObject> Items);
