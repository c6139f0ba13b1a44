using System.Text.Json.Nodes;
using Bulwark.Manifests;
using Bulwark.Server.Identity;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Http;

/// <summary>
/// Request bodies in manifest shape, as every <c>PUT /v1/&lt;plural&gt;/{name}</c> takes them: a GET answer can be PUT
/// back (its read-only <c>status</c> is dropped), the name may be left to the path, and must match it when given.
/// </summary>
internal static class ManifestBodies
{
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadPutAsync<T>(HttpContext context, ManifestKind<T> kind, string nameField, string name)
        where T : class
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context).ConfigureAwait(false);
        if (problem is not null)
        {
            return (null, problem);
        }

        body!.TryAdd(nameField, name);
        return Validate(context, kind, body, nameField, name);
    }

    /// <summary>Validates a body; with <paramref name="pathName"/>, its name must be that one.</summary>
    public static (T? Value, ProblemHttpResult? Problem) Validate<T>(HttpContext context, ManifestKind<T> kind, JsonObject body, string nameField, string? pathName)
        where T : class
    {
        body.Remove("status");
        var result = kind.Read(body);
        if (!result.IsValid)
        {
            return (null, ProblemResults.Validation(context, result.Errors));
        }

        return pathName is not null && kind.NameOf(result.Value!) != pathName
            ? (null, ProblemResults.Validation(context, [new ManifestError("/" + nameField, $"must match the {nameField} in the path, '{pathName}'")]))
            : (result.Value, null);
    }

    /// <summary>The answer to a PUT: 201 with a location when created, else 200; <c>Bulwark-Outcome</c> either way.</summary>
    public static Results<Ok<JsonObject>, Created<JsonObject>, ProblemHttpResult> Answer(HttpContext context, PutOutcome outcome, string location, JsonObject document)
    {
        context.Response.Headers["Bulwark-Outcome"] = outcome.ToString().ToLowerInvariant();
        return outcome == PutOutcome.Created ? TypedResults.Created(location, document) : TypedResults.Ok(document);
    }
}
