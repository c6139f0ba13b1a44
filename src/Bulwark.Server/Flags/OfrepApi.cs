using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.Json;
using Bulwark.Server.Http;
using Bulwark.Server.Security;

namespace Bulwark.Server.Flags;

/// <summary>
/// The OpenFeature Remote Evaluation Protocol under <c>/ofrep/v1</c>, so any OpenFeature SDK with an OFREP provider
/// evaluates Bulwark flags. Bodies and errors follow the OFREP specification (not problem+json): a failed evaluation is
/// <c>{ "key", "errorCode", "errorDetails" }</c> with 400 or 404; the bulk answer carries an ETag over the snapshot
/// version and the context, and <c>If-None-Match</c> gets 304. Authentication is the usual bearer token.
/// </summary>
internal static class OfrepApi
{
    public static IEndpointRouteBuilder MapOfrepApi(this IEndpointRouteBuilder routes)
    {
        var ofrep = routes.MapGroup("/ofrep/v1/evaluate").WithTags("OFREP").RequireCapability(Capability.Read);
        ofrep.MapPost("/flags/{key}", EvaluateFlagAsync).Accepts<JsonObject>("application/json");
        ofrep.MapPost("/flags", EvaluateBulkAsync).Accepts<JsonObject>("application/json");
        return routes;
    }

    private static async Task<IResult> EvaluateFlagAsync(string key, HttpContext context, FlagSnapshotCache cache)
    {
        var (subject, error) = await ReadContextAsync(context).ConfigureAwait(false);
        if (subject is null)
        {
            return Failure(key, error!.Value.Code, error.Value.Details, StatusCodes.Status400BadRequest);
        }

        var snapshot = await cache.GetAsync(context.RequestAborted).ConfigureAwait(false);
        if (!snapshot.Compiled.TryGetValue(key, out var flag))
        {
            return Failure(key, "FLAG_NOT_FOUND", $"flag '{key}' does not exist", StatusCodes.Status404NotFound);
        }

        var result = Evaluate(key, flag, subject.Context, snapshot.Version);
        return result.ContainsKey("errorCode")
            ? TypedResults.Json(result, statusCode: StatusCodes.Status400BadRequest)
            : TypedResults.Json(result);
    }

    private static async Task<IResult> EvaluateBulkAsync(HttpContext context, FlagSnapshotCache cache)
    {
        var (subject, error) = await ReadContextAsync(context).ConfigureAwait(false);
        if (subject is null)
        {
            return TypedResults.Json(new JsonObject { ["errorCode"] = error!.Value.Code, ["errorDetails"] = error.Value.Details }, statusCode: StatusCodes.Status400BadRequest);
        }

        var snapshot = await cache.GetAsync(context.RequestAborted).ConfigureAwait(false);
        var etag = $"\"{snapshot.Version.ToString(CultureInfo.InvariantCulture)}-{subject.Fingerprint}\"";
        context.Response.Headers.ETag = etag;
        if (context.Request.Headers.IfNoneMatch.Any(v => v == etag))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        var flags = new JsonArray();
        foreach (var (key, flag) in snapshot.Compiled.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            flags.Add(Evaluate(key, flag, subject.Context, snapshot.Version));
        }

        return TypedResults.Json(new JsonObject { ["flags"] = flags });
    }

    private static JsonObject Evaluate(string key, CompiledFlag flag, EvaluationContext subject, long version)
    {
        var evaluation = flag.Evaluate(subject);
        if (evaluation.ErrorCode != EvaluationErrorCode.None)
        {
            return new JsonObject
            {
                ["key"] = key,
                ["errorCode"] = FlagsApi.ErrorName(evaluation.ErrorCode),
                ["errorDetails"] = evaluation.ErrorCode == EvaluationErrorCode.TargetingKeyMissing
                    ? $"the context has no '{flag.Definition.Stickiness}' to bucket by"
                    : "evaluation failed",
            };
        }

        var metadata = new JsonObject { ["version"] = version, ["flagType"] = FlagNames.Name(FlagNames.Types, flag.Definition.Type) };
        if (evaluation.Cohort is not null)
        {
            metadata["cohort"] = evaluation.Cohort;
        }

        return new JsonObject
        {
            ["key"] = key,
            ["value"] = evaluation.Variant.Value?.DeepClone(),
            ["reason"] = FlagsApi.ReasonName(evaluation.Reason),
            ["variant"] = evaluation.Variant.Name,
            ["metadata"] = metadata,
        };
    }

    private static async Task<(SubjectContext? Subject, (string Code, string Details)? Error)> ReadContextAsync(HttpContext context)
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context, optional: true).ConfigureAwait(false);
        if (problem is not null)
        {
            return (null, ("PARSE_ERROR", "the body must be a JSON object"));
        }

        var node = body!["context"];
        if (node is not null and not JsonObject)
        {
            return (null, ("INVALID_CONTEXT", "'context' must be an object"));
        }

        // OFREP contexts may carry nested values that targeting never reads: they are ignored, not refused.
        var subject = EvaluationContexts.Read((JsonObject?)node, out _);
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalJson.Serialize(node) ?? "null")))[..16];
        return (new SubjectContext(subject, fingerprint), null);
    }

    private static Microsoft.AspNetCore.Http.HttpResults.JsonHttpResult<JsonObject> Failure(string key, string code, string details, int status) =>
        TypedResults.Json(new JsonObject { ["key"] = key, ["errorCode"] = code, ["errorDetails"] = details }, statusCode: status);

    private sealed record SubjectContext(EvaluationContext Context, string Fingerprint);
}
