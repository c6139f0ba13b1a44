using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Cli.Client;
using Bulwark.Cli.Output;
using Bulwark.Manifests;

namespace Bulwark.Cli.Commands;

/// <summary><c>bulwark throttles list|get|check|tighten|relax|blocks|block|unblock</c>.</summary>
internal static class ThrottleCommands
{
    /// <summary>The rate-limit response fields <c>check</c> prints, in this order, when the server sent them.</summary>
    private static readonly string[] RateLimitHeaders = ["RateLimit-Policy", "RateLimit", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"];

    public static Command Create(CliContext cli)
    {
        var throttles = new Command("throttles", "List throttles, check keys against them, tighten them during an incident, block and unblock keys");
        throttles.Subcommands.Add(List(cli));
        throttles.Subcommands.Add(Get(cli));
        throttles.Subcommands.Add(Check(cli));
        throttles.Subcommands.Add(Tighten(cli));
        throttles.Subcommands.Add(Relax(cli));
        throttles.Subcommands.Add(Blocks(cli));
        throttles.Subcommands.Add(Block(cli));
        throttles.Subcommands.Add(Unblock(cli));
        return throttles;
    }

    private static Argument<string> NameArgument() => new("name") { Description = "The throttle's name" };

    private static string PathOf(ParseResult parse, Argument<string> name) => "v1/throttles/" + Uri.EscapeDataString(parse.GetValue(name)!);

    private static Command List(CliContext cli)
    {
        var json = CliContext.JsonOption();
        var command = new Command("list", "List throttles with their layers, shadow mode and any tightening in force") { json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var list = (await client.GetAsync("v1/throttles", ct).ConfigureAwait(false)).Body!;
            return cli.WriteItems(
                parse.GetValue(json),
                list,
                ["NAME", "LAYERS", "SHADOW", "TIGHTENED"],
                t => [t["name"]?.ToString(), string.Join("; ", t["layers"]!.AsArray().Select(Layer)), t["shadow"]?.ToString(), Tightened(t["status"]?["tightening"])]);
        }));
        return command;
    }

    private static Command Get(CliContext cli)
    {
        var name = NameArgument();
        var json = CliContext.JsonOption();
        var command = new Command("get", "Show a throttle: its policy, layers and status (--json: the document, which can be PUT back)") { name, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var throttle = (await client.GetAsync(PathOf(parse, name), ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(json))
            {
                cli.WriteJson(throttle);
                return ExitCodes.Ok;
            }

            Table.WritePairs(
                cli.Out,
                [
                    ("name", throttle["name"]?.ToString()),
                    ("description", throttle["description"]?.ToString()),
                    ("shadow", throttle["shadow"]?.ToString()),
                    ("fail mode", throttle["fail_mode"]?.ToString()),
                    ("max keys", throttle["max_keys"]?.ToString()),
                    ("escalation", Escalation(throttle["escalation"])),
                    ("tightened", Tightened(throttle["status"]?["tightening"])),
                    ("version", throttle["status"]?["version"]?.ToString()),
                    ("updated", throttle["status"]?["updated_at"]?.ToString()),
                ]);
            await cli.Out.WriteLineAsync().ConfigureAwait(false);
            Table.Write(
                cli.Out,
                ["LAYER", "KEY", "LIMIT", "PER", "BURST"],
                throttle["layers"]!.AsArray().Select(l => (IReadOnlyList<string?>)[l!["name"]?.ToString(), l["key"]?.ToString(), l["limit"]?.ToString(), l["per"]?.ToString(), l["burst"]?.ToString()]));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Check(CliContext cli)
    {
        var name = NameArgument();
        var keys = new Option<string[]>("--key")
        {
            Description = "A key of the request as NAME=VALUE, e.g. ip=203.0.113.7 or user=alice (repeatable; a layer whose key is missing does not apply)",
        };
        var cost = new Option<long?>("--cost") { Description = "Units the request uses up (default 1)" };
        var json = CliContext.JsonOption();
        var command = new Command(
            "check",
            "Ask a throttle for a decision, as an application does, and print it with its rate-limit headers. " +
            $"Counts against the limits. Exit code {ExitCodes.Ok}: allow, {ExitCodes.Challenge}: challenge, {ExitCodes.Block}: block")
        {
            name, keys, cost, json,
        };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            var body = new JsonObject { ["keys"] = KeysOf(parse.GetValue(keys) ?? []) };
            if (parse.GetValue(cost) is { } units)
            {
                body["cost"] = units;
            }

            using var client = cli.Client(parse);

            // A challenge or a block is a 429 problem that carries the decision: an answer, not an error.
            var response = await client.SendAsync(HttpMethod.Post, PathOf(parse, name) + "/check", body, ct, alsoAccept: HttpStatusCode.TooManyRequests).ConfigureAwait(false);
            var decision = response.Body?["decision"]?.ToString();
            if (decision is null)
            {
                throw new ApiException(response.Status, response.Body as JsonObject, "Too Many Requests");
            }

            if (parse.GetValue(json))
            {
                cli.WriteJson(response.Body);
            }
            else
            {
                await WriteDecisionAsync(cli.Out, response).ConfigureAwait(false);
            }

            return decision switch
            {
                "allow" => ExitCodes.Ok,
                "challenge" => ExitCodes.Challenge,
                _ => ExitCodes.Block,
            };
        }));
        return command;
    }

    private static Command Tighten(CliContext cli)
    {
        var name = NameArgument();
        var factor = new Option<double>("--factor") { Description = "Divide the limits (and bursts) by this, above 1", Required = true };
        var ttl = new Option<string>("--ttl") { Description = "How long until it lapses by itself: 30m, 2h, up to 7d", Required = true };
        var layers = new Option<string[]>("--layer") { Description = "Tighten only this layer (repeatable; default: every layer)" };
        var reason = new Option<string>("--reason") { Description = "Why (required; recorded in the audit log)", Required = true };
        var json = CliContext.JsonOption();
        var command = new Command("tighten", "Divide a throttle's limits for a while during an incident (responder or admin; replaces a tightening in force)")
        {
            name, factor, ttl, layers, reason, json,
        };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            var body = new JsonObject { ["factor"] = parse.GetValue(factor), ["ttl"] = parse.GetValue(ttl), ["reason"] = parse.GetValue(reason) };
            if (parse.GetValue(layers) is { Length: > 0 } only)
            {
                body["layers"] = new JsonArray([.. only.Select(l => (JsonNode)l)]);
            }

            using var client = cli.Client(parse);
            var throttle = (await client.PostAsync(PathOf(parse, name) + "/tighten", body, ct).ConfigureAwait(false)).Body!;
            return await WriteThrottleAsync(cli, parse.GetValue(json), throttle, "tightened: " + Tightened(throttle["status"]?["tightening"])).ConfigureAwait(false);
        }));
        return command;
    }

    private static Command Relax(CliContext cli)
    {
        var name = NameArgument();
        var json = CliContext.JsonOption();
        var command = new Command("relax", "End a tightening now: the policy's limits apply again (responder or admin)") { name, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var throttle = (await client.DeleteAsync(PathOf(parse, name) + "/tighten", ct).ConfigureAwait(false)).Body!;
            return await WriteThrottleAsync(cli, parse.GetValue(json), throttle, "relaxed: the policy's limits apply").ConfigureAwait(false);
        }));
        return command;
    }

    private static Command Blocks(CliContext cli)
    {
        var name = NameArgument();
        var unblock = new Option<string?>("--unblock") { Description = "Lift the block of this key (as listed: an address, a subnet like 2001:db8::/64, a user) and forget its denials (responder or admin)" };
        var layer = new Option<string?>("--layer") { Description = "With --unblock: only in this layer (default: every layer)" };
        var json = CliContext.JsonOption();
        var command = new Command("blocks", "List the keys a throttle blocks: manual blocks (stored), then those blocked after repeated denials (on the server answering); --unblock lifts one")
        {
            name, unblock, layer, json,
        };
        command.Validators.Add(result =>
        {
            if (result.GetResult(layer) is not null && result.GetResult(unblock) is null)
            {
                result.AddError("--layer only goes with --unblock KEY");
            }
        });
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            if (parse.GetValue(unblock) is { } key)
            {
                var only = parse.GetValue(layer);
                await client.DeleteAsync($"{PathOf(parse, name)}/blocks/{Uri.EscapeDataString(key)}" + (only is null ? string.Empty : "?layer=" + Uri.EscapeDataString(only)), ct).ConfigureAwait(false);
                await cli.Out.WriteLineAsync($"{parse.GetValue(name)}: unblocked {key}" + (only is null ? string.Empty : $" in layer {only}")).ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            var blocks = (await client.GetAsync(PathOf(parse, name) + "/blocks", ct).ConfigureAwait(false)).Body!;
            return cli.WriteItems(
                parse.GetValue(json),
                blocks,
                ["KIND", "LAYER", "KEY", "UNTIL", "DENIALS", "BY", "REASON"],
                b => [b["kind"]?.ToString(), b["layer"]?.ToString(), b["key"]?.ToString(), b["until"]?.ToString(), b["denials"]?.ToString(), b["by"]?.ToString(), b["reason"]?.ToString()]);
        }));
        return command;
    }

    private static Argument<string> KeyArgument() =>
        new("key") { Description = "The key's value as checks carry it: an account or user id, an address, or a network as 203.0.113.0/24 or 2001:db8::/64" };

    private static string BlockPath(ParseResult parse, Argument<string> name, Argument<string> key) =>
        $"{PathOf(parse, name)}/blocks/{Uri.EscapeDataString(parse.GetValue(key)!)}";

    private static Command Block(CliContext cli)
    {
        var name = NameArgument();
        var key = KeyArgument();
        var duration = new Option<string?>("--for") { Description = "How long: 30m, 2h, up to 30d (default 24h); a longer block in force is kept" };
        var reason = new Option<string>("--reason") { Description = "Why (required; recorded with the block and in the audit log)", Required = true };
        var json = CliContext.JsonOption();
        var command = new Command(
            "block",
            "Block a key of a throttle for a while: every check carrying it is denied, whatever the limits and even in shadow mode (responder or admin; stored, so it outlives a restart)")
        {
            name, key, duration, reason, json,
        };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            var body = new JsonObject { ["reason"] = parse.GetValue(reason) };
            if (parse.GetValue(duration) is { } given)
            {
                body["for"] = given;
            }

            using var client = cli.Client(parse);
            var block = (await client.PutAsync(BlockPath(parse, name, key), body, ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(json))
            {
                cli.WriteJson(block);
                return ExitCodes.Ok;
            }

            var previous = block["previous_until"] is { } until ? $" (was blocked until {until})" : string.Empty;
            await cli.Out.WriteLineAsync($"{parse.GetValue(name)}: {block["key"]} blocked until {block["until"]}{previous}").ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Unblock(CliContext cli)
    {
        var name = NameArgument();
        var key = KeyArgument();
        var layer = new Option<string?>("--layer") { Description = "Only the escalation block of this layer (default: the manual block and every layer's)" };
        var command = new Command("unblock", "Lift the blocks of a key: its manual block and its escalation blocks, forgetting its denials (responder or admin; exit 1 with 404 when nothing was blocked)")
        {
            name, key, layer,
        };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            var only = parse.GetValue(layer);
            using var client = cli.Client(parse);
            await client.DeleteAsync(BlockPath(parse, name, key) + (only is null ? string.Empty : "?layer=" + Uri.EscapeDataString(only)), ct).ConfigureAwait(false);
            await cli.Out.WriteLineAsync($"{parse.GetValue(name)}: unblocked {parse.GetValue(key)}" + (only is null ? string.Empty : $" in layer {only}")).ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>Reads <c>--key NAME=VALUE</c> options; the value may hold '=' (only the first one splits).</summary>
    private static JsonObject KeysOf(IEnumerable<string> options)
    {
        var keys = new JsonObject();
        foreach (var option in options)
        {
            var split = option.IndexOf('=', StringComparison.Ordinal);
            if (split <= 0)
            {
                throw new UsageException($"--key '{option}' is not NAME=VALUE; give one like ip=203.0.113.7 or user=alice");
            }

            if (!keys.TryAdd(option[..split], option[(split + 1)..]))
            {
                throw new UsageException($"--key {option[..split]} is given twice");
            }
        }

        return keys;
    }

    private static async Task WriteDecisionAsync(TextWriter output, ApiResponse response)
    {
        var body = response.Body!;
        var layer = body["layer"]?.ToString();
        var window = body["window_seconds"]?.GetValue<long>() ?? 0;
        Table.Write(
            output,
            ["DECISION", "REASON", "LAYER", "LIMIT", "REMAINING", "RESET", "RETRY AFTER"],
            [[
                body["decision"]?.ToString(),
                body["reason"]?.ToString(),
                layer,
                layer is null || window <= 0 ? null : $"{body["limit"]}/{Durations.Format(TimeSpan.FromSeconds(window))}",
                layer is null ? null : body["remaining"]?.ToString(),
                layer is null ? null : Delay(body["reset_after_ms"]),
                Delay(body["retry_after_ms"]),
            ]]);
        if (body["shadow"]?.GetValue<bool>() == true)
        {
            await output.WriteLineAsync($"shadow: the throttle would have answered {body["shadow_decision"]}; it only records that").ConfigureAwait(false);
        }

        await output.WriteLineAsync().ConfigureAwait(false);
        foreach (var header in RateLimitHeaders)
        {
            if (response.Headers.TryGetValues(header, out var values))
            {
                await output.WriteLineAsync($"{header}: {string.Join(", ", values)}").ConfigureAwait(false);
            }
        }
    }

    private static async Task<int> WriteThrottleAsync(CliContext cli, bool json, JsonNode throttle, string what)
    {
        if (json)
        {
            cli.WriteJson(throttle);
        }
        else
        {
            await cli.Out.WriteLineAsync($"{throttle["name"]} {what}").ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }

    /// <summary>A layer as <c>ip 10/1m</c>, <c>ip-daily (ip) 100/1d</c>, <c>user 5/1h burst 2</c>: name, key when other, rate, burst when other than the limit.</summary>
    private static string Layer(JsonNode? layer)
    {
        var name = layer!["name"]!.ToString();
        var key = layer["key"]!.ToString();
        var limit = layer["limit"]!.ToString();
        var burst = layer["burst"]?.ToString() ?? limit;
        return (name == key ? name : $"{name} ({key})") + $" {limit}/{layer["per"]}" + (burst == limit ? string.Empty : $" burst {burst}");
    }

    /// <summary>A tightening in force as <c>5x on ip until T by NAME: reason</c>, or <c>-</c>.</summary>
    private static string Tightened(JsonNode? tightening)
    {
        if (tightening is null)
        {
            return "-";
        }

        var factor = tightening["factor"]!.GetValue<double>().ToString(CultureInfo.InvariantCulture);
        var layers = tightening["layers"] is JsonArray only ? " on " + string.Join(", ", only.Select(l => l!.ToString())) : string.Empty;
        var reason = tightening["reason"] is { } text ? $": {text}" : string.Empty;
        return $"{factor}x{layers} until {tightening["until"]} by {tightening["by"]}{reason}";
    }

    private static string? Escalation(JsonNode? escalation)
    {
        if (escalation is null)
        {
            return null;
        }

        var steps = new List<string>();
        if (escalation["challenge_after"] is { } challenge)
        {
            steps.Add($"challenge after {challenge}");
        }

        if (escalation["block_after"] is { } block)
        {
            steps.Add($"block for {escalation["block_for"]} after {block}");
        }

        return $"{string.Join(", ", steps)} denials within {escalation["window"]}";
    }

    /// <summary>A delay in whole seconds, rounded up as the headers do: <c>35s</c>, <c>1h</c>.</summary>
    private static string? Delay(JsonNode? milliseconds) => milliseconds?.GetValue<long>() switch
    {
        null => null,
        <= 0 => "0s",
        { } ms => Durations.Format(TimeSpan.FromSeconds(Math.Ceiling(ms / 1000d))),
    };
}
