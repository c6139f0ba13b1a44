using Bulwark.Problems;
using Bulwark.Server.Http;
using Bulwark.Server.Metrics;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Hosting;

/// <summary><c>/healthz</c> (the process answers), <c>/readyz</c> (the store is open and migrated), <c>/metrics</c>.</summary>
internal static class HealthApi
{
    public const string PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup(string.Empty).WithTags("Operations").AllowAnonymous();
        group.MapGet("/healthz", () => TypedResults.Ok(new { status = "ok" }));
        group.MapGet("/readyz", Ready);
        group.MapGet("/metrics", (PrometheusExporter exporter) => TypedResults.Text(exporter.Render(), PrometheusContentType));
        return routes;
    }

    private static Results<Ok<ReadyStatus>, ProblemHttpResult> Ready(HttpContext context, IControlStore store) =>
        store.IsReady
            ? TypedResults.Ok(new ReadyStatus("ready"))
            : ProblemResults.Result(context, ProblemKind.Unavailable, "The store is not open or not migrated yet.");

    internal sealed record ReadyStatus(string Status);
}
