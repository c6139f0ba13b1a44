using Bulwark.Problems;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Bulwark.Sdk.AspNetCore;

/// <summary>
/// Writes the middlewares' refusals as RFC 9457 <c>application/problem+json</c>, with the same stable type URIs as the
/// Bulwark server (<see cref="ProblemKind"/>), so a client can match both on <c>type</c>.
/// </summary>
internal static class ProblemResponses
{
    public static Task WriteAsync(HttpContext context, ProblemKind kind, string detail, IEnumerable<KeyValuePair<string, object?>>? extensions = null)
    {
        var problem = new ProblemDetails
        {
            Type = kind.Type,
            Title = kind.Title,
            Status = kind.Status,
            Detail = detail,
            Instance = context.Request.Path.Value,
        };
        if (context.Features.Get<Correlation.ICorrelationIdFeature>() is { } correlation)
        {
            problem.Extensions["correlation_id"] = correlation.CorrelationId;
        }

        foreach (var (key, value) in extensions ?? [])
        {
            problem.Extensions[key] = value;
        }

        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Problem(problem).ExecuteAsync(context);
    }
}
