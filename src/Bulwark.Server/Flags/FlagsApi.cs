using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.Manifests;
using Bulwark.Problems;
using Bulwark.Server.Http;
using Bulwark.Server.Identity;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Flags;

/// <summary><c>/v1/flags</c>, <c>/v1/changes</c> and <c>/v1/evaluate</c>.</summary>
internal static class FlagsApi
{
    public static IEndpointRouteBuilder MapFlagsApi(this IEndpointRouteBuilder routes)
    {
        var flags = routes.MapGroup("/v1/flags").WithTags("Flags");
        flags.MapGet("/", ListAsync).RequireCapability(Capability.Read);
        flags.MapGet("/snapshot", SnapshotAsync).RequireCapability(Capability.Read);
        flags.MapGet("/{key}", GetAsync).RequireCapability(Capability.Read);
        flags.MapPut("/{key}", PutAsync).RequireCapability(Capability.Configure).Accepts<JsonObject>("application/json");
        flags.MapPost("/{key}/archive", ArchiveAsync).RequireCapability(Capability.Configure);
        flags.MapGet("/{key}/history", HistoryAsync).RequireCapability(Capability.Read);

        // Who may request which change is decided by FlagTransitions inside the call; reading is the floor.
        flags.MapPost("/{key}/state", SetStateAsync).RequireCapability(Capability.Read).Accepts<JsonObject>("application/json");
        flags.MapPost("/{key}/kill", KillAsync).RequireCapability(Capability.Respond).Accepts<JsonObject>("application/json");

        var changes = routes.MapGroup("/v1/changes").WithTags("Flags");
        changes.MapGet("/", ListChangesAsync).RequireCapability(Capability.Read);
        changes.MapPost("/{id}/approve", (string id, HttpContext context, FlagService service) => DecideAsync(id, true, context, service)).RequireCapability(Capability.Approve);

        // The requester may withdraw their own change; anyone else needs the approver role (checked inside).
        changes.MapPost("/{id}/reject", (string id, HttpContext context, FlagService service) => DecideAsync(id, false, context, service)).RequireCapability(Capability.Read);

        routes.MapPost("/v1/evaluate", EvaluateAsync).WithTags("Flags").RequireCapability(Capability.Read).Accepts<JsonObject>("application/json");
        return routes;
    }

    private static async Task<Ok<JsonObject>> ListAsync(IControlStore store, FlagService service, CancellationToken cancellationToken, bool archived = false, bool stale = false)
    {
        var (flags, version) = await store.ListFlagsAsync(cancellationToken).ConfigureAwait(false);
        var now = service.Now;
        var items = new JsonArray();
        foreach (var flag in flags.Where(f => archived || !f.Archived))
        {
            var reason = flag.StaleReason(now);
            if (stale && reason is null)
            {
                continue;
            }

            var document = FlagService.Document(flag);
            document["status"]!["stale"] = reason;
            items.Add(document);
        }

        return TypedResults.Ok(new JsonObject { ["items"] = items, ["version"] = version });
    }

