using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Manifests;
using Bulwark.Server.Http;
using Bulwark.Server.Ingest;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Detection;

/// <summary>
/// <c>/v1/detections</c> and <c>/v1/incidents</c>: lists newest first, paged with <c>before</c> (answered with
/// <c>next_before</c>), an incident with its timeline, and resolving an incident with a verdict.
/// </summary>
internal static class DetectionsApi
{
    /// <summary>The most accounts whose events an incident's timeline shows, and the most events per account.</summary>
    private const int TimelineAccounts = 20;

    private const int TimelineEventsPerAccount = 50;

    public static IEndpointRouteBuilder MapDetectionsApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGroup("/v1/detections").WithTags("Detections").MapGet("/", ListDetectionsAsync).RequireCapability(Capability.Read);
        var incidents = routes.MapGroup("/v1/incidents").WithTags("Incidents");
        incidents.MapGet("/", ListIncidentsAsync).RequireCapability(Capability.Read);
        incidents.MapGet("/{id}", GetIncidentAsync).RequireCapability(Capability.Read);
        incidents.MapPost("/{id}/resolve", ResolveAsync).RequireCapability(Capability.Respond).Accepts<JsonObject>("application/json");
        return routes;
    }

    private static async Task<IResult> ListDetectionsAsync(HttpContext context, IControlStore store)
    {
        var query = context.Request.Query;
        var errors = new List<ManifestError>();
        var before = QueryParameters.Number(query, "before", 1, long.MaxValue, errors);
        var limit = (int)(QueryParameters.Number(query, "limit", 1, 1000, errors) ?? 100);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var found = await store.ListDetectionsAsync(
            new DetectionQuery(QueryParameters.Text(query, "incident"), QueryParameters.Text(query, "rule"), before, limit),
            context.RequestAborted).ConfigureAwait(false);
        return Page(found, limit, d => d.ToDocument());
    }

    private static async Task<IResult> ListIncidentsAsync(HttpContext context, IControlStore store)
    {
        var query = context.Request.Query;
        var errors = new List<ManifestError>();
        var status = QueryParameters.Choice(query, "status", DetectionNames.IncidentStatuses, errors);
        var severity = QueryParameters.Choice(query, "severity", DetectionNames.Severities, errors);
        var before = QueryParameters.Number(query, "before", 1, long.MaxValue, errors);
        var limit = (int)(QueryParameters.Number(query, "limit", 1, 1000, errors) ?? 100);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var found = await store.ListIncidentsAsync(new IncidentQuery(status, severity, before, limit), context.RequestAborted).ConfigureAwait(false);
        return Page(found, limit, i => i.ToDocument());
    }

    /// <summary>The incident, its detections, and the events of its accounts between its first and last event.</summary>
    private static async Task<Results<Ok<JsonObject>, ProblemHttpResult>> GetIncidentAsync(string id, HttpContext context, IControlStore store, IEventStore events)
    {
        var incident = await store.GetIncidentAsync(id, context.RequestAborted).ConfigureAwait(false);
        if (incident is null)
        {
            return ProblemResults.NotFound(context, $"Incident '{id}'");
        }

        var detections = await store.ListDetectionsAsync(new DetectionQuery(IncidentId: id, Limit: 1000), context.RequestAborted).ConfigureAwait(false);
        var matched = detections.SelectMany(d => d.Value.EventIds).ToHashSet(StringComparer.Ordinal);
        var timeline = new List<(DateTimeOffset At, JsonObject Item)>();
        foreach (var detection in detections)
        {
            timeline.Add((detection.Value.DetectedEventAt, new JsonObject { ["kind"] = "detection", ["detection"] = detection.Value.ToDocument() }));
        }

        foreach (var account in incident.Accounts.Take(TimelineAccounts))
        {
            var found = await events.QueryEventsAsync(
                new EventQuery(Account: account, Since: incident.FirstEventAt, Until: incident.LastEventAt.AddMilliseconds(1), Limit: TimelineEventsPerAccount),
                context.RequestAborted).ConfigureAwait(false);
            foreach (var logged in found)
            {
                var item = new JsonObject { ["kind"] = "event", ["matched"] = matched.Contains(logged.Event.Id), ["event"] = EventsApi.Document(logged) };
                timeline.Add((logged.Event.Timestamp, item));
            }
        }

        var runs = await store.ListRunsAsync(new Bulwark.Response.RunQuery(IncidentId: id, Limit: 1000), context.RequestAborted).ConfigureAwait(false);
        foreach (var run in runs)
        {
            timeline.Add((run.Value.CreatedAt, new JsonObject { ["kind"] = "run", ["run"] = run.Value.Document.DeepClone() }));
        }

        var document = incident.ToDocument();
        document["timeline"] = new JsonArray([.. timeline.OrderBy(t => t.At).Select(t => (JsonNode)t.Item)]);
        document["timeline_truncated"] = incident.Accounts.Count > TimelineAccounts;
        return TypedResults.Ok(document);
    }

    private static Task<IResult> ResolveAsync(string id, HttpContext context, IncidentService incidents) =>
        RequestJson.WithBodyAsync(context, reader =>
        {
            var verdictText = reader.ReadString("verdict", required: true, maxLength: 32);
            var note = reader.ReadString("note", maxLength: 4000);
            IncidentVerdict? verdict = verdictText is not null && DetectionNames.Verdicts.TryGetValue(verdictText, out var v) ? v : null;
            if (verdictText is not null && verdict is null)
            {
                reader.Error("verdict", "must be one of " + string.Join(", ", DetectionNames.Verdicts.Keys));
            }

            return async () =>
            {
                var (resolved, problem, detail) = await incidents.ResolveAsync(id, verdict!.Value, note, RequestChange.Of(context), CancellationToken.None).ConfigureAwait(false);
                return problem is { } kind ? ProblemResults.Result(context, kind, detail!) : TypedResults.Ok(resolved!.ToDocument());
            };
        });

    /// <summary>A page of a list, newest first, with <c>seq</c> on each item and <c>next_before</c> when there may be more.</summary>
    internal static Ok<JsonObject> Page<T>(IReadOnlyList<Positioned<T>> found, int limit, Func<T, JsonObject> document) =>
        TypedResults.Ok(new JsonObject
        {
            ["items"] = new JsonArray([.. found.Select(p =>
            {
                var item = document(p.Value);
                item["seq"] = p.Seq;
                return (JsonNode)item;
            })]),
            ["next_before"] = found.Count == limit ? found[^1].Seq : null,
        });
}
