using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Manifests;
using Bulwark.Problems;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Bulwark.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Ingest;

/// <summary>
/// <c>/v1/events</c>: the operator's own services push schema v1 events (a JSON array, or NDJSON: one event a line);
/// valid items are appended durably before the answer, each invalid one is reported by index with its errors. Reads
/// filter the log; a replay re-feeds consumers and can re-normalize raw snapshots.
/// </summary>
internal static partial class EventsApi
{
    /// <summary>The largest push accepted (a CLI push sends batches well under it).</summary>
    public const int MaxPushBytes = 16 << 20;

    /// <summary>The most events one push may carry.</summary>
    public const int MaxPushEvents = 20_000;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    public static IEndpointRouteBuilder MapEventsApi(this IEndpointRouteBuilder routes)
    {
        var events = routes.MapGroup("/v1/events").WithTags("Events");
        events.MapPost("/", PushAsync).RequireCapability(Capability.Ingest).WithMetadata(new RawBodyEndpoint(MaxPushBytes));
        events.MapGet("/", QueryAsync).RequireCapability(Capability.Read);
        events.MapPost("/replay", ReplayAsync).RequireCapability(Capability.Configure).Accepts<JsonObject>("application/json");
        events.MapGet("/replays", ListReplays).RequireCapability(Capability.Read);
        events.MapGet("/replays/{id}", GetReplay).RequireCapability(Capability.Read);
        return routes;
    }

    private static async Task<IResult> PushAsync(HttpContext context, IEventStore events, SourceRegistry sources, IngestInstruments instruments, TimeProvider time)
    {
        var request = context.Request;
        var mediaType = request.ContentType?.Split(';', 2)[0].Trim().ToLowerInvariant();
        var ndjson = mediaType is "application/x-ndjson" or "application/jsonl" or "application/jsonlines";
        if (!ndjson && !RequestBodyLimits.IsJson(request.ContentType))
        {
            return ProblemResults.Result(context, ProblemKind.UnsupportedMediaType, "Send events as application/json (an array) or application/x-ndjson (one event a line).");
        }

        if (request.ContentLength > MaxPushBytes)
        {
            return ProblemResults.Result(context, ProblemKind.PayloadTooLarge, $"The body is {request.ContentLength} bytes; a push takes at most {MaxPushBytes}: send batches.");
        }

        var body = await BoundedBody.ReadAsync(request, MaxPushBytes, context.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            return ProblemResults.Result(context, ProblemKind.PayloadTooLarge, $"A push takes at most {MaxPushBytes} bytes: send batches.");
        }

        var (items, problem) = Items(context, body, ndjson);
        if (problem is not null)
        {
            return problem;
        }

        var now = time.GetUtcNow();
        var valid = new List<NormalizedEvent>(items!.Count);
        var rejected = new JsonArray();
        for (var i = 0; i < items.Count; i++)
        {
            var (element, parseError) = items[i];
            if (parseError is not null)
            {
                rejected.Add(Rejection(i, [("", parseError)]));
                continue;
            }

            if (EventJson.SizeProblem(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element).Length) is { } tooLarge)
            {
                rejected.Add(Rejection(i, [("", tooLarge)]));
                continue;
            }

            if (EventJson.TryRead(element, out var read, out var errors))
            {
                // A webhook source's events come only from its verified deliveries: a pushed event under its name could
                // take the id of one still to come, which the log would then drop as a duplicate.
                if (await sources.ExistsAsync(read.Source, context.RequestAborted).ConfigureAwait(false))
                {
                    rejected.Add(Rejection(i, [("/source", $"'{read.Source}' is a webhook source: its events come only from its verified deliveries")]));
                    continue;
                }

                valid.Add(read with { ReceivedAt = now });
            }
            else
            {
                rejected.Add(Rejection(i, [.. errors.Select(e => (e.Pointer, e.Message))]));
            }
        }

        if (valid.Count == 0)
        {
            instruments.Events("api", 0, 0, rejected.Count);
            return ProblemResults.Result(
                context,
                ProblemKind.Validation,
                items.Count == 0 ? "The push carries no events." : "No event of the push is valid; see rejected.",
                [new("rejected", rejected)]);
        }

