using System.CommandLine;
using System.Text.Json.Nodes;
using Bulwark.Cli.Output;
using Bulwark.MassActions;

namespace Bulwark.Cli.Commands;

/// <summary><c>bulwark mass-actions list|get|halt|resume|approve</c>.</summary>
internal static class MassActionCommands
{
    public static Command Create(CliContext cli)
    {
        var actions = new Command("mass-actions", "Guarded bulk jobs: list them, halt one at once, resume it with a second person");
        actions.Subcommands.Add(List(cli));
        actions.Subcommands.Add(Get(cli));
        actions.Subcommands.Add(Halt(cli));
        actions.Subcommands.Add(Resume(cli));
        actions.Subcommands.Add(Approve(cli));
        return actions;
    }

    private static Argument<string> IdArgument() => new("id") { Description = "The mass action's id (ma_...) or name" };

    private static string PathOf(ParseResult parse, Argument<string> id, string? verb = null) =>
        $"v1/mass-actions/{Uri.EscapeDataString(parse.GetValue(id)!)}" + (verb is null ? string.Empty : "/" + verb);

    private static Command List(CliContext cli)
    {
        var json = CliContext.JsonOption();
        var state = new Option<string?>("--state") { Description = "Only actions in this state: " + string.Join(", ", MassActionNames.States.Keys) };
        state.AcceptOnlyFromAmong([.. MassActionNames.States.Keys]);
        var command = new Command("list", "List mass actions, newest first, with their state and progress") { json, state };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var query = parse.GetValue(state) is { } wanted ? "?state=" + Uri.EscapeDataString(wanted) : string.Empty;
            var list = (await client.GetAsync("v1/mass-actions" + query, ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(json))
            {
                cli.WriteJson(list);
                return ExitCodes.Ok;
            }

            Table.Write(
                cli.Out,
                ["ID", "NAME", "ACTION", "FLAG", "STATE", "GRANTED", "SUCCEEDED", "FAILED", "AUDIENCE", "CREATED BY"],
                list["items"]!.AsArray().Select(a => (IReadOnlyList<string?>)
                [
                    a!["status"]!["id"]?.ToString(), a["name"]?.ToString(), a["action"]?.ToString(), a["flag"]?.ToString(), a["status"]!["state"]?.ToString(),
                    a["status"]!["granted"]?.ToString(), a["status"]!["succeeded"]?.ToString(), a["status"]!["failed"]?.ToString(), a["audience_size"]?.ToString(),
                    a["status"]!["created_by"]?.ToString(),
                ]));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Get(CliContext cli)
    {
        var id = IdArgument();
        var json = CliContext.JsonOption();
        var command = new Command("get", "Show one mass action: its declaration, state, halt, pending approval and counters") { id, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var action = (await client.GetAsync(PathOf(parse, id), ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(json))
            {
                cli.WriteJson(action);
                return ExitCodes.Ok;
            }

            var status = action["status"]!;
            var rows = new List<IReadOnlyList<string?>>
            {
                new[] { "id", status["id"]?.ToString() },
                new[] { "name", action["name"]?.ToString() },
                new[] { "action", action["action"]?.ToString() },
                new[] { "state", status["state"]?.ToString() },
                new[] { "flag", action["flag"]?.ToString() },
                new[] { "throttle", action["throttle"]?.ToString() },
                new[] { "max_per_minute", action["max_per_minute"]?.ToString() },
                new[] { "audience", $"{action["audience_size"]} ({status["granted"]} granted, {status["remaining"]} remaining)" },
                new[] { "results", $"{status["succeeded"]} succeeded, {status["failed"]} failed" },
                new[] { "errors", status["errors"]!.AsObject().Count == 0 ? null : string.Join(", ", status["errors"]!.AsObject().Select(e => $"{e.Key}={e.Value}")) },
                new[] { "breaker", $"{status["breaker"]!["failed"]} of {status["breaker"]!["results"]} failed since start or resume; halts above {action["breaker"]!["max_failure_ratio"]} after {action["breaker"]!["min_samples"]}" },
                new[] { "workers", action["workers"]!.AsArray().Count == 0 ? "(operators)" : string.Join(", ", action["workers"]!.AsArray()) },
                new[] { "created", $"{status["created_at"]} by {status["created_by"]}" },
            };
            if (status["approval"] is { } approval)
            {
                rows.Add(["waiting for", $"a second person to approve the {approval["kind"]} requested by {approval["requested_by"]} at {approval["requested_at"]}"]);
            }

            if (status["halt"] is { } halt)
            {
                rows.Add(["last halt", $"{halt["cause"]} by {halt["by"]} at {halt["at"]}: {halt["reason"]}"]);
            }

            Table.Write(cli.Out, ["FIELD", "VALUE"], rows);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Halt(CliContext cli)
    {
        var id = IdArgument();
        var reason = new Option<string>("--reason") { Description = "Why (required; recorded in the audit log)", Required = true };
        var json = CliContext.JsonOption();
        var command = new Command("halt", "Halt a mass action at once: no permit is granted after this returns (responder or operator)") { id, reason, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var action = (await client.PostAsync(PathOf(parse, id, "halt"), new JsonObject { ["reason"] = parse.GetValue(reason) }, ct).ConfigureAwait(false)).Body!;
            return Print(cli, parse, json, action, $"{Label(action)} is now {action["status"]!["state"]}; resuming needs a second person");
        }));
        return command;
    }

    private static Command Resume(CliContext cli)
    {
        var id = IdArgument();
        var reason = new Option<string>("--reason") { Description = "Why it is safe to go on (required)", Required = true };
        var json = CliContext.JsonOption();
        var command = new Command("resume", "Ask to resume a halted mass action; a second person approves it") { id, reason, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var response = (await client.PostAsync(PathOf(parse, id, "resume"), new JsonObject { ["reason"] = parse.GetValue(reason) }, ct).ConfigureAwait(false)).Body!;
            var action = response["mass_action"]!;
            return Print(cli, parse, json, response, $"resume of {Label(action)} requested: a second person runs 'bulwark mass-actions approve {action["status"]!["id"]}'");
        }));
        return command;
    }

    private static Command Approve(CliContext cli)
    {
        var id = IdArgument();
        var json = CliContext.JsonOption();
        var command = new Command("approve", "Approve a mass action's pending start or resume (a different identity than the one who asked)") { id, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var action = (await client.PostAsync(PathOf(parse, id, "approve"), new JsonObject(), ct).ConfigureAwait(false)).Body!;
            return Print(cli, parse, json, action, $"{Label(action)} is now {action["status"]!["state"]} (approved by {action["status"]!["approved_by"]})");
        }));
        return command;
    }

    private static string Label(JsonNode action) => $"{action["name"]} ({action["status"]!["id"]})";

    private static int Print(CliContext cli, ParseResult parse, Option<bool> json, JsonNode document, string line)
    {
        if (parse.GetValue(json))
        {
            cli.WriteJson(document);
        }
        else
        {
            cli.Out.WriteLine(line);
        }

        return ExitCodes.Ok;
    }
}
