using System.Security.Cryptography;
using System.Text;
using Bulwark.Ingest;
using Bulwark.Problems;
using Bulwark.Server.Http;
using Bulwark.Server.Throttles;
using Bulwark.Throttling;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Primitives;

namespace Bulwark.Server.Ingest;

/// <summary>
/// <c>/v1/webhooks/{source}</c>: deliveries (POST) and handshakes (GET; Slack's on POST). For each delivery, in this
/// order: the source's throttle, the media type, the raw body read up to the source's <c>max_body</c>, verification
/// with every active secret, the signed timestamp's window, dedupe on (source, delivery id) and the raw snapshot written
/// durably — then 200. Normalization happens afterwards (<see cref="NormalizerWorker"/>). Refused deliveries are not
/// stored (so that nobody can fill the disk by sending garbage); they are counted and logged without their bodies.
/// </summary>
internal static partial class WebhooksApi
{
    /// <summary>The largest body any source may accept; the endpoint never reads more.</summary>
    private const long MaxBytes = SourceDefinition.MaxMaxBody;

    /// <summary>
    /// Headers never written into a snapshot, of a delivery or a polled page: they carry secrets (bearer, Okta and Auth0
    /// tokens, API keys) or cookies.
    /// </summary>
    internal static readonly HashSet<string> SecretHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "Api-Key", "X-Auth-Token", "X-Access-Token",
    };

    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder routes)
    {
        var webhooks = routes.MapGroup("/v1/webhooks").WithTags("Webhooks");

        // Deliveries authenticate with their signatures, not with Bulwark tokens.
        webhooks.MapPost("/{source}", ReceiveAsync).AllowAnonymous().WithMetadata(new RawBodyEndpoint(MaxBytes));
        webhooks.MapGet("/{source}", HandshakeAsync).AllowAnonymous();
        return routes;
    }

    private static async Task<IResult> HandshakeAsync(
        string source, HttpContext context, SourceRegistry sources, ThrottleRegistry throttles, IngestInstruments instruments)
    {
        if (await sources.GetAsync(source, context.RequestAborted).ConfigureAwait(false) is not { } live)
        {
            return ProblemResults.NotFound(context, $"Source '{source}'");
        }

        // Handshakes pass the source's throttle too: each answer costs an HMAC, and anyone may ask.
        if (await ThrottleAsync(source, live, context, throttles, instruments).ConfigureAwait(false) is { } throttled)
        {
            return throttled;
        }

        var request = new WebhookRequest("GET", Headers(context.Request.Headers), Query(context.Request.Query), ReadOnlyMemory<byte>.Empty);
        var answer = live.Scheme.Handshake(request, live.Secrets);
        if (answer is null)
        {
            return ProblemResults.Result(context, ProblemKind.MalformedRequest, $"This is not a handshake of the {live.Definition.Scheme} scheme; deliveries are POSTed.");
        }

        instruments.Handshake(source, answer.Status);
        return answer.Status == StatusCodes.Status200OK
            ? TypedResults.Text(answer.Body, answer.ContentType)
            : ProblemResults.Result(context, ProblemKind.Forbidden, $"The {live.Definition.Scheme} handshake was refused.");
    }

    private static async Task<IResult> ReceiveAsync(
        string source, HttpContext context, SourceRegistry sources, IEventStore events, ThrottleRegistry throttles, IngestInstruments instruments, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("Bulwark.Server.Ingest.Webhooks");
        if (await sources.GetAsync(source, context.RequestAborted).ConfigureAwait(false) is not { } live)
        {
            return ProblemResults.NotFound(context, $"Source '{source}'");
        }

        var definition = live.Definition;
        if (await ThrottleAsync(source, live, context, throttles, instruments).ConfigureAwait(false) is { } throttled)
        {
            return throttled;
        }

        var request = context.Request;
        if (!Accepts(live, request.ContentType))
        {
            instruments.Refused(source, "media_type");
            return ProblemResults.Result(
                context,
                ProblemKind.UnsupportedMediaType,
                $"Source '{source}' takes {AcceptedTypes(live)}, not {(string.IsNullOrEmpty(request.ContentType) ? "a body without a content type" : request.ContentType)}.");
        }

        if (request.ContentLength > definition.MaxBody)
        {
            instruments.Refused(source, "too_large");
            return ProblemResults.Result(context, ProblemKind.PayloadTooLarge, $"The body is {request.ContentLength} bytes; source '{source}' takes at most {definition.MaxBody}.");
        }

        var body = await BoundedBody.ReadAsync(request, definition.MaxBody, context.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            instruments.Refused(source, "too_large");
            return ProblemResults.Result(context, ProblemKind.PayloadTooLarge, $"The body is larger than source '{source}' takes ({definition.MaxBody} bytes).");
        }

        var now = sources.Now;
        var headers = Headers(request.Headers);
        var delivery = new WebhookRequest("POST", headers, Query(request.Query), body);
        var verification = live.Scheme.Verify(delivery, live.Secrets, now, definition.TimestampTolerance);
        if (!verification.IsVerified)
        {
            instruments.Refused(source, verification.Outcome == VerificationOutcome.TimestampOutsideWindow ? "timestamp" : "signature");
            LogRefused(logger, source, verification.Outcome, verification.Detail);
            return verification.Outcome == VerificationOutcome.TimestampOutsideWindow
                ? ProblemResults.Result(context, ProblemKind.WebhookTimestampOutsideWindow, verification.Detail)
                : ProblemResults.Result(context, ProblemKind.WebhookSignatureInvalid, verification.Detail);
        }

        // Slack's url_verification arrives signed, on POST: answered, not stored.
        if (live.Scheme.Handshake(delivery, live.Secrets) is { } answer)
        {
            instruments.Handshake(source, answer.Status);
            return TypedResults.Text(answer.Body, answer.ContentType, statusCode: answer.Status);
        }

        // Schemes without a delivery id in their headers are deduped on the body's hash: a platform's retry resends the
        // same bytes. Items inside a body are deduped again by their own ids in the event log.
        var deliveryId = verification.DeliveryId ?? "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));
        var receipt = await events.AcceptDeliveryAsync(
            new RawDelivery(source, now, [.. headers.Where(h => !SecretHeaders.Contains(h.Key))], body, request.ContentType, verification.Outcome, deliveryId, now + definition.DedupeRetention),
            CancellationToken.None).ConfigureAwait(false);
        instruments.Accepted(source, receipt.Status, body.Length);
        return Answer(receipt);
    }

    /// <summary>The source's throttle, keyed by source and client IP: a 429 answer when it refuses, else null.</summary>
    private static async Task<IResult?> ThrottleAsync(
        string source, LiveSource live, HttpContext context, ThrottleRegistry throttles, IngestInstruments instruments)
    {
        if (live.Definition.Throttle is not { } throttleName
            || await throttles.FindAsync(throttleName, context.RequestAborted).ConfigureAwait(false) is not { } throttle)
        {
            return null;
        }

        var ip = context.Connection.RemoteIpAddress?.ToString() ?? string.Empty;
        var decision = throttles.Decide(throttle, ThrottleKeys.Of(("source", source), ("ip", ip)), 1);
        var response = context.Response.Headers;
        RateLimitHeaders.Write((name, value) => response[name] = value, throttle.Record.Policy, decision);
        if (decision.Enforced == ThrottleDecisionKind.Allow)
        {
            return null;
        }

        instruments.Refused(source, "throttled");
        return ProblemResults.Result(context, ProblemKind.RateLimited, $"Source '{source}' is throttled by '{throttleName}'.");
    }

    /// <summary>
    /// <c>{"duplicate":…,"snapshot":"raw_…"}</c>, written as text: snapshot ids are lower-case base32 after a fixed
    /// prefix, so nothing needs escaping, and the hottest answer of the server skips building a JSON tree.
    /// </summary>
    private static ContentHttpResult Answer(DeliveryReceipt receipt) => TypedResults.Text(
        string.Concat(receipt.Status == DeliveryStatus.Duplicate ? "{\"duplicate\":true,\"snapshot\":\"" : "{\"duplicate\":false,\"snapshot\":\"", receipt.SnapshotId, "\"}"),
        "application/json",
        Encoding.UTF8);

    private static bool Accepts(LiveSource live, string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return false;
        }

        if (RequestBodyLimits.IsJson(contentType))
        {
            return true;
        }

        var mediaType = contentType.Split(';', 2)[0].Trim().ToLowerInvariant();
        return mediaType switch
        {
            "application/x-www-form-urlencoded" => live.Definition.Scheme == "slack",
            "application/x-ndjson" or "application/jsonl" or "application/jsonlines" or "text/plain" =>
                live.Definition.Normalizer is "event-v1" or "auth0",
            _ => false,
        };
    }

    private static string AcceptedTypes(LiveSource live) =>
        live.Definition.Scheme == "slack" ? "application/json or application/x-www-form-urlencoded"
        : live.Definition.Normalizer is "event-v1" or "auth0" ? "application/json or application/x-ndjson"
        : "application/json";

    private static Dictionary<string, string> Headers(IHeaderDictionary headers)
    {
        var result = new Dictionary<string, string>(headers.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in headers)
        {
            result[name] = Join(values);
        }

        return result;
    }

    private static Dictionary<string, string> Query(IQueryCollection query)
    {
        var result = new Dictionary<string, string>(query.Count, StringComparer.Ordinal);
        foreach (var (name, values) in query)
        {
            result[name] = values.Count > 0 ? values[0] ?? string.Empty : string.Empty;
        }

        return result;
    }

    private static string Join(StringValues values) => values.Count == 1 ? values[0] ?? string.Empty : string.Join(", ", values.ToArray());

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook delivery to source {Source} refused: {Outcome} ({Detail})")]
    private static partial void LogRefused(ILogger logger, string source, VerificationOutcome outcome, string detail);
}
