using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Problems;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Ingest;

/// <summary>
/// <c>/v1/raw</c> (raw snapshots, read-only: no interface changes or deletes one) and <c>/v1/quarantine</c> (verified
/// deliveries that could not be normalized, with a retry after a fix).
/// </summary>
internal static class IngestRecordsApi
{
    /// <summary>The most entries a page of <c>GET /v1/quarantine</c> lists, and how many it lists by default.</summary>
    private const int MaxQuarantinePage = 500;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static IEndpointRouteBuilder MapIngestRecordsApi(this IEndpointRouteBuilder routes)
    {
        var raw = routes.MapGroup("/v1/raw").WithTags("Raw snapshots");
        raw.MapGet("/{id}", GetRawAsync).RequireCapability(Capability.Read);
        raw.MapGet("/{id}/body", GetRawBodyAsync).RequireCapability(Capability.Read);

        var quarantine = routes.MapGroup("/v1/quarantine").WithTags("Quarantine");
        quarantine.MapGet("/", ListQuarantineAsync).RequireCapability(Capability.Read);
        quarantine.MapGet("/{id}", GetQuarantineAsync).RequireCapability(Capability.Read);
        quarantine.MapPost("/{id}/retry", RetryAsync).RequireCapability(Capability.Configure);
        return routes;
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetRawAsync(string id, HttpContext context, IEventStore events)
    {
        var snapshot = await events.GetSnapshotAsync(id, context.RequestAborted).ConfigureAwait(false);
        if (snapshot is null)
        {
            return ProblemResults.NotFound(context, $"Raw snapshot '{id}'");
        }

        string? text;
        try
        {
            text = StrictUtf8.GetString(snapshot.Body);
        }
        catch (DecoderFallbackException)
        {
            text = null;
        }

        return TypedResults.Ok(new JsonObject
        {
            ["id"] = snapshot.Id,
            ["source"] = snapshot.Source,
            ["received_at"] = AuditChain.FormatTime(snapshot.ReceivedAt),
            ["verification"] = VerificationName(snapshot.Verification),
            ["delivery_id"] = snapshot.DeliveryId,
            ["content_type"] = snapshot.ContentType,
            ["sha256"] = Convert.ToHexStringLower(snapshot.Sha256),
            ["size"] = snapshot.Body.Length,
            ["headers"] = new JsonObject([.. snapshot.Headers.Select(h => KeyValuePair.Create(h.Key, (JsonNode?)h.Value))]),
            ["body_text"] = text,
            ["body_base64"] = Convert.ToBase64String(snapshot.Body),
        });
    }

    private static async Task<IResult> GetRawBodyAsync(string id, HttpContext context, IEventStore events)
    {
        var snapshot = await events.GetSnapshotAsync(id, context.RequestAborted).ConfigureAwait(false);
        if (snapshot is null)
        {
            return ProblemResults.NotFound(context, $"Raw snapshot '{id}'");
        }

        // The exact bytes as received; served as a download, never rendered.
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{snapshot.Id}.bin\"";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers["Digest"] = "sha-256=" + Convert.ToBase64String(snapshot.Sha256);
        return TypedResults.Bytes(snapshot.Body, "application/octet-stream");
    }

    private static async Task<IResult> ListQuarantineAsync(HttpContext context, IEventStore events)
    {
        QuarantineStatus? status = context.Request.Query["status"].ToString() switch
        {
            "" => null,
            "open" => QuarantineStatus.Open,
            "resolved" => QuarantineStatus.Resolved,
            var other => (QuarantineStatus)(-1),
        };
        var errors = new List<Bulwark.Manifests.ManifestError>();
        if (status == (QuarantineStatus)(-1))
        {
            errors.Add(new("/status", "must be open or resolved"));
        }

        var limit = (int)(QueryParameters.Number(context.Request.Query, "limit", 1, MaxQuarantinePage, errors) ?? MaxQuarantinePage);
        var before = QueryParameters.Text(context.Request.Query, "before");
        if (before is not null && await events.GetQuarantineAsync(before, context.RequestAborted).ConfigureAwait(false) is null)
        {
            errors.Add(new("/before", $"there is no quarantine entry '{before}'"));
        }

        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var entries = await events.ListQuarantineAsync(status, limit, before, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new JsonObject
        {
            ["items"] = new JsonArray([.. entries.Select(e => (JsonNode)Document(e))]),
            ["next_before"] = entries.Count == limit ? entries[^1].Id : null,
        });
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetQuarantineAsync(string id, HttpContext context, IEventStore events)
    {
        var entry = await events.GetQuarantineAsync(id, context.RequestAborted).ConfigureAwait(false);
        return entry is null ? ProblemResults.NotFound(context, $"Quarantine entry '{id}'") : TypedResults.Ok(Document(entry));
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> RetryAsync(string id, HttpContext context, IEventStore events, NormalizerWorker normalizer, IControlStore store)
    {
        var entry = await events.GetQuarantineAsync(id, context.RequestAborted).ConfigureAwait(false);
        if (entry is null)
        {
            return ProblemResults.NotFound(context, $"Quarantine entry '{id}'");
        }

        if (entry.Status == QuarantineStatus.Resolved)
        {
            return ProblemResults.Result(context, ProblemKind.Conflict, $"Quarantine entry '{id}' is resolved already.");
        }

        var snapshot = await events.GetSnapshotAsync(entry.SnapshotId, context.RequestAborted).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"quarantine entry {id} names a missing snapshot");
        var (append, after) = await normalizer.NormalizeAsync(snapshot, CancellationToken.None).ConfigureAwait(false);
        var result = new JsonObject
        {
            ["entry"] = after is null ? Document(entry with { Status = QuarantineStatus.Resolved }) : Document(after),
            ["appended"] = append.Appended,
            ["duplicates"] = append.Duplicates,
        };
        await store.WriteAsync(
            tx => tx.Append(RequestChange.Of(context).Draft("quarantine.retry", "quarantine/" + id, Document(entry), (JsonObject)result.DeepClone())),
            CancellationToken.None).ConfigureAwait(false);
        return TypedResults.Ok(result);
    }

    public static JsonObject Document(QuarantineEntry entry) => new()
    {
        ["id"] = entry.Id,
        ["snapshot"] = entry.SnapshotId,
        ["source"] = entry.Source,
        ["status"] = entry.Status == QuarantineStatus.Open ? "open" : "resolved",
        ["reason"] = entry.Reason,
        ["issues"] = new JsonArray([.. entry.Issues.Select(i => (JsonNode)new JsonObject { ["index"] = i.Index, ["reason"] = i.Reason })]),
        ["attempts"] = entry.Attempts,
        ["created_at"] = AuditChain.FormatTime(entry.CreatedAt),
        ["updated_at"] = AuditChain.FormatTime(entry.UpdatedAt),
    };

    public static string VerificationName(VerificationOutcome outcome) => outcome switch
    {
        VerificationOutcome.Verified => "verified",
        VerificationOutcome.MissingSignature => "missing_signature",
        VerificationOutcome.MalformedSignature => "malformed_signature",
        VerificationOutcome.BadSignature => "bad_signature",
        VerificationOutcome.TimestampOutsideWindow => "timestamp_outside_window",
        _ => "unknown",
    };
}
