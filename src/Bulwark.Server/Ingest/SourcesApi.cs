using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Server.Http;
using Bulwark.Server.Identity;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Ingest;

/// <summary><c>/v1/sources</c>: webhook sources, shown with their secret references only.</summary>
internal static class SourcesApi
{
    public static IEndpointRouteBuilder MapSourcesApi(this IEndpointRouteBuilder routes)
    {
        var sources = routes.MapGroup("/v1/sources").WithTags("Sources");
        sources.MapGet("/", ListAsync).RequireCapability(Capability.Read);
        sources.MapGet("/{name}", GetAsync).RequireCapability(Capability.Read);
        sources.MapPut("/{name}", PutAsync).RequireCapability(Capability.Configure).Accepts<JsonObject>("application/json");
        return routes;
    }

    private static async Task<IResult> ListAsync(HttpContext context, IControlStore store, SourceService service)
    {
        var (sources, version) = await store.ListSourcesAsync(context.RequestAborted).ConfigureAwait(false);
        var documents = sources.Select(service.Document).ToList();

        // Which references resolve is not stored, so it goes into the tag: a secret file deleted since changes it.
        var resolving = string.Concat(documents.SelectMany(d => d["status"]!["secrets"]!.AsArray()).Select(r => r!["resolves"]!.GetValue<bool>() ? '1' : '0'));
        if (VersionETag.NotModified(context, version, resolving))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        return TypedResults.Ok(new JsonObject
        {
            ["items"] = new JsonArray([.. documents]),
            ["version"] = version,
        });
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetAsync(string name, HttpContext context, IControlStore store, SourceService service)
    {
        var source = await store.GetSourceAsync(name, context.RequestAborted).ConfigureAwait(false);
        return source is null ? ProblemResults.NotFound(context, $"Source '{name}'") : TypedResults.Ok(service.Document(source));
    }

    private static async Task<Results<Ok<JsonObject>, Created<JsonObject>, ProblemHttpResult>> PutAsync(string name, HttpContext context, IControlStore store, SourceService service)
    {
        var (definition, problem) = await ManifestBodies.ReadPutAsync(context, SourceKind.Instance, "name", name).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var stored = await store.GetSourceAsync(name, context.RequestAborted).ConfigureAwait(false);
        if (SecretDestinations.Guard(context, PollChanges(stored?.Definition.Poll, definition!.Poll)) is { } forbidden)
        {
            return forbidden;
        }

        var errors = await service.CheckAsync(definition, context.RequestAborted).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        Func<SourceDefinition?, string?>? refuse = SecretDestinations.MayAdminister(context)
            ? null
            : replaced => PollChanges(replaced?.Poll, definition.Poll) is { } changes ? SecretDestinations.Refusal(changes) : null;
        var (source, outcome) = await service.PutAsync(definition, RequestChange.Of(context), CancellationToken.None, refuse).ConfigureAwait(false);
        return ManifestBodies.Answer(context, outcome, $"/v1/sources/{name}", service.Document(source));
    }

    /// <summary>
    /// What a put would change of where the source is polled from and with which credential; null when nothing. URLs
    /// compare as written in full (<see cref="Uri"/> equality ignores user info).
    /// </summary>
    internal static string? PollChanges(SourcePoll? stored, SourcePoll? proposed) =>
        proposed is null || (stored is not null && stored.Url.AbsoluteUri == proposed.Url.AbsoluteUri && stored.Auth == proposed.Auth && stored.AuthHeader == proposed.AuthHeader)
            ? null
            : "the URL this source is polled from or the credential sent there (poll.url, poll.auth, poll.auth_header)";
}
