using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Manifests;
using Bulwark.Response;
using Bulwark.Server.Detection;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Response;

/// <summary>
/// <c>/v1/runs</c> (playbook runs, newest first), <c>/v1/approvals</c> (the questions runs ask, answered by role),
/// <c>POST /v1/incidents/{id}/rollback</c> and <c>POST /v1/incidents/{id}/runs</c> (a person starts a run, or a dry run).
/// </summary>
internal static class ResponseApi
{
    public static IEndpointRouteBuilder MapResponseApi(this IEndpointRouteBuilder routes)
    {
        var runs = routes.MapGroup("/v1/runs").WithTags("Runs");
        runs.MapGet("/", ListRunsAsync).RequireCapability(Capability.Read);
        runs.MapGet("/{id}", GetRunAsync).RequireCapability(Capability.Read);

        // Who may answer is decided per approval (its roles, or an admin): reading is the floor here.
        var approvals = routes.MapGroup("/v1/approvals").WithTags("Runs");
        approvals.MapGet("/", ListApprovalsAsync).RequireCapability(Capability.Read);
        approvals.MapGet("/{id}", GetApprovalAsync).RequireCapability(Capability.Read);
        approvals.MapPost("/{id}/approve", (string id, HttpContext context, ApprovalService service) => AnswerAsync(id, approve: true, context, service))
            .RequireCapability(Capability.Read).Accepts<JsonObject>("application/json");
        approvals.MapPost("/{id}/deny", (string id, HttpContext context, ApprovalService service) => AnswerAsync(id, approve: false, context, service))
            .RequireCapability(Capability.Read).Accepts<JsonObject>("application/json");

        var incidents = routes.MapGroup("/v1/incidents").WithTags("Incidents");
        incidents.MapPost("/{id}/rollback", RollbackAsync).RequireCapability(Capability.Respond).Accepts<JsonObject>("application/json");
        incidents.MapPost("/{id}/runs", StartRunAsync).RequireCapability(Capability.Respond).Accepts<JsonObject>("application/json");
        return routes;
    }

    private static async Task<IResult> ListRunsAsync(HttpContext context, IControlStore store)
    {
        var query = context.Request.Query;
        var errors = new List<ManifestError>();
        var status = QueryParameters.Choice(query, "status", ResponseNames.RunStatuses, errors);
        var before = QueryParameters.Number(query, "before", 1, long.MaxValue, errors);
        var limit = (int)(QueryParameters.Number(query, "limit", 1, 1000, errors) ?? 100);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var found = await store.ListRunsAsync(
            new RunQuery(QueryParameters.Text(query, "incident"), status is { } s ? ResponseNames.Name(ResponseNames.RunStatuses, s) : null, before, limit),
            context.RequestAborted).ConfigureAwait(false);
        return DetectionsApi.Page(found, limit, r => (JsonObject)r.Document.DeepClone());
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetRunAsync(string id, HttpContext context, IControlStore store) =>
        await store.GetRunAsync(id, context.RequestAborted).ConfigureAwait(false) is { } run
            ? TypedResults.Ok((JsonObject)run.Document.DeepClone())
            : ProblemResults.NotFound(context, $"Run '{id}'");

    private static async Task<IResult> ListApprovalsAsync(HttpContext context, IControlStore store)
    {
        var query = context.Request.Query;
        var errors = new List<ManifestError>();
        var status = QueryParameters.Choice(query, "status", ResponseNames.ApprovalStatuses, errors);
        var before = QueryParameters.Number(query, "before", 1, long.MaxValue, errors);
        var limit = (int)(QueryParameters.Number(query, "limit", 1, 1000, errors) ?? 100);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var found = await store.ListApprovalsAsync(
            status is { } s ? ResponseNames.Name(ResponseNames.ApprovalStatuses, s) : null, QueryParameters.Text(query, "run"), before, limit, context.RequestAborted).ConfigureAwait(false);
        return DetectionsApi.Page(found, limit, a => Approval.Read(a).ToDocument());
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetApprovalAsync(string id, HttpContext context, IControlStore store) =>
        await store.GetApprovalAsync(id, context.RequestAborted).ConfigureAwait(false) is { } approval
            ? TypedResults.Ok(Approval.Read(approval).ToDocument())
            : ProblemResults.NotFound(context, $"Approval '{id}'");

    private static Task<IResult> AnswerAsync(string id, bool approve, HttpContext context, ApprovalService service) =>
        RequestJson.WithBodyAsync(
            context,
            reader =>
            {
                var note = reader.ReadString("note", maxLength: 4000);
                return async () =>
                {
                    var answered = await service.AnswerAsync(id, approve, Caller.Require(context).Identity, note, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
                    return TypedResults.Ok(answered.ToDocument());
                };
            },
            optional: true);

    private static Task<IResult> RollbackAsync(string id, HttpContext context, RollbackService service) =>
        RequestJson.WithBodyAsync(
            context,
            reader =>
            {
                var reason = reader.ReadString("reason", maxLength: 1000);
                return async () =>
                {
                    var change = RequestChange.Of(context);
                    var result = await service.RollbackAsync(id, reason is null ? change : change with { Reason = reason }, CancellationToken.None).ConfigureAwait(false);
                    return TypedResults.Json(result, statusCode: StatusCodes.Status202Accepted);
                };
            },
            optional: true);

    /// <summary>A person starts a run of a playbook for an incident, whatever its trigger: a drill (<c>dry_run</c>) or a real run, which passes the same gates as one that starts by itself.</summary>
    private static Task<IResult> StartRunAsync(string id, HttpContext context, IControlStore store, PlaybookService playbooks, RunStarter starter) =>
        RequestJson.WithBodyAsync(context, reader =>
        {
            var name = reader.ReadString("playbook", required: true, maxLength: 63);
            var dryRun = reader.ReadBoolean("dry_run") ?? false;
            return async () =>
            {
                if (await playbooks.FindAsync(name!, context.RequestAborted).ConfigureAwait(false) is not { } playbook)
                {
                    return ProblemResults.NotFound(context, $"Playbook '{name}'");
                }

                var change = RequestChange.Of(context);
                var runId = await store.WriteAsync(
                    tx => tx.GetIncident(id) is { } incident
                        ? starter.StartOne(tx, playbook, incident, change, dryRun)
                        : throw new ProblemException(Bulwark.Problems.ProblemKind.NotFound, $"Incident '{id}' does not exist."),
                    CancellationToken.None).ConfigureAwait(false);
                starter.Started([runId]);
                var run = await store.GetRunAsync(runId, CancellationToken.None).ConfigureAwait(false);
                return TypedResults.Json((JsonObject)run!.Document.DeepClone(), statusCode: StatusCodes.Status202Accepted);
            };
        });
}
