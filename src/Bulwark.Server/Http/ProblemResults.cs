using Bulwark.Manifests;
using Bulwark.Problems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Bulwark.Server.Http;

/// <summary>Builds every error answer as RFC 9457 <c>application/problem+json</c> with a stable type and the correlation id.</summary>
internal static class ProblemResults
{
    public const string ContentType = "application/problem+json";

    public static ProblemDetails Create(HttpContext context, ProblemKind kind, string? detail = null, IEnumerable<KeyValuePair<string, object?>>? extensions = null)
    {
        var problem = new ProblemDetails
        {
            Type = kind.Type,
            Title = kind.Title,
            Status = kind.Status,
            Detail = detail,
            Instance = context.Request.Path.Value,
        };
        problem.Extensions["correlation_id"] = CorrelationId.Get(context);
        foreach (var (key, value) in extensions ?? [])
        {
            problem.Extensions[key] = value;
        }

        return problem;
    }

    public static ProblemHttpResult Result(HttpContext context, ProblemKind kind, string? detail = null, IEnumerable<KeyValuePair<string, object?>>? extensions = null) =>
        TypedResults.Problem(Create(context, kind, detail, extensions));

    public static ProblemHttpResult Validation(HttpContext context, IReadOnlyList<ManifestError> errors) =>
        Result(
            context,
            ProblemKind.Validation,
            errors.Count == 1 ? errors[0].ToString() : $"{errors.Count} problems; see errors",
            [new("errors", errors.Select(e => new { path = e.Path, message = e.Message }).ToArray())]);

    public static ProblemHttpResult NotFound(HttpContext context, string what) =>
        Result(context, ProblemKind.NotFound, $"{what} does not exist");

    public static Task WriteAsync(HttpContext context, ProblemKind kind, string? detail = null)
    {
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        if (CorrelationId.Get(context) is { } id)
        {
            // The error handler clears the response before writing a problem; the correlation id must survive that.
            context.Response.Headers[CorrelationId.Header] = id;
        }

        return Result(context, kind, detail).ExecuteAsync(context);
    }
}