    private static async Task<IResult> SnapshotAsync(HttpContext context, FlagSnapshotCache cache)
    {
        var snapshot = await cache.GetAsync(context.RequestAborted).ConfigureAwait(false);
        var (flags, version) = (snapshot.Flags, snapshot.Version);
        if (VersionETag.NotModified(context, version))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        return TypedResults.Ok(new JsonObject
        {
            ["version"] = version,
            ["scheme"] = Bucketing.Scheme,
            ["flags"] = new JsonArray([.. flags.Where(f => !f.Archived).Select(f => (JsonNode)FlagService.Document(f))]),
        });
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetAsync(string key, HttpContext context, IControlStore store)
    {
        var flag = await store.GetFlagAsync(key, context.RequestAborted).ConfigureAwait(false);
        return flag is null ? ProblemResults.NotFound(context, $"Flag '{key}'") : TypedResults.Ok(FlagService.Document(flag));
    }

    private static async Task<Results<Ok<JsonObject>, Created<JsonObject>, ProblemHttpResult>> PutAsync(string key, HttpContext context, FlagService service)
    {
        var (definition, problem) = await ManifestBodies.ReadPutAsync(context, FlagKind.Instance, "key", key).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var (flag, outcome) = await service.PutAsync(definition!, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        return ManifestBodies.Answer(context, outcome, $"/v1/flags/{key}", FlagService.Document(flag));
    }

    private static async Task<Ok<JsonObject>> ArchiveAsync(string key, HttpContext context, FlagService service)
    {
        var flag = await service.ArchiveAsync(key, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        return TypedResults.Ok(FlagService.Document(flag));
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> HistoryAsync(string key, HttpContext context, IControlStore store)
    {
        if (await store.GetFlagAsync(key, context.RequestAborted).ConfigureAwait(false) is null)
        {
            return ProblemResults.NotFound(context, $"Flag '{key}'");
        }

        var changeIds = (await store.ListChangesAsync(null, context.RequestAborted).ConfigureAwait(false))
            .Where(c => c.FlagKey == key).Select(c => "change/" + c.Id).ToHashSet(StringComparer.Ordinal);
        var items = new JsonArray();
        await store.ScanAuditAsync(
            entry =>
            {
                if (entry.Target == "flag/" + key || changeIds.Contains(entry.Target))
                {
                    items.Add(Audit.AuditService.Document(entry));
                }
            },
            context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new JsonObject { ["items"] = items });
    }

    private static async Task<IResult> SetStateAsync(string key, HttpContext context, FlagService service)
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new List<ManifestError>();
        var reader = new ManifestReader(body!, string.Empty, errors);
        var state = reader.ReadEnum("state", FlagNames.States, required: true);
        var percentage = reader.ReadNumber("percentage", 0, 100);
        var reason = reader.ReadString("reason", maxLength: 1000);
        var breakGlass = reader.ReadBoolean("break_glass") ?? false;
        reader.RejectUnknownFields();
        var millipercent = 0;
        if (state is FlagState.Canary or FlagState.Gradual)
        {
            if (percentage is null)
            {
                errors.Add(new ManifestError("/percentage", "is required for CANARY and GRADUAL"));
            }
            else if (!Bucketing.TryToMillipercent(percentage.Value, out millipercent))
            {
                errors.Add(new ManifestError("/percentage", "must be a multiple of 0.001"));
            }
        }

        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var change = RequestChange.Of(context) with { Reason = reason };
        var result = await service.RequestStateAsync(key, new FlagStatus(state!.Value, millipercent), breakGlass, Caller.Require(context).Identity, change, CancellationToken.None).ConfigureAwait(false);
        return result.Pending is { } pending
            ? TypedResults.Json(new JsonObject { ["change_id"] = pending.Id, ["status"] = "pending_approval", ["change"] = FlagService.ChangeDocument(pending, service.Now) }, statusCode: StatusCodes.Status202Accepted)
            : TypedResults.Ok(FlagService.Document(result.Applied!));
    }

    private static async Task<IResult> KillAsync(string key, HttpContext context, FlagService service)
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new List<ManifestError>();
        var reader = new ManifestReader(body!, string.Empty, errors);
        var reason = reader.ReadString("reason", required: true, maxLength: 1000);
        reader.RejectUnknownFields();
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var result = await service.RequestStateAsync(key, new FlagStatus(FlagState.EmergencyOff, 0), false, Caller.Require(context).Identity, RequestChange.Of(context) with { Reason = reason }, CancellationToken.None).ConfigureAwait(false);
        return TypedResults.Ok(FlagService.Document(result.Applied!));
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> ListChangesAsync(HttpContext context, IControlStore store, FlagService service, string? status = null)
    {
        ChangeStatus? wanted = null;
        if (status is not null)
        {
            if (!Enum.TryParse<ChangeStatus>(status, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed) || status.Any(char.IsDigit))
            {
                return ProblemResults.Validation(context, [new ManifestError("/status", "must be one of pending, approved, rejected, expired, superseded")]);
            }

            wanted = parsed;
        }

        var now = service.Now;
        var changes = await store.ListChangesAsync(null, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new JsonObject
        {
            ["items"] = new JsonArray([.. changes.Where(c => wanted is null || c.StatusAt(now) == wanted).Select(c => (JsonNode)FlagService.ChangeDocument(c, now))]),
        });
    }

    private static async Task<Ok<JsonObject>> DecideAsync(string id, bool approve, HttpContext context, FlagService service)
    {
        var (change, flag) = await service.DecideAsync(id, approve, Caller.Require(context).Identity, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        if (change.Status == ChangeStatus.Expired)
        {
            // The service committed the expiry (audited); refusing here, outside its transaction, keeps that record.
            throw new ProblemException(ProblemKind.Conflict, $"Change '{id}' expired at {Bulwark.Audit.AuditChain.FormatTime(change.ExpiresAt)} without a decision.");
        }

        var document = new JsonObject { ["change"] = FlagService.ChangeDocument(change, service.Now) };
        if (flag is not null)
        {
            document["flag"] = FlagService.Document(flag);
        }

        return TypedResults.Ok(document);
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> EvaluateAsync(HttpContext context, FlagSnapshotCache cache)
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new List<ManifestError>();
        var reader = new ManifestReader(body!, string.Empty, errors);
        var contextNode = body!["context"];
        if (contextNode is not null and not JsonObject)
        {
            reader.Error("context", "must be an object");
        }

        reader.Ignore("context");
        var keys = reader.ReadStringArray("flags");
        reader.RejectUnknownFields();
        var subject = EvaluationContexts.Read(contextNode as JsonObject, out var unsupported);
        errors.AddRange(unsupported.Select(name => new ManifestError("/context/" + ManifestReader.Escape(name), "must be a string, number or boolean")));
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var snapshot = await cache.GetAsync(context.RequestAborted).ConfigureAwait(false);
        var results = new JsonArray();
        foreach (var key in keys ?? [.. snapshot.Compiled.Keys.Order(StringComparer.Ordinal)])
        {
            if (!snapshot.Compiled.TryGetValue(key, out var flag))
            {
                results.Add(new JsonObject { ["key"] = key, ["value"] = null, ["reason"] = "ERROR", ["error_code"] = "FLAG_NOT_FOUND" });
                continue;
            }

            var evaluation = flag.Evaluate(subject);
            var result = new JsonObject
            {
                ["key"] = key,
                ["value"] = evaluation.Variant.Value?.DeepClone(),
                ["variant"] = evaluation.Variant.Name,
                ["reason"] = ReasonName(evaluation.Reason),
            };
            if (evaluation.ErrorCode != EvaluationErrorCode.None)
            {
                result["error_code"] = ErrorName(evaluation.ErrorCode);
            }

            if (evaluation.Cohort is not null)
            {
                result["cohort"] = evaluation.Cohort;
            }

            results.Add(result);
        }

        return TypedResults.Ok(new JsonObject { ["results"] = results, ["version"] = snapshot.Version });
    }

    public static string ReasonName(EvaluationReason reason) => reason switch
    {
        EvaluationReason.TargetingMatch => "TARGETING_MATCH",
        _ => reason.ToString().ToUpperInvariant(),
    };

    public static string ErrorName(EvaluationErrorCode code) => code switch
    {
        EvaluationErrorCode.FlagNotFound => "FLAG_NOT_FOUND",
        EvaluationErrorCode.TargetingKeyMissing => "TARGETING_KEY_MISSING",
        EvaluationErrorCode.ProviderNotReady => "PROVIDER_NOT_READY",
        EvaluationErrorCode.TypeMismatch => "TYPE_MISMATCH",
        _ => "GENERAL",
    };
}
