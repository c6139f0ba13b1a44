using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Identity;
using Bulwark.Manifests;
using Bulwark.Problems;
using Bulwark.Server.Http;
using Bulwark.Server.Identity;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Bulwark.Throttling;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Throttles;

/// <summary><c>/v1/throttles</c>: policies, checks, tightenings and blocks.</summary>
internal static class ThrottlesApi
{
    /// <summary>The most keys one check may carry.</summary>
    public const int MaxKeys = 32;

    public static IEndpointRouteBuilder MapThrottlesApi(this IEndpointRouteBuilder routes)
    {
        var throttles = routes.MapGroup("/v1/throttles").WithTags("Throttles");
        throttles.MapGet("/", ListAsync).RequireCapability(Capability.Read);
        throttles.MapGet("/{name}", GetAsync).RequireCapability(Capability.Read);
        throttles.MapPut("/{name}", PutAsync).RequireCapability(Capability.Configure).Accepts<JsonObject>("application/json");

        // Applications check with a read-only (viewer) token, as they read flags.
        throttles.MapPost("/{name}/check", CheckAsync).RequireCapability(Capability.Read).Accepts<JsonObject>("application/json");
        throttles.MapPost("/{name}/tighten", TightenAsync).RequireCapability(Capability.Respond).Accepts<JsonObject>("application/json");
        throttles.MapDelete("/{name}/tighten", RelaxAsync).RequireCapability(Capability.Respond);
        throttles.MapGet("/{name}/blocks", BlocksAsync).RequireCapability(Capability.Read);
        // A catch-all, so that a subnet key can be written as it is (…/blocks/198.51.100.0/24) or escaped (%2F).
        throttles.MapPut("/{name}/blocks/{**key}", BlockAsync).RequireCapability(Capability.Respond).Accepts<JsonObject>("application/json");
        throttles.MapDelete("/{name}/blocks/{**key}", UnblockAsync).RequireCapability(Capability.Respond);
        return routes;
    }

    private static async Task<IResult> ListAsync(HttpContext context, IControlStore store, ThrottleRegistry registry)
    {
        var (throttles, version) = await store.ListThrottlesAsync(context.RequestAborted).ConfigureAwait(false);
        if (VersionETag.NotModified(context, version))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        var now = registry.Now;
        return TypedResults.Ok(new JsonObject
        {
            ["items"] = new JsonArray([.. throttles.Select(t => (JsonNode)ThrottleService.Document(t, now))]),
            ["version"] = version,
        });
    }

    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetAsync(string name, HttpContext context, IControlStore store, ThrottleRegistry registry)
    {
        var throttle = await store.GetThrottleAsync(name, context.RequestAborted).ConfigureAwait(false);
        return throttle is null ? ProblemResults.NotFound(context, $"Throttle '{name}'") : TypedResults.Ok(ThrottleService.Document(throttle, registry.Now));
    }

    private static async Task<Results<Ok<JsonObject>, Created<JsonObject>, ProblemHttpResult>> PutAsync(string name, HttpContext context, ThrottleService service, ThrottleRegistry registry)
    {
        var (policy, problem) = await ManifestBodies.ReadPutAsync(context, ThrottleKind.Instance, "name", name).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var (throttle, outcome) = await service.PutAsync(policy!, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        return ManifestBodies.Answer(context, outcome, $"/v1/throttles/{name}", ThrottleService.Document(throttle, registry.Now));
    }

    private static async Task<IResult> CheckAsync(string name, HttpContext context, ThrottleRegistry registry)
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new List<ManifestError>();
        var reader = new ManifestReader(body!, string.Empty, errors);
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        if (reader.ReadObject("keys") is { } keysReader)
        {
            if (keysReader.FieldNames.Count > MaxKeys)
            {
                reader.Error("keys", $"must have at most {MaxKeys} keys");
            }

            foreach (var key in keysReader.FieldNames)
            {
                if (keysReader.ReadString(key, maxLength: 256) is { } value)
                {
                    keys[key] = value;
                }
            }
        }

        var cost = reader.ReadNumber("cost", 0, 1_000_000_000) ?? 1;
        if (cost != Math.Floor(cost))
        {
            reader.Error("cost", "must be a whole number");
        }

        reader.RejectUnknownFields();
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        if (await registry.FindAsync(name, context.RequestAborted).ConfigureAwait(false) is not { } throttle)
        {
            return ProblemResults.NotFound(context, $"Throttle '{name}'");
        }

        var decision = registry.Decide(throttle, new ThrottleKeys(keys), (long)cost);
        var headers = context.Response.Headers;
        RateLimitHeaders.Write((name, value) => headers[name] = value, throttle.Record.Policy, decision);
        var document = DecisionDocument(name, decision);
        return decision.Enforced switch
        {
            ThrottleDecisionKind.Allow => TypedResults.Ok(document),
            ThrottleDecisionKind.Challenge => ProblemResults.Result(context, ProblemKind.ChallengeRequired, $"Throttle '{name}' asks for a challenge: the key was denied often lately.", Extensions(document)),
            _ => ProblemResults.Result(context, ProblemKind.RateLimited, BlockDetail(name, decision), Extensions(document)),
        };
    }