        var receipt = await events.AppendEventsAsync(valid, CancellationToken.None).ConfigureAwait(false);
        instruments.Events("api", receipt.Appended, receipt.Duplicates, rejected.Count);
        return TypedResults.Ok(new JsonObject
        {
            ["accepted"] = receipt.Appended,
            ["duplicates"] = receipt.Duplicates,
            ["rejected"] = rejected,
            ["last_offset"] = receipt.LastOffset,
        });
    }

    /// <summary>The items of a push: a JSON array's elements, or NDJSON lines (a line that is not JSON is a rejected item, not a failed push).</summary>
    private static (List<(JsonElement Element, string? Error)>? Items, IResult? Problem) Items(HttpContext context, byte[] body, bool ndjson)
    {
        var items = new List<(JsonElement, string?)>();
        var span = body.AsSpan();
        var start = 0;
        while (start < span.Length && span[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            start++;
        }

        if (!ndjson || (start < span.Length && span[start] == (byte)'['))
        {
            try
            {
                using var document = JsonDocument.Parse(body, DocumentOptions);
                var root = document.RootElement;
                if (root.ValueKind == JsonValueKind.Object)
                {
                    items.Add((root.Clone(), null));
                }
                else if (root.ValueKind == JsonValueKind.Array)
                {
                    if (root.GetArrayLength() > MaxPushEvents)
                    {
                        return (null, ProblemResults.Result(context, ProblemKind.PayloadTooLarge, $"A push carries at most {MaxPushEvents} events: send batches."));
                    }

                    foreach (var item in root.EnumerateArray())
                    {
                        items.Add((item.Clone(), null));
                    }
                }
                else
                {
                    return (null, ProblemResults.Result(context, ProblemKind.MalformedRequest, "The body must be a JSON array of events (or one event)."));
                }

                return (items, null);
            }
            catch (JsonException error) when (!ndjson)
            {
                return (null, ProblemResults.Result(context, ProblemKind.MalformedRequest, "The body is not valid JSON: " + error.Message));
            }
            catch (JsonException)
            {
                // NDJSON that is not one JSON array as a whole: lines, the first of which starts with '[' (an item that is
                // rejected on its own, not the push).
            }
        }

        var line = 0;
        foreach (var range in span.Split((byte)'\n'))
        {
            var text = span[range].TrimEnd((byte)'\r');
            if (text.Trim((byte)' ').IsEmpty)
            {
                continue;
            }

            if (++line > MaxPushEvents)
            {
                return (null, ProblemResults.Result(context, ProblemKind.PayloadTooLarge, $"A push carries at most {MaxPushEvents} events: send batches."));
            }

            try
            {
                using var document = JsonDocument.Parse(text.ToArray(), DocumentOptions);
                items.Add((document.RootElement.Clone(), null));
            }
            catch (JsonException error)
            {
                items.Add((default, "the line is not valid JSON: " + error.Message));
            }
        }

        return (items, null);
    }

    private static JsonObject Rejection(int index, IEnumerable<(string Pointer, string Message)> errors) => new()
    {
        ["index"] = index,
        ["errors"] = new JsonArray([.. errors.Select(e => (JsonNode)new JsonObject { ["path"] = e.Pointer, ["message"] = e.Message })]),
    };

    private static async Task<IResult> QueryAsync(HttpContext context, IEventStore events)
    {
        var query = context.Request.Query;
        var errors = new List<ManifestError>();
        var since = Time(query, "since", errors);
        var until = Time(query, "until", errors);
        var after = QueryParameters.Number(query, "after", 0, long.MaxValue, errors) ?? 0;
        var limit = (int)(QueryParameters.Number(query, "limit", 1, 1000, errors) ?? 100);
        if (since is not null && until is not null && until <= since)
        {
            errors.Add(new ManifestError("/until", "must be after since"));
        }

        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var found = await events.QueryEventsAsync(
            new EventQuery(QueryParameters.Text(query, "account"), QueryParameters.Text(query, "type"), QueryParameters.Text(query, "platform"), QueryParameters.Text(query, "source"), since, until, after, limit),
            context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new JsonObject
        {
            ["items"] = new JsonArray([.. found.Select(e => (JsonNode)Document(e))]),
            ["next_after"] = found.Count == limit ? found[^1].Offset : null,
        });
    }

    public static JsonObject Document(LoggedEvent logged)
    {
        var document = EventJson.ToJsonObject(logged.Event);
        document["offset"] = logged.Offset;
        if (logged.SnapshotId is { } snapshot)
        {
            document["snapshot"] = snapshot;
        }

        return document;
    }

    private static async Task<IResult> ReplayAsync(
        HttpContext context,
        IEventStore events,
        IControlStore store,
        IEnumerable<IEventConsumer> consumers,
        IEnumerable<IEventKeyConsumer> keyConsumers,
        NormalizerWorker normalizer,
        Replays replays,
        ConsumerWakeups wakeups,
        TimeProvider time,
        IHostApplicationLifetime lifetime,
        ILoggerFactory loggers)
    {
        var (body, problem) = await RequestJson.ReadObjectAsync(context).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new List<ManifestError>();
        var reader = new ManifestReader(body!, string.Empty, errors);
        var since = ReadTime(reader, "since", required: true);
        var until = ReadTime(reader, "until", required: false);
        var names = reader.ReadStringArray("consumers");
        var renormalize = reader.ReadBoolean("renormalize") ?? false;
        var reason = reader.ReadString("reason", maxLength: 1000);
        reader.RejectUnknownFields();
        var known = consumers.Select(c => c.Name).Concat(keyConsumers.Select(c => c.Name)).ToList();
        foreach (var unknown in names?.Except(known) ?? [])
        {
            reader.Error("consumers", $"there is no consumer '{unknown}' (there are: {string.Join(", ", known)})");
        }

        if (since is not null && until is not null && until <= since)
        {
            reader.Error("until", "must be after since");
        }

        if (errors.Count > 0)
        {
            return ProblemResults.Validation(context, errors);
        }

        var change = RequestChange.Of(context);
        var request = new ReplayRequest(
            since!.Value, // required: its absence is an error above
            until,
            renormalize,
            names is { Count: > 0 } ? names : known,
            change with { Reason = reason ?? change.Reason });
        var answer = new JsonObject
        {
            ["since"] = AuditChain.FormatTime(request.Since),
            ["until"] = until is { } u ? AuditChain.FormatTime(u) : null,
            ["renormalize"] = renormalize,
            ["consumers"] = new JsonArray([.. request.Consumers.Select(c => (JsonNode)c)]),
            ["rewound"] = new JsonObject(),
            ["renormalized"] = 0,
            ["appended"] = 0,
        };
        var logger = loggers.CreateLogger(typeof(EventsApi).FullName!);
        var stopping = lifetime.ApplicationStopping;
        var (run, running) = replays.TryStart(answer, r => RunReplayAsync(r, request, events, store, normalizer, wakeups, time, logger, stopping));
        if (run is null)
        {
            return ProblemResults.Result(
                context,
                ProblemKind.Conflict,
                $"Another replay ({running!.Id}) is running; this one can start when it has finished (GET /v1/events/replays/{running.Id}).");
        }

        // Asked to answer at once (RFC 7240), as a caller behind a proxy with a read timeout should: 202 with where to
        // follow it. Otherwise the answer waits for the end, however long that takes.
        if (PrefersRespondAsync(context.Request))
        {
            context.Response.Headers["Preference-Applied"] = "respond-async";
            return TypedResults.Accepted($"/v1/events/replays/{run.Id}", run.Snapshot());
        }

        await run.Completion.ConfigureAwait(false);
        return run.State switch
        {
            ReplayState.Completed => TypedResults.Ok(run.Snapshot()),
            ReplayState.Stopped => throw new ProblemException(
                ProblemKind.Unavailable, "The server is stopping: the replay stopped part-way (audited as not completed). Run it again once the server is back."),
            _ when events.IsUnavailable(run.Error!) => throw new ProblemException(
                ProblemKind.Unavailable,
                $"The event store could not serve part-way ({run.Error!.GetType().Name}): the replay stopped (audited as not completed, GET /v1/events/replays/{run.Id}); what it committed stays. Run it again once the store is back; the server log has the error."),

            // A bug: the replay logged its error (with its id) when it failed, so the answer is the 500 without a second log.
            _ => throw new ProblemException(
                ProblemKind.Internal,
                $"The replay failed part-way ({run.Error!.GetType().Name}): it stopped (audited as not completed, GET /v1/events/replays/{run.Id}). The server log has the error under replay {run.Id}."),
        };
    }

    /// <summary>Whether the request's <c>Prefer</c> header asks for <c>respond-async</c> (RFC 7240: comma-separated, with parameters).</summary>
    private static bool PrefersRespondAsync(HttpRequest request) =>
        request.Headers["Prefer"].SelectMany(v => (v ?? string.Empty).Split(',')).Any(p => p.Split(';', 2)[0].Trim().Equals("respond-async", StringComparison.OrdinalIgnoreCase));

    private static IResult GetReplay(HttpContext context, string id, Replays replays) =>
        replays.Find(id) is { } run
            ? TypedResults.Ok(run.Snapshot())
            : ProblemResults.Result(
                context,
                ProblemKind.NotFound,
                $"This server knows no replay with that id: it keeps the running one and the last {Replays.Kept} finished since it started. Every finished replay is in the audit log (action events.replay, with its id).");

    private static Ok<JsonObject> ListReplays(Replays replays) =>
        TypedResults.Ok(new JsonObject { ["items"] = new JsonArray([.. replays.List().Select(r => (JsonNode)r.Snapshot())]) });

    /// <summary>What a replay was asked to do, and by whom.</summary>
    private sealed record ReplayRequest(DateTimeOffset Since, DateTimeOffset? Until, bool Renormalize, IReadOnlyList<string> Consumers, ChangeContext Change);

    /// <summary>
    /// Re-normalizes the window's snapshots (when asked), rewinds the consumers, and audits what it did, keeping the run's
    /// answer up to date after each page. It runs to its end whether or not its caller waits, unless the server stops
    /// (checked between pages) or the store fails: what it did until then is audited as not completed.
    /// </summary>
    private static async Task RunReplayAsync(
        ReplayRun run,
        ReplayRequest request,
        IEventStore events,
        IControlStore store,
        NormalizerWorker normalizer,
        ConsumerWakeups wakeups,
        TimeProvider time,
        ILogger logger,
        CancellationToken stopping)
    {
        var (renormalized, appended) = (0, 0);
        var failures = new JsonArray();
        var failed = 0;
        try
        {
            // Re-normalize first, so that rewound consumers see the events it adds: a page of snapshots a transaction.
            // Only snapshots stored before the replay began are its business (later ones are the normalizer's, in their
            // turn), so that deliveries arriving meanwhile cannot keep it going: the window ends at the replay's own
            // millisecond at the latest, and a snapshot stored since is left to the normalizer.
            if (request.Renormalize)
            {
                var lastSeq = events.LastSnapshotSeq;
                var now = DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds() + 1);
                var end = request.Until is { } bound && bound < now ? bound : now;
                string? after = null;
                while (await events.ReadSnapshotsReceivedAsync(request.Since, end, after, 256, CancellationToken.None).ConfigureAwait(false) is { Count: > 0 } page)
                {
                    stopping.ThrowIfCancellationRequested();
                    after = page[^1].Id;
                    var batch = page.Where(s => s.Seq <= lastSeq).ToList();
                    if (batch.Count == 0)
                    {
                        continue;
                    }

                    IReadOnlyList<NormalizationOutcome> outcomes;
                    try
                    {
                        outcomes = await normalizer.NormalizeAsync(batch, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception error) when (error is not OperationCanceledException && batch.Count > 1)
                    {
                        // The log may refuse one snapshot's events: one at a time, only that one is left out (and reported).
                        outcomes = await NormalizeEachAsync(batch, error).ConfigureAwait(false);
                    }

                    renormalized += outcomes.Count;
                    appended += outcomes.Sum(o => o.Append.Appended);
                    run.Update(Counts);
                }
            }

            stopping.ThrowIfCancellationRequested();
            var first = await events.FindFirstOffsetAsync(request.Since, request.Until, CancellationToken.None).ConfigureAwait(false);
            foreach (var name in request.Consumers)
            {
                var offset = first is { } at ? at - 1 : events.LastOffset;
                var current = await events.GetOffsetAsync(name, CancellationToken.None).ConfigureAwait(false);
                if (offset < current)
                {
                    await events.SetOffsetAsync(name, offset, CancellationToken.None).ConfigureAwait(false);
                    wakeups.Wake(name);
                    run.Update(r => r["rewound"]![name] = offset);
                }
            }
        }
        catch (Exception error)
        {
            var stopped = error is OperationCanceledException && stopping.IsCancellationRequested;
            if (!stopped)
            {
                LogReplayFailed(logger, error, run.Id);
            }

            run.Update(r =>
            {
                Counts(r);
                r["completed"] = false;
                r["error"] = stopped ? "the server is stopping" : error.GetType().Name;
            });
            try
            {
                await AuditAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The replay's own error is the one to report; the audit's is logged beside it.
            catch (Exception auditError)
#pragma warning restore CA1031
            {
                LogReplayNotAudited(logger, auditError, error.GetType().Name);
            }

            // Only the stop ends a replay as stopped: anything else, even a cancellation, is a failure.
            if (error is OperationCanceledException && !stopped)
            {
                throw new InvalidOperationException("The replay was cancelled without the server stopping.", error);
            }

            throw;
        }

        run.Update(Counts);
        await AuditAsync().ConfigureAwait(false);

        void Counts(JsonObject result)
        {
            result["renormalized"] = renormalized;
            result["appended"] = appended;
            if (failed > 0)
            {
                result["failed"] = failed;
                result["failures"] = failures.DeepClone();
            }
        }

        Task AuditAsync()
        {
            var after = run.Result();
            return store.WriteAsync(tx => tx.Append(request.Change.Draft("events.replay", "events", null, after)), CancellationToken.None);
        }

        // A page the log refused, one snapshot at a time: each that fails alone too is counted and listed, and the
        // replay goes on. When none of the page goes in alone either, the store is failing, not a snapshot: the page's
        // own error stops the replay.
        async Task<IReadOnlyList<NormalizationOutcome>> NormalizeEachAsync(IReadOnlyList<RawSnapshot> batch, Exception pageError)
        {
            var done = new List<NormalizationOutcome>();
            var refused = new List<(string Snapshot, string Error)>();
            foreach (var snapshot in batch)
            {
                try
                {
                    done.Add(await normalizer.NormalizeAsync(snapshot, CancellationToken.None).ConfigureAwait(false));
                }
                catch (Exception error) when (error is not OperationCanceledException)
                {
                    refused.Add((snapshot.Id, error.Message));
                }
            }

            if (done.Count == 0)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(pageError);
            }

            failed += refused.Count;
            foreach (var (snapshot, message) in refused.Take(MaxListedFailures - failures.Count))
            {
                failures.Add(new JsonObject { ["snapshot"] = snapshot, ["error"] = message });
            }

            return done;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Replay {Replay} failed part-way")]
    private static partial void LogReplayFailed(ILogger logger, Exception error, string replay);

    [LoggerMessage(Level = LogLevel.Error, Message = "A replay that failed ({Failure}) could not be audited")]
    private static partial void LogReplayNotAudited(ILogger logger, Exception error, string failure);

    /// <summary>How many snapshots the log refused a replay lists with their errors (all are counted).</summary>
    private const int MaxListedFailures = 100;

    private static DateTimeOffset? ReadTime(ManifestReader reader, string field, bool required)
    {
        var text = reader.ReadString(field, required, maxLength: 64);
        if (text is null)
        {
            return null;
        }

        if (TryParseTime(text) is { } value)
        {
            return value;
        }

        reader.Error(field, TimeError);
        return null;
    }

    private const string TimeError = "must be a time such as 2026-03-02T00:00:00Z";

    /// <summary>A time as the query and replay bodies write it (no offset: UTC), in UTC.</summary>
    private static DateTimeOffset? TryParseTime(string text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value) ? value.ToUniversalTime() : null;

    private static DateTimeOffset? Time(IQueryCollection query, string name, List<ManifestError> errors)
    {
        if (QueryParameters.Text(query, name) is not { } text)
        {
            return null;
        }

        if (TryParseTime(text) is { } value)
        {
            return value;
        }

        errors.Add(new ManifestError("/" + name, TimeError));
        return null;
    }
}
