using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Bulwark.Cli.Commands;

/// <summary><c>bulwark flags list|get|set-state|kill|history</c> and <c>bulwark changes list|approve|reject</c>.</summary>
internal static class FlagCommands
{
    public static Command Flags(CliContext cli)
    {
        var flags = new Command("flags", "List flags, change their state, hit the kill switch");
        flags.Subcommands.Add(List(cli));
        flags.Subcommands.Add(Get(cli));
        flags.Subcommands.Add(SetState(cli));
        flags.Subcommands.Add(Kill(cli));
        flags.Subcommands.Add(History(cli));
        return flags;
    }

    public static Command Changes(CliContext cli)
    {
        var changes = new Command("changes", "State changes waiting for a second person");
        changes.Subcommands.Add(ListChanges(cli));
        changes.Subcommands.Add(Decide(cli, "approve", "Approve a pending change (a different identity than the requester)"));
        changes.Subcommands.Add(Decide(cli, "reject", "Reject a pending change, or withdraw your own"));
        return changes;
    }

    private static Argument<string> KeyArgument() => new("key") { Description = "The flag key" };

    private static Command List(CliContext cli)
    {
        var json = CliContext.JsonOption();
        var archived = new Option<bool>("--archived") { Description = "Include archived flags" };
        var stale = new Option<bool>("--stale") { Description = "Only stale flags: past their expiry, or GLOBAL and unchanged for 30 days" };
        var command = new Command("list", "List flags with their state") { json, archived, stale };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var query = string.Join('&', new[] { parse.GetValue(archived) ? "archived=true" : null, parse.GetValue(stale) ? "stale=true" : null }.OfType<string>());
            var list = (await client.GetAsync("v1/flags" + (query.Length > 0 ? "?" + query : string.Empty), ct).ConfigureAwait(false)).Body!;
            return cli.WriteItems(
                parse.GetValue(json),
                list,
                ["KEY", "TYPE", "STATE", "PERCENT", "OWNER", "UPDATED", "STALE"],
                f => [f["key"]?.ToString(), f["type"]?.ToString(), f["status"]!["state"]?.ToString(), Percent(f), f["owner"]?.ToString(), f["status"]!["updated_at"]?.ToString(), f["status"]!["stale"]?.ToString()]);
        }));
        return command;
    }

    private static Command Get(CliContext cli)
    {
        var key = KeyArgument();
        var command = new Command("get", "Show a flag (definition and status) as JSON") { key };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            cli.WriteJson((await client.GetAsync("v1/flags/" + Uri.EscapeDataString(parse.GetValue(key)!), ct).ConfigureAwait(false)).Body);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command SetState(CliContext cli)
    {
        var key = KeyArgument();
        var state = new Argument<string>("state") { Description = "OFF, CANARY, GRADUAL, GLOBAL or EMERGENCY_OFF" };
        state.AcceptOnlyFromAmong("OFF", "CANARY", "GRADUAL", "GLOBAL", "EMERGENCY_OFF");
        var percentage = new Option<double?>("--percentage", "-p") { Description = "For CANARY and GRADUAL: 0 to 100 in 0.001 steps" };
        var reason = new Option<string?>("--reason") { Description = "Why (required for EMERGENCY_OFF and break glass)" };
        var breakGlass = new Option<bool>("--break-glass") { Description = "Admin only: leave EMERGENCY_OFF without a second person (audited)" };
        var json = CliContext.JsonOption();
        var command = new Command("set-state", "Change a flag's state; prints the change id when it needs a second person") { key, state, percentage, reason, breakGlass, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            var body = new JsonObject { ["state"] = parse.GetValue(state) };
            if (parse.GetValue(percentage) is { } p)
            {
                body["percentage"] = p;
            }

            if (parse.GetValue(reason) is { } text)
            {
                body["reason"] = text;
            }

            if (parse.GetValue(breakGlass))
            {
                body["break_glass"] = true;
            }

            using var client = cli.Client(parse);
            var response = await client.PostAsync($"v1/flags/{Uri.EscapeDataString(parse.GetValue(key)!)}/state", body, ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                cli.WriteJson(response.Body);
            }
            else if (response.Status == System.Net.HttpStatusCode.Accepted)
            {
                await cli.Out.WriteLineAsync($"pending approval: change {response.Body!["change_id"]} (a second person runs 'bulwark changes approve {response.Body["change_id"]}')").ConfigureAwait(false);
            }
            else
            {
                await cli.Out.WriteLineAsync($"{parse.GetValue(key)} is now {response.Body!["status"]!["state"]}{PercentSuffix(response.Body)}").ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Kill(CliContext cli)
    {
        var key = KeyArgument();
        var reason = new Option<string>("--reason") { Description = "Why (required; recorded in the audit log)", Required = true };
        var command = new Command("kill", "EMERGENCY_OFF at once: overrides every rule, cohort and override") { key, reason };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var response = await client.PostAsync($"v1/flags/{Uri.EscapeDataString(parse.GetValue(key)!)}/kill", new JsonObject { ["reason"] = parse.GetValue(reason) }, ct).ConfigureAwait(false);
            await cli.Out.WriteLineAsync($"{parse.GetValue(key)} is now {response.Body!["status"]!["state"]}").ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command History(CliContext cli)
    {
        var key = KeyArgument();
        var json = CliContext.JsonOption();
        var command = new Command("history", "The flag's audit trail: definition changes, state changes, approvals") { key, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var history = (await client.GetAsync($"v1/flags/{Uri.EscapeDataString(parse.GetValue(key)!)}/history", ct).ConfigureAwait(false)).Body!;
            return cli.WriteItems(
                parse.GetValue(json),
                history,
                ["SEQ", "TIME", "ACTOR", "ACTION", "STATE", "REASON"],
                e => [e["seq"]?.ToString(), e["time"]?.ToString(), e["actor"]?.ToString(), e["action"]?.ToString(), e["after"]?["status"]?["state"]?.ToString() ?? e["after"]?["status"]?.ToString(), e["reason"]?.ToString()]);
        }));
        return command;
    }

    private static Command ListChanges(CliContext cli)
    {
        var status = new Option<string?>("--status") { Description = "pending (default), approved, rejected, expired, superseded or all" };
        var json = CliContext.JsonOption();
        var command = new Command("list", "List state changes") { status, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var wanted = parse.GetValue(status) ?? "pending";
            var list = (await client.GetAsync("v1/changes" + (wanted == "all" ? string.Empty : "?status=" + Uri.EscapeDataString(wanted)), ct).ConfigureAwait(false)).Body!;
            return cli.WriteItems(
                parse.GetValue(json),
                list,
                ["ID", "FLAG", "FROM", "TO", "REQUESTED BY", "STATUS", "EXPIRES", "REASON"],
                c => [c["id"]?.ToString(), c["flag"]?.ToString(), c["from"]!["state"]?.ToString(), c["to"]!["state"]?.ToString(), c["requested_by"]?.ToString(), c["status"]?.ToString(), c["expires_at"]?.ToString(), c["reason"]?.ToString()]);
        }));
        return command;
    }

    private static Command Decide(CliContext cli, string verb, string description)
    {
        var id = new Argument<string>("id") { Description = "The change id (ch_...)" };
        var command = new Command(verb, description) { id };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var response = (await client.PostAsync($"v1/changes/{Uri.EscapeDataString(parse.GetValue(id)!)}/{verb}", new JsonObject(), ct).ConfigureAwait(false)).Body!;
            var flag = response["flag"];
            await cli.Out.WriteLineAsync($"change {parse.GetValue(id)} {response["change"]!["status"]}" + (flag is null ? string.Empty : $"; {flag["key"]} is now {flag["status"]!["state"]}")).ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static string Percent(JsonNode? flag) =>
        flag?["status"]?["state"]?.ToString() is "CANARY" or "GRADUAL"
            ? flag["status"]!["percentage"]!.GetValue<double>().ToString(CultureInfo.InvariantCulture) + "%"
            : "-";

    private static string PercentSuffix(JsonNode flag) => Percent(flag) is "-" ? string.Empty : $" ({Percent(flag)})";
}