    private static async Task<IResult> TightenAsync(string name, HttpContext context, ThrottleService service, ThrottleRegistry registry)
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new List<ManifestError>();
        var reader = new ManifestReader(body!, string.Empty, errors);
        var factor = reader.ReadNumber("factor", 1, ThrottleTightening.MaxFactor);
        if (factor is null && reader.ReadRaw("factor") is null)
        {
            reader.Error("factor", "is required");
        }
        else if (factor is <= 1)
        {
            reader.Error("factor", "must be above 1 (it divides the rates)");
        }

        var ttl = reader.ReadDuration("ttl", TimeSpan.FromSeconds(1), ThrottleService.MaxTighteningTtl, required: true);
        var layers = reader.ReadStringArray("layers");
        var reason = reader.ReadString("reason", required: true, maxLength: 1000);
        reader.RejectUnknownFields();
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var throttle = await service.TightenAsync(name, factor!.Value, layers is { Count: > 0 } ? layers : null, ttl!.Value, RequestChange.Of(context) with { Reason = reason }, CancellationToken.None).ConfigureAwait(false);
        return TypedResults.Ok(ThrottleService.Document(throttle, registry.Now));
    }

    private static async Task<Ok<JsonObject>> RelaxAsync(string name, HttpContext context, ThrottleService service, ThrottleRegistry registry)
    {
        var throttle = await service.RelaxAsync(name, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
        return TypedResults.Ok(ThrottleService.Document(throttle, registry.Now));
    }

    /// <summary>Manual blocks (stored) first, by key; then the escalation blocks of this node, layer by layer.</summary>
    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> BlocksAsync(string name, HttpContext context, ThrottleRegistry registry, ThrottleService service)
    {
        if (await registry.FindAsync(name, context.RequestAborted).ConfigureAwait(false) is not { } throttle)
        {
            return ProblemResults.NotFound(context, $"Throttle '{name}'");
        }

        var items = new JsonArray();
        foreach (var block in await service.ManualBlocksAsync(name, context.RequestAborted).ConfigureAwait(false))
        {
            items.Add(ManualBlockDocument(block));
        }

        foreach (var block in ThrottleService.BlocksDocument(throttle.Engine.Blocks(registry.Now)))
        {
            items.Add(block!.DeepClone());
        }

        return TypedResults.Ok(new JsonObject { ["items"] = items });
    }

    private static Task<IResult> BlockAsync(string name, string key, HttpContext context, ThrottleService service) =>
        RequestJson.WithBodyAsync(context, reader =>
        {
            key = UnescapeKey(key);
            var duration = reader.ReadDuration("for", TimeSpan.FromSeconds(1), ThrottleManualBlock.MaxDuration);
            var reason = reader.ReadString("reason", required: true, maxLength: ThrottleManualBlock.MaxReasonLength);
            if (ThrottleManualBlock.CheckKey(key) is { } problem)
            {
                // The key is in the path, not the body: its error says so by its path.
                reader.Error("key", problem);
            }

            return async () =>
            {
                var change = RequestChange.Of(context) with { Reason = reason };
                var outcome = await service.BlockAsync(name, key, duration ?? ThrottleManualBlock.DefaultDuration, reason, null, change, CancellationToken.None).ConfigureAwait(false);
                var document = ManualBlockDocument(outcome.Block);
                document["previous_until"] = outcome.PreviousUntil is { } previous ? AuditChain.FormatTime(previous) : null;
                return ManifestBodies.Answer(context, outcome.Outcome, $"/v1/throttles/{Uri.EscapeDataString(name)}/blocks/{Uri.EscapeDataString(key)}", document);
            };
        });

    private static async Task<Results<NoContent, ProblemHttpResult>> UnblockAsync(string name, string key, HttpContext context, ThrottleService service, ThrottleRegistry registry, string? layer = null)
    {
        if (await registry.FindAsync(name, context.RequestAborted).ConfigureAwait(false) is not { } throttle)
        {
            return ProblemResults.NotFound(context, $"Throttle '{name}'");
        }

        key = UnescapeKey(key);
        return await service.UnblockAsync(throttle, key, layer, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false)
            ? TypedResults.NoContent()
            : ProblemResults.NotFound(context, $"A block of '{key}' in throttle '{name}'");
    }

    /// <summary>Routing leaves an escaped '/' escaped; keys do not otherwise contain "%2F".</summary>
    private static string UnescapeKey(string key) => key.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);

    /// <summary>A manual block as listed: <c>{ kind: "manual", layer: null, key, until, reason, by, created_at, updated_at }</c>.</summary>
    private static JsonObject ManualBlockDocument(ThrottleManualBlock block)
    {
        var document = block.ToDocument();
        document.Remove("throttle");
        var listed = new JsonObject { ["kind"] = "manual", ["layer"] = null };
        foreach (var (field, value) in document)
        {
            listed[field] = value?.DeepClone();
        }

        return listed;
    }

    public static JsonObject DecisionDocument(string throttle, ThrottleDecision decision)
    {
        var document = new JsonObject
        {
            ["throttle"] = throttle,
            ["decision"] = ThrottleNames.Name(ThrottleNames.Decisions, decision.Enforced),
            ["reason"] = ThrottleNames.Name(ThrottleNames.Reasons, decision.Reason),
            ["layer"] = decision.Layer,
            ["limit"] = decision.Limit,
            ["window_seconds"] = RateLimitHeaders.Seconds(decision.Window),
            ["remaining"] = decision.Remaining,
            ["reset_after_ms"] = (long)Math.Ceiling(decision.ResetAfter.TotalMilliseconds),
            ["retry_after_ms"] = decision.RetryAfter is { } retry ? (long)Math.Ceiling(retry.TotalMilliseconds) : null,
            ["shadow"] = decision.Shadow,
        };
        if (decision.Shadow)
        {
            document["shadow_decision"] = ThrottleNames.Name(ThrottleNames.Decisions, decision.Kind);
        }

        if (decision.BlockedUntil is { } until)
        {
            document["until"] = AuditChain.FormatTime(until);
            document["block"] = decision.ManualBlock ? "manual" : "escalation";
        }

        return document;
    }

    private static string BlockDetail(string name, ThrottleDecision decision) => decision.Reason switch
    {
        ThrottleReason.Blocked when decision.ManualBlock => $"The key is blocked by throttle '{name}' (layer '{decision.Layer}') until {FormatUntil(decision)}: a manual block.",
        ThrottleReason.Blocked => $"The key is blocked by throttle '{name}' (layer '{decision.Layer}') after repeated denials, until {FormatUntil(decision)}.",
        ThrottleReason.CostExceedsBurst => $"The cost is larger than layer '{decision.Layer}' of throttle '{name}' ever allows at once.",
        _ => $"Over the limit of layer '{decision.Layer}' of throttle '{name}'.",
    };

    private static string FormatUntil(ThrottleDecision decision) => decision.BlockedUntil is { } until ? AuditChain.FormatTime(until) : "later";

    private static IEnumerable<KeyValuePair<string, object?>> Extensions(JsonObject document)
    {
        foreach (var (key, value) in document)
        {
            yield return new(key, value?.DeepClone());
        }

        // RFC 9457 problem types of the IETF RateLimit draft name the policies that were violated.
        yield return new("violated-policies", document["layer"] is { } layer ? new JsonArray(layer.DeepClone()) : new JsonArray());
    }
}
