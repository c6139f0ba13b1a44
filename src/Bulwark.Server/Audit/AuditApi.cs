using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Manifests;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Audit;

/// <summary><c>/v1/audit</c>: read entries in order, and verify the chain. There is no endpoint that changes an entry.</summary>
internal static class AuditApi
{
    public const int MaxLimit = 1000;

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder routes)
    {
        var audit = routes.MapGroup("/v1/audit").WithTags("Audit").RequireCapability(Capability.Read);
        audit.MapGet("/", ListAsync);
        audit.MapGet("/verify", VerifyAsync);
        audit.MapGet("/head", HeadAsync);
        return routes;
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> ListAsync(HttpContext context, IControlStore store, long after = 0, int limit = 100)
    {
        var errors = new List<ManifestError>();
        if (after < 0)
        {
            errors.Add(new ManifestError("/after", "must be 0 or more"));
        }

        if (limit is < 1 or > MaxLimit)
        {
            errors.Add(new ManifestError("/limit", $"must be from 1 to {MaxLimit}"));
        }

        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var entries = await store.ReadAuditAsync(after, limit, context.RequestAborted).ConfigureAwait(false);
        var items = new JsonArray([.. entries.Select(e => (JsonNode)AuditService.Document(e))]);
        return TypedResults.Ok(new JsonObject
        {
            ["items"] = items,
            ["next_after"] = entries.Count > 0 ? entries[^1].Seq : after,
        });
    }

    private static async Task<Ok<JsonObject>> HeadAsync(IControlStore store, CancellationToken cancellationToken)
    {
        var head = await store.GetRecordedAuditHeadAsync(cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(new JsonObject { ["seq"] = head.Seq, ["hash"] = head.Hash });
    }

    private static async Task<Ok<JsonObject>> VerifyAsync(AuditService audit, CancellationToken cancellationToken)
    {
        var result = await audit.VerifyAsync(cancellationToken).ConfigureAwait(false);
        var document = new JsonObject { ["ok"] = result.Ok, ["entries"] = result.Entries };
        if (result.Ok)
        {
            document["head"] = result.Head;
        }
        else
        {
            document["first_bad_seq"] = result.FirstBadSeq;
            document["problem"] = result.Problem;
        }

        return TypedResults.Ok(document);
    }
}
