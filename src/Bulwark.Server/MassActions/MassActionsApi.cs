using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Manifests;
using Bulwark.MassActions;
using Bulwark.Server.Http;
using Bulwark.Server.Identity;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.MassActions;

/// <summary><c>/v1/mass-actions</c>: declarations, approvals, halts and resumes, and the permits and reports of workers.</summary>
internal static class MassActionsApi
{
    /// <summary>The most error codes one report may carry.</summary>
    public const int MaxReportedCodes = 100;

    public static IEndpointRouteBuilder MapMassActionsApi(this IEndpointRouteBuilder routes)
    {
        var actions = routes.MapGroup("/v1/mass-actions").WithTags("Mass actions");
        actions.MapGet("/", ListAsync).RequireCapability(Capability.Read);
        actions.MapPost("/", CreateAsync).RequireCapability(Capability.Configure).Accepts<JsonObject>("application/json");
        actions.MapGet("/{id}", GetAsync).RequireCapability(Capability.Read);
        actions.MapPut("/{id}", PutAsync).RequireCapability(Capability.Configure).Accepts<JsonObject>("application/json");
        actions.MapPost("/{id}/approve", ApproveAsync).RequireCapability(Capability.Approve);

        // Halting and resuming take responder or operator, workers are named per action: decided inside, reading is the floor.
        actions.MapPost("/{id}/halt", HaltAsync).RequireCapability(Capability.Read).Accepts<JsonObject>("application/json");
        actions.MapPost("/{id}/resume", ResumeAsync).RequireCapability(Capability.Read).Accepts<JsonObject>("application/json");
        actions.MapPost("/{id}/permits", PermitsAsync).RequireCapability(Capability.Read).Accepts<JsonObject>("application/json");
        actions.MapPost("/{id}/report", ReportAsync).RequireCapability(Capability.Read).Accepts<JsonObject>("application/json");
        return routes;
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> ListAsync(HttpContext context, IControlStore store, string? state = null)
    {
        MassActionState? wanted = null;
        if (state is not null)
        {
            if (!MassActionNames.States.TryGetValue(state, out var parsed))
            {
                return ProblemResults.Validation(context, [new ManifestError("/state", $"must be one of {string.Join(", ", MassActionNames.States.Keys)}")]);
            }

            wanted = parsed;
        }

        var actions = await store.ListMassActionsAsync(context.RequestAborted).ConfigureAwait(false);
        var (flags, _) = await store.ListFlagsAsync(context.RequestAborted).ConfigureAwait(false);
        var byKey = flags.ToDictionary(f => f.Key, StringComparer.Ordinal);
        var items = new JsonArray();
        foreach (var action in actions)
        {
            var shown = MassActionService.StateOf(action, byKey.GetValueOrDefault(action.Definition.Flag));
            if (wanted is null || shown == wanted)
            {
                items.Add(MassActionService.Document(action, shown));
            }
        }

        return TypedResults.Ok(new JsonObject { ["items"] = items });
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetAsync(string id, HttpContext context, IControlStore store)
    {
        var action = await store.GetMassActionAsync(id, context.RequestAborted).ConfigureAwait(false);
        if (action is null)
        {
            return ProblemResults.NotFound(context, $"Mass action '{id}'");
        }

        var flag = await store.GetFlagAsync(action.Definition.Flag, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(MassActionService.Document(action, MassActionService.StateOf(action, flag)));
    }

    private static async Task<IResult> CreateAsync(HttpContext context, MassActionService service)
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        // The body may name the job's kind as "kind" (it is "action" in manifests, where "kind" is MassAction).
        if (body!["kind"] is JsonValue kind && kind.GetValueKind() == JsonValueKind.String && kind.GetValue<string>() != MassActionKind.Instance.Kind && !body.ContainsKey("action"))
        {
            body.Remove("kind");
            body["action"] = kind.GetValue<string>();
        }

        return await DeclareAsync(context, service, body, null).ConfigureAwait(false);
    }

    private static async Task<IResult> PutAsync(string id, HttpContext context, MassActionService service)
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        body!.TryAdd("name", id);
        return await DeclareAsync(context, service, body, id).ConfigureAwait(false);
    }

    /// <summary>POST (no <paramref name="pathName"/>: only creates) and PUT (creates, or answers an identical declaration unchanged).</summary>
    private static async Task<IResult> DeclareAsync(HttpContext context, MassActionService service, JsonObject body, string? pathName)
    {
        var (declaration, problem) = ManifestBodies.Validate(context, MassActionKind.Instance, body, "name", pathName);
        if (problem is not null)
        {
            return problem;
        }

        MassActionRecord action;
        PutOutcome outcome;
        try
        {
            (action, outcome) = await service.DeclareAsync(declaration!, RequestChange.Of(context), createOnly: pathName is null, CancellationToken.None).ConfigureAwait(false);
        }
        catch (MassActionRefusedException refused)
        {
            return ProblemResults.Validation(context, refused.Errors);
        }

        context.Response.Headers["Bulwark-Outcome"] = outcome.ToString().ToLowerInvariant();
        var document = MassActionService.Document(action, action.State);
        return outcome == PutOutcome.Created
            ? TypedResults.Created($"/v1/mass-actions/{action.Id}", document)
            : TypedResults.Ok(document);
    }

    private static async Task<Ok<JsonObject>> ApproveAsync(string id, HttpContext context, MassActionService service)
    {
        var action = await service.ApproveAsync(id, Caller.Require(context).Identity, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        return TypedResults.Ok(MassActionService.Document(action, action.State));
    }

    private static Task<IResult> HaltAsync(string id, HttpContext context, MassActionService service) =>
        RequestJson.WithBodyAsync(context, reader =>
        {
            var reason = reader.ReadString("reason", required: true, maxLength: 1000);
            return async () =>
            {
                var action = await service.HaltAsync(id, Caller.Require(context).Identity, RequestChange.Of(context) with { Reason = reason }, CancellationToken.None).ConfigureAwait(false);
                return TypedResults.Ok(MassActionService.Document(action, action.State));
            };
        });

    private static Task<IResult> ResumeAsync(string id, HttpContext context, MassActionService service) =>
        RequestJson.WithBodyAsync(context, reader =>
        {
            var reason = reader.ReadString("reason", required: true, maxLength: 1000);
            return async () =>
            {
                var action = await service.RequestResumeAsync(id, Caller.Require(context).Identity, RequestChange.Of(context) with { Reason = reason }, CancellationToken.None).ConfigureAwait(false);
                return TypedResults.Json(
                    new JsonObject { ["status"] = "pending_approval", ["mass_action"] = MassActionService.Document(action, action.State) },
                    statusCode: StatusCodes.Status202Accepted);
            };
        });

    private static Task<IResult> PermitsAsync(string id, HttpContext context, MassActionService service) =>
        RequestJson.WithBodyAsync(context, reader =>
        {
            var requested = MassActionKind.ReadWholeNumber(reader, "requested", 1, MassActionPermits.MaxRequested, required: true);
            return async () =>
            {
                var decision = await service.PermitAsync(id, Caller.Require(context).Identity, requested!.Value, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
                var progress = decision.Record.Progress;
                return TypedResults.Ok(new JsonObject
                {
                    ["granted"] = decision.Granted,
                    ["retry_after_ms"] = decision.RetryAfter is { } retry ? (long)Math.Ceiling(retry.TotalMilliseconds) : null,
                    ["state"] = MassActionService.StateName(decision.State),
                    ["reason"] = decision.Reason,
                    ["limited_by"] = MassActionNames.Name(MassActionNames.Limits, decision.LimitedBy),
                    ["granted_total"] = progress.Granted,
                    ["remaining"] = decision.Record.Definition.AudienceSize - progress.Granted,
                });
            };
        });

    private static Task<IResult> ReportAsync(string id, HttpContext context, MassActionService service) =>
        RequestJson.WithBodyAsync(context, reader =>
        {
            var succeeded = MassActionKind.ReadWholeNumber(reader, "succeeded", 0, MassActionKind.MaxCount) ?? 0;
            var failed = MassActionKind.ReadWholeNumber(reader, "failed", 0, MassActionKind.MaxCount) ?? 0;
            var codes = ReadErrorCodes(reader, failed);
            return async () =>
            {
                var action = await service.ReportAsync(id, Caller.Require(context).Identity, succeeded, failed, codes, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
                return TypedResults.Ok(MassActionService.Document(action, action.State));
            };
        });

    private static Dictionary<string, long> ReadErrorCodes(ManifestReader reader, long failed)
    {
        var codes = new Dictionary<string, long>(StringComparer.Ordinal);
        if (reader.ReadObject("errors") is not { } codesReader)
        {
            return codes;
        }

        if (codesReader.FieldNames.Count > MaxReportedCodes)
        {
            reader.Error("errors", $"must have at most {MaxReportedCodes} codes");
        }

        foreach (var code in codesReader.FieldNames)
        {
            if (code.Length is 0 or > 100)
            {
                codesReader.Error(code, "an error code must be 1-100 characters");
            }

            if (MassActionKind.ReadWholeNumber(codesReader, code, 0, MassActionKind.MaxCount) is { } count)
            {
                codes[code] = count;
            }
        }

        if (codes.Values.Sum() > failed)
        {
            reader.Error("errors", $"count {codes.Values.Sum()} failures, more than the {failed} reported as failed");
        }

        return codes;
    }
}
