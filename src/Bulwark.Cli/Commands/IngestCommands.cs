using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Cli.Client;
using Bulwark.Cli.Output;

namespace Bulwark.Cli.Commands;

/// <summary><c>bulwark sources …</c>, <c>bulwark events …</c>, <c>bulwark quarantine …</c>, <c>bulwark raw get</c>.</summary>
internal static class IngestCommands
{
    /// <summary>The most one push may carry (the server's limit: 16 MiB).</summary>
    private const long MaxBatchBytes = 16 << 20;

    public static Command Sources(CliContext cli)
    {
        var sources = new Command("sources", "List and show webhook sources (secrets appear as references only); declare them with apply -f");
        var json = CliContext.JsonOption();
        var list = new Command("list", "List sources with their scheme, normalizer and endpoint") { json };
        list.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var items = (await client.GetAsync("v1/sources", ct).ConfigureAwait(false)).Body!;
            return cli.WriteItems(
                parse.GetValue(json),
                items,
                ["NAME", "SCHEME", "NORMALIZER", "SECRETS", "ENDPOINT"],
                s => [s["name"]?.ToString(), s["scheme"]?.ToString(), s["normalizer"]?.ToString(), Secrets(s), s["status"]?["endpoint"]?.ToString()]);
        }));
        sources.Subcommands.Add(list);

        var name = new Argument<string>("name") { Description = "The source's name" };
        var getJson = CliContext.JsonOption();
        var get = new Command("get", "Show a source (--json: the document, which can be PUT back)") { name, getJson };
        get.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var source = (await client.GetAsync("v1/sources/" + Uri.EscapeDataString(parse.GetValue(name)!), ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(getJson))
            {
                cli.WriteJson(source);
                return ExitCodes.Ok;
            }

            Table.WritePairs(
                cli.Out,
                [
                    ("name", source["name"]?.ToString()),
                    ("scheme", source["scheme"]?.ToString()),
                    ("normalizer", source["normalizer"]?.ToString()),
                    ("platform", source["platform"]?.ToString()),
                    ("secrets", Secrets(source)),
                    ("timestamp tolerance", source["timestamp_tolerance"]?.ToString()),
                    ("dedupe retention", source["dedupe_retention"]?.ToString()),
                    ("max body", source["max_body"]?.ToString()),
                    ("throttle", source["throttle"]?.ToString()),
                    ("poll", source["poll"]?["url"]?.ToString()),
                    ("endpoint", source["status"]?["endpoint"]?.ToString()),
                    ("updated", source["status"]?["updated_at"]?.ToString()),
                ]);
            return ExitCodes.Ok;
        }));
        sources.Subcommands.Add(get);
        return sources;
    }

    public static Command Events(CliContext cli)
    {
        var events = new Command("events", "Push events into the event log, list them, replay them to consumers");
        events.Subcommands.Add(Push(cli));
        events.Subcommands.Add(List(cli));
        events.Subcommands.Add(Replay(cli));
        events.Subcommands.Add(Replays(cli));
        return events;
    }

    public static Command Quarantine(CliContext cli)
    {
        var quarantine = new Command("quarantine", "Verified deliveries that could not be normalized: list, show, retry after a fix");
        var json = CliContext.JsonOption();
        var status = new Option<string?>("--status") { Description = "open or resolved (default: both)" };
        status.AcceptOnlyFromAmong("open", "resolved");
        var limit = new Option<int?>("--limit") { Description = "At most this many (default and most: 500)" };
        var before = new Option<string?>("--before") { Description = "Only entries older than this one: the next page starts below the last one shown (--json: next_before)" };
        var list = new Command("list", "List quarantine entries, newest first") { json, status, limit, before };
        list.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var path = WithQuery(
                "v1/quarantine",
                ("status", parse.GetValue(status)),
                ("limit", parse.GetValue(limit)?.ToString(CultureInfo.InvariantCulture)),
                ("before", parse.GetValue(before)));
            var items = (await client.GetAsync(path, ct).ConfigureAwait(false)).Body!;
            var exit = cli.WriteItems(
                parse.GetValue(json),
                items,
                ["ID", "SOURCE", "STATUS", "ATTEMPTS", "SNAPSHOT", "REASON"],
                q => [q["id"]?.ToString(), q["source"]?.ToString(), q["status"]?.ToString(), q["attempts"]?.ToString(), q["snapshot"]?.ToString(), q["reason"]?.ToString()]);
            if (!parse.GetValue(json) && items["next_before"] is { } next)
            {
                await cli.Error.WriteLineAsync($"(a full page: the next one with --before {next})").ConfigureAwait(false);
            }

            return exit;
        }));
        quarantine.Subcommands.Add(list);

        var id = new Argument<string>("id") { Description = "The entry's id (q_…)" };
        var getJson = CliContext.JsonOption();
        var get = new Command("get", "Show a quarantine entry with every item issue") { id, getJson };
        get.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var entry = (await client.GetAsync("v1/quarantine/" + Uri.EscapeDataString(parse.GetValue(id)!), ct).ConfigureAwait(false)).Body!;
            return WriteEntry(cli, entry, parse.GetValue(getJson));
        }));
        quarantine.Subcommands.Add(get);

        var retryId = new Argument<string>("id") { Description = "The entry's id (q_…)" };
        var retryJson = CliContext.JsonOption();
        var retry = new Command("retry", "Normalize the entry's raw snapshot again with the source's current definition (after a fix); exit 1 if it stays open") { retryId, retryJson };
        retry.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var result = (await client.PostAsync("v1/quarantine/" + Uri.EscapeDataString(parse.GetValue(retryId)!) + "/retry", null, ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(retryJson))
            {
                cli.WriteJson(result);
            }
            else
            {
                await cli.Out.WriteLineAsync($"{result["entry"]?["status"]}: {result["appended"]} events appended, {result["duplicates"]} already in the log").ConfigureAwait(false);
            }

            return result["entry"]?["status"]?.ToString() == "resolved" ? ExitCodes.Ok : ExitCodes.Failed;
        }));
        quarantine.Subcommands.Add(retry);
        return quarantine;
    }

    public static Command Raw(CliContext cli)
    {
        var raw = new Command("raw", "Read raw webhook snapshots (immutable: nothing changes or deletes them)");
        var id = new Argument<string>("id") { Description = "The snapshot's id (raw_…)" };
        var body = new Option<string?>("--body") { Description = "Write the exact body bytes to this file (- for standard output) instead of describing the snapshot" };
        var json = CliContext.JsonOption();
        var get = new Command("get", "Show a raw snapshot: source, time, verification, SHA-256, headers (secrets removed) and body") { id, body, json };
        get.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var snapshot = (await client.GetAsync("v1/raw/" + Uri.EscapeDataString(parse.GetValue(id)!), ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(body) is { } target)
            {
                var bytes = Convert.FromBase64String(snapshot["body_base64"]!.GetValue<string>());
                if (target == "-")
                {
                    await cli.Out.FlushAsync(ct).ConfigureAwait(false);
                    await using var stdout = Console.OpenStandardOutput();
                    await stdout.WriteAsync(bytes, ct).ConfigureAwait(false);
                }
                else
                {
                    await File.WriteAllBytesAsync(target, bytes, ct).ConfigureAwait(false);
                }

                return ExitCodes.Ok;
            }

            if (parse.GetValue(json))
            {
                cli.WriteJson(snapshot);
                return ExitCodes.Ok;
            }

            Table.WritePairs(
                cli.Out,
                [
                    ("id", snapshot["id"]?.ToString()),
                    ("source", snapshot["source"]?.ToString()),
                    ("received", snapshot["received_at"]?.ToString()),
                    ("verification", snapshot["verification"]?.ToString()),
                    ("delivery id", snapshot["delivery_id"]?.ToString()),
                    ("content type", snapshot["content_type"]?.ToString()),
                    ("size", snapshot["size"]?.ToString()),
                    ("sha256", snapshot["sha256"]?.ToString()),
                ]);
            await cli.Out.WriteLineAsync().ConfigureAwait(false);
            foreach (var (name, value) in snapshot["headers"]!.AsObject())
            {
                await cli.Out.WriteLineAsync($"{name}: {value}").ConfigureAwait(false);
            }

            await cli.Out.WriteLineAsync().ConfigureAwait(false);
            await cli.Out.WriteLineAsync(snapshot["body_text"]?.ToString() ?? "(binary body: use --body FILE)").ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        raw.Subcommands.Add(get);
        return raw;
    }

    private static Command Push(CliContext cli)
    {
        var file = new Argument<string>("file") { Description = "Events in schema v1, one a line: .jsonl, or .jsonl.gz" };
        var rate = new Option<double?>("--rate") { Description = "At most this many events a second (default: as fast as the server takes them)" };
        var batch = new Option<int?>("--batch") { Description = "Events per request, at most 20000 (default 1000; with --rate, the rate rounded up when that is less)" };
        var quiet = new Option<bool>("--quiet") { Description = "No progress bar" };
        var json = CliContext.JsonOption();
        var command = new Command(
            "push",
            "Push a file of events through POST /v1/events, in batches, with a progress bar on standard error. " +
            "Needs a token with the ingest capability (role ingest, operator or admin). Exit 1 if any event was rejected")
        {
            file, rate, batch, quiet, json,
        };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            var path = parse.GetValue(file)!;
            var perSecond = parse.GetValue(rate);
            if (perSecond is { } wanted && wanted is not > 0)
            {
                throw new UsageException("--rate must be above 0");
            }

            // A batch goes out in one request: without --batch, a rate also caps the batch, or the first second would
            // carry a whole batch of 1000 however low the rate.
            var size = parse.GetValue(batch) ?? (perSecond is { } cap ? (int)Math.Clamp(Math.Ceiling(cap), 1, 1000) : 1000);
            if (size is < 1 or > 20_000)
            {
                throw new UsageException("--batch must be from 1 to 20000");
            }

            if (!File.Exists(path))
            {
                throw new UsageException($"{path} does not exist");
            }

            using var client = cli.Client(parse);
            await using var stream = File.OpenRead(path);
            Stream input = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(stream, CompressionMode.Decompress) : stream;
            await using var _ = input.ConfigureAwait(false);
            using var reader = new StreamReader(input, Encoding.UTF8);
            var progress = new PushProgress(cli.Error, stream, showBar: !parse.GetValue(quiet) && !parse.GetValue(json));
            var lines = new List<string>(size);
            var lineNumbers = new List<int>(size);
            var batchBytes = 0L;
            var rejections = new JsonArray();
            var started = cli.Time.GetTimestamp();
            TimeSpan Elapsed() => cli.Time.GetElapsedTime(started);
            var sent = 0;
            var fileLine = 0;

            async Task SendAsync()
            {
                // Waiting before a batch (not after) keeps the rate without a pointless wait after the last one.
                if (perSecond is { } limit && TimeSpan.FromSeconds(sent / limit) - Elapsed() is { Ticks: > 0 } wait)
                {
                    await Task.Delay(wait, cli.Time, ct).ConfigureAwait(false);
                }

                var answer = await SendBatchAsync(client, lines, ct).ConfigureAwait(false);
                foreach (var rejection in answer["rejected"]?.AsArray() ?? [])
                {
                    rejections.Add(new JsonObject { ["line"] = lineNumbers[rejection!["index"]!.GetValue<int>()], ["errors"] = rejection["errors"]!.DeepClone() });
                }

                sent += lines.Count;
                progress.Add(answer["accepted"]?.GetValue<int>() ?? 0, answer["duplicates"]?.GetValue<int>() ?? 0, answer["rejected"]?.AsArray().Count ?? 0, Elapsed());
                lines.Clear();
                lineNumbers.Clear();
                batchBytes = 0;
            }

            async Task<string?> NextLineAsync()
            {
                try
                {
                    return await reader.ReadLineAsync(ct).ConfigureAwait(false);
                }
                catch (InvalidDataException error)
                {
                    // A .gz file that is not gzip, or is cut short: what came before it was pushed.
                    throw new UsageException($"{path} is not a readable gzip file after line {fileLine} ({error.Message}); the lines before it were pushed");
                }
            }

            while (await NextLineAsync().ConfigureAwait(false) is { } text)
            {
                // Line numbers count every line of the file, blank ones too, so that a rejection points at its line.
                fileLine++;
                if (text.Trim().Length == 0)
                {
                    continue;
                }

                // The server takes at most 16 MiB a push: a batch of large events goes out before it gets there.
                var bytes = Encoding.UTF8.GetByteCount(text) + 1L;
                if (lines.Count > 0 && batchBytes + bytes > MaxBatchBytes)
                {
                    await SendAsync().ConfigureAwait(false);
                }

                lines.Add(text);
                lineNumbers.Add(fileLine);
                batchBytes += bytes;
                if (lines.Count == size)
                {
                    await SendAsync().ConfigureAwait(false);
                }
            }

            if (lines.Count > 0)
            {
                await SendAsync().ConfigureAwait(false);
            }

            progress.Finish(Elapsed());
            var summary = new JsonObject
            {
                ["lines"] = sent,
                ["accepted"] = progress.Accepted,
                ["duplicates"] = progress.Duplicates,
                ["rejected"] = progress.Rejected,
                ["seconds"] = Math.Round(Elapsed().TotalSeconds, 3),
                ["rejections"] = rejections,
            };
            if (parse.GetValue(json))
            {
                cli.WriteJson(summary);
            }
            else
            {
                await cli.Out.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{sent:N0} lines: {progress.Accepted:N0} accepted, {progress.Duplicates:N0} already in the log, {progress.Rejected:N0} rejected in {Elapsed().TotalSeconds:0.0} s ({sent / Math.Max(Elapsed().TotalSeconds, 0.001):N0} events/s)")).ConfigureAwait(false);
                foreach (var rejection in rejections.Take(10))
                {
                    var errors = string.Join("; ", rejection!["errors"]!.AsArray().Select(e => e!["path"]?.ToString() is { Length: > 0 } pointer ? $"{pointer} {e["message"]}" : $"{e["message"]}"));
                    await cli.Out.WriteLineAsync($"  line {rejection["line"]}: {errors}").ConfigureAwait(false);
                }
            }

            return progress.Rejected == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        }));
        return command;
    }

    private static async Task<JsonNode> SendBatchAsync(ApiClient client, List<string> lines, CancellationToken cancellationToken)
    {
        var content = new StringContent(string.Join('\n', lines), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson") { CharSet = "utf-8" };

        // A batch with no valid event is a 422 that still carries the rejections: an answer, not an error.
        var response = await client.SendContentAsync(HttpMethod.Post, "v1/events", content, cancellationToken, alsoAccept: System.Net.HttpStatusCode.UnprocessableEntity).ConfigureAwait(false);
        return response.Body ?? new JsonObject();
    }

    private static Command List(CliContext cli)
    {
        var account = new Option<string?>("--account") { Description = "Only this account" };
        var type = new Option<string?>("--type") { Description = "Only this event type" };
        var platform = new Option<string?>("--platform") { Description = "Only this platform" };
        var source = new Option<string?>("--source") { Description = "Only this source" };
        var since = new Option<string?>("--since") { Description = "Only events at or after this time (event time, e.g. 2026-03-02T00:00:00Z)" };
        var until = new Option<string?>("--until") { Description = "Only events before this time" };
        var limit = new Option<int?>("--limit") { Description = "At most this many (default 100, at most 1000)" };
        var after = new Option<long?>("--after") { Description = "Only events after this offset: the next page starts after the last one shown (--json: next_after)" };
        var json = CliContext.JsonOption();
        var command = new Command("list", "List events from the log, oldest first") { account, type, platform, source, since, until, limit, after, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            var path = WithQuery(
                "v1/events",
                ("account", parse.GetValue(account)),
                ("type", parse.GetValue(type)),
                ("platform", parse.GetValue(platform)),
                ("source", parse.GetValue(source)),
                ("since", parse.GetValue(since)),
                ("until", parse.GetValue(until)),
                ("limit", parse.GetValue(limit)?.ToString(CultureInfo.InvariantCulture)),
                ("after", parse.GetValue(after)?.ToString(CultureInfo.InvariantCulture)));
            using var client = cli.Client(parse);
            var items = (await client.GetAsync(path, ct).ConfigureAwait(false)).Body!;
            var exit = cli.WriteItems(
                parse.GetValue(json),
                items,
                ["OFFSET", "TIME", "PLATFORM", "TYPE", "ACCOUNT", "IP", "ID"],
                e => [e["offset"]?.ToString(), e["timestamp"]?.ToString(), e["platform"]?.ToString(), e["event_type"]?.ToString(), e["account_id"]?.ToString(), e["actor"]?["ip"]?.ToString(), e["id"]?.ToString()]);

            // The table says when there may be more; on standard error, so that the table stays just the table.
            if (!parse.GetValue(json) && items["next_after"] is { } next)
            {
                await cli.Error.WriteLineAsync($"(a full page: the next one with --after {next})").ConfigureAwait(false);
            }

            return exit;
        }));
        return command;
    }

    private static Command Replay(CliContext cli)
    {
        var since = new Option<string>("--since") { Description = "Replay events from this event time on (e.g. 2026-03-02T00:00:00Z)", Required = true };
        var until = new Option<string?>("--until") { Description = "Re-normalize only snapshots received before this time" };
        var consumers = new Option<string[]>("--consumer") { Description = "Rewind only this consumer (repeatable; default: all)" };
        var renormalize = new Option<bool>("--renormalize") { Description = "First normalize the raw snapshots received in [since, until) again (after a normalizer fix); new events join the log" };
        var reason = new Option<string?>("--reason") { Description = "Why (recorded in the audit log)" };
        var noWait = new Option<bool>("--no-wait") { Description = "Print the replay's id and exit once the server has started it (follow it with 'events replays ID')" };
        var json = CliContext.JsonOption();
        var command = new Command(
            "replay",
            "Re-feed consumers (detection) from an event time: their offsets move back and they read the log again, deduping by event id. "
            + "The server answers at once and the command follows the replay to its end, however long a re-normalization takes; "
            + "interrupting stops the following, not the replay. Exit 1 if it did not complete or left snapshots out")
        {
            since, until, consumers, renormalize, reason, noWait, json,
        };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            var body = new JsonObject { ["since"] = parse.GetValue(since), ["renormalize"] = parse.GetValue(renormalize) };
            if (parse.GetValue(until) is { } u)
            {
                body["until"] = u;
            }

            if (parse.GetValue(consumers) is { Length: > 0 } names)
            {
                body["consumers"] = new JsonArray([.. names.Select(n => (JsonNode)n)]);
            }

            if (parse.GetValue(reason) is { } r)
            {
                body["reason"] = r;
            }

            using var client = cli.Client(parse);

            // Asked to answer at once, the server says where to follow the replay, and no proxy's read timeout cuts a long
            // one short; a server that answers only at the end is waited for, however long that takes.
            var started = await client.SendAsync(HttpMethod.Post, "v1/events/replay", body, ct, wait: Timeout.InfiniteTimeSpan, prefer: "respond-async").ConfigureAwait(false);
            var result = started.Body!.AsObject();
            if (started.Status == System.Net.HttpStatusCode.Accepted && parse.GetValue(noWait))
            {
                if (parse.GetValue(json))
                {
                    cli.WriteJson(result);
                }
                else
                {
                    await cli.Out.WriteLineAsync($"{result["id"]} started: 'bulwark events replays {result["id"]}' shows how it goes").ConfigureAwait(false);
                }

                return ExitCodes.Ok;
            }

            if (started.Status == System.Net.HttpStatusCode.Accepted)
            {
                result = await FollowReplayAsync(cli, client, started.Headers.Location?.ToString() ?? $"v1/events/replays/{result["id"]}", result, ct).ConfigureAwait(false);
            }

            return await WriteReplayAsync(cli, result, parse.GetValue(json), parse.GetValue(renormalize)).ConfigureAwait(false);
        }));
        return command;
    }

    /// <summary>How long the CLI waits between two looks at a replay it follows: soon at first, then every 2 s.</summary>
    internal static readonly TimeSpan[] FollowIntervals = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)];

    /// <summary>Reads the replay at <paramref name="location"/> until it is no longer running, waiting on the command's clock.</summary>
    private static async Task<JsonObject> FollowReplayAsync(CliContext cli, ApiClient client, string location, JsonObject result, CancellationToken ct)
    {
        for (var look = 0; result["state"]?.GetValue<string>() == "running"; look++)
        {
            await Task.Delay(FollowIntervals[Math.Min(look, FollowIntervals.Length - 1)], cli.Time, ct).ConfigureAwait(false);
            result = (await client.GetAsync(location, ct).ConfigureAwait(false)).Body!.AsObject();
        }

        return result;
    }

    /// <summary>Prints a replay's outcome; exit 1 when it did not complete or left snapshots out.</summary>
    private static async Task<int> WriteReplayAsync(CliContext cli, JsonObject result, bool json, bool renormalize)
    {
        var state = result["state"]?.GetValue<string>() ?? "completed";
        var failed = result["failed"]?.GetValue<int>() ?? 0;
        var exit = failed > 0 || state != "completed" ? ExitCodes.Failed : ExitCodes.Ok;
        if (json)
        {
            cli.WriteJson(result);
            return exit;
        }

        foreach (var (name, offset) in result["rewound"]!.AsObject())
        {
            await cli.Out.WriteLineAsync($"{name}: rewound to offset {offset}").ConfigureAwait(false);
        }

        if (result["rewound"]!.AsObject().Count == 0 && state == "completed")
        {
            await cli.Out.WriteLineAsync("no consumer was past that time: nothing to rewind").ConfigureAwait(false);
        }

        if (renormalize)
        {
            await cli.Out.WriteLineAsync($"re-normalized {result["renormalized"]} snapshots: {result["appended"]} new events").ConfigureAwait(false);
        }

        if (failed > 0)
        {
            await cli.Error.WriteLineAsync($"{failed} snapshots were left out: the event log refused their events").ConfigureAwait(false);
            foreach (var failure in result["failures"]?.AsArray() ?? [])
            {
                await cli.Error.WriteLineAsync($"  {failure!["snapshot"]}: {failure["error"]}").ConfigureAwait(false);
            }
        }

        if (state == "stopped")
        {
            await cli.Error.WriteLineAsync("error: the server stopped, and the replay with it, part-way (audited as not completed): run it again once the server is back").ConfigureAwait(false);
        }
        else if (state != "completed")
        {
            await cli.Error.WriteLineAsync($"error: the replay failed part-way ({result["error"]}; audited as not completed): see the server's log").ConfigureAwait(false);
        }

        return exit;
    }

    private static Command Replays(CliContext cli)
    {
        var id = new Argument<string?>("id") { Description = "A replay's id (rpl_...); without it, the running replay and the last ones finished", Arity = ArgumentArity.ZeroOrOne };
        var json = CliContext.JsonOption();
        var command = new Command(
            "replays",
            "Show a replay, or list the running one and the last 20 finished since the server started (every finished replay is also in the audit log, as events.replay)")
        {
            id, json,
        };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var one = parse.GetValue(id);
            var answer = (await client.GetAsync(one is null ? "v1/events/replays" : $"v1/events/replays/{Uri.EscapeDataString(one)}", ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(json))
            {
                cli.WriteJson(answer);
                return ExitCodes.Ok;
            }

            var replays = one is null ? answer["items"]!.AsArray().Select(r => r!) : [answer];
            foreach (var replay in replays)
            {
                var failed = replay["failed"] is { } f ? $", {f} left out" : string.Empty;
                var until = replay["until"] is { } u ? $" until {u}" : string.Empty;
                await cli.Out.WriteLineAsync(
                    $"{replay["id"]}  {replay["state"]}  since {replay["since"]}{until}  re-normalized {replay["renormalized"] ?? 0}, {replay["appended"] ?? 0} new events{failed}  started {replay["started"]}")
                    .ConfigureAwait(false);
            }

            if (one is null && answer["items"]!.AsArray().Count == 0)
            {
                await cli.Out.WriteLineAsync("no replay since the server started").ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static int WriteEntry(CliContext cli, JsonNode entry, bool json)
    {
        if (json)
        {
            cli.WriteJson(entry);
            return ExitCodes.Ok;
        }

        Table.WritePairs(
            cli.Out,
            [
                ("id", entry["id"]?.ToString()),
                ("source", entry["source"]?.ToString()),
                ("status", entry["status"]?.ToString()),
                ("snapshot", entry["snapshot"]?.ToString()),
                ("reason", entry["reason"]?.ToString()),
                ("attempts", entry["attempts"]?.ToString()),
                ("created", entry["created_at"]?.ToString()),
                ("updated", entry["updated_at"]?.ToString()),
            ]);
        foreach (var issue in entry["issues"]?.AsArray() ?? [])
        {
            cli.Out.WriteLine($"  item {issue!["index"]}: {issue["reason"]}");
        }

        return ExitCodes.Ok;
    }

    private static string Secrets(JsonNode source) =>
        string.Join(", ", source["status"]?["secrets"]?.AsArray().Select(s => s!["ref"] + (s["resolves"]?.GetValue<bool>() == true ? string.Empty : " (does not resolve)")) ?? []);

    /// <summary>A one-line progress bar on standard error, redrawn at most ten times a second.</summary>
    /// <summary>A path with the query parameters that have a value, escaped.</summary>
    private static string WithQuery(string path, params (string Name, string? Value)[] parameters)
    {
        var query = string.Join('&', parameters.Where(p => p.Value is not null).Select(p => p.Name + "=" + Uri.EscapeDataString(p.Value!)));
        return query.Length == 0 ? path : path + "?" + query;
    }

    private sealed class PushProgress(TextWriter error, Stream file, bool showBar)
    {
        private TimeSpan? _drawn;

        public long Accepted { get; private set; }

        public long Duplicates { get; private set; }

        public long Rejected { get; private set; }

        public void Add(int accepted, int duplicates, int rejected, TimeSpan elapsed)
        {
            (Accepted, Duplicates, Rejected) = (Accepted + accepted, Duplicates + duplicates, Rejected + rejected);
            if (showBar && (_drawn is not { } last || elapsed - last >= TimeSpan.FromMilliseconds(100)))
            {
                Draw(elapsed);
            }
        }

        public void Finish(TimeSpan elapsed)
        {
            if (showBar)
            {
                Draw(elapsed);
                error.WriteLine();
            }
        }

        private void Draw(TimeSpan elapsed)
        {
            _drawn = elapsed;
            var fraction = file.Length == 0 ? 1 : Math.Clamp((double)file.Position / file.Length, 0, 1);
            var filled = (int)Math.Round(fraction * 30);
            var done = Accepted + Duplicates + Rejected;
            error.Write(string.Create(
                CultureInfo.InvariantCulture,
                $"\r[{new string('#', filled)}{new string('.', 30 - filled)}] {fraction * 100,5:0.0}%  {done:N0} events  {done / Math.Max(elapsed.TotalSeconds, 0.001):N0}/s  {Rejected:N0} rejected"));
        }
    }
}
