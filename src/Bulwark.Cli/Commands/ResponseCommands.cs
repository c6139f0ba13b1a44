using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Cli.Output;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark runs list|get|start|approvals|approve|deny</c> (playbook runs and the questions they ask) and
/// <c>bulwark incidents rollback</c>.
/// </summary>
internal static class ResponseCommands
{
    public static Command Runs(CliContext cli)
    {
        var runs = new Command("runs", "Playbook runs: list, show, and answer the approvals they wait for");

        var incident = new Option<string?>("--incident") { Description = "Only this incident's runs" };
        var status = new Option<string?>("--status") { Description = "waiting_approval, running, succeeded, failed, denied, rolling_back, rolled_back or rollback_failed" };
        var limit = new Option<int>("--limit") { Description = "At most this many (1-1000)", DefaultValueFactory = _ => 50 };
        var json = CliContext.JsonOption();
        var list = new Command("list", "List runs, newest first") { incident, status, limit, json };
        list.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var query = $"v1/runs?limit={parse.GetValue(limit)}"
                + (parse.GetValue(incident) is { } i ? "&incident=" + Uri.EscapeDataString(i) : string.Empty)
                + (parse.GetValue(status) is { } s ? "&status=" + Uri.EscapeDataString(s) : string.Empty);
            var items = (await client.GetAsync(query, ct).ConfigureAwait(false)).Body!;
            return cli.WriteItems(
                parse.GetValue(json),
                items,
                ["ID", "PLAYBOOK", "INCIDENT", "STATUS", "STEPS", "DRY RUN", "CREATED", "REASON"],
                r => [r["id"]?.ToString(), r["playbook"]?.ToString(), r["incident_id"]?.ToString(), r["status"]?.ToString(), StepsDone(r), r["dry_run"]?.ToString(), r["created_at"]?.ToString(), r["reason"]?.ToString()]);
        }));
        runs.Subcommands.Add(list);

        var id = new Argument<string>("id") { Description = "The run's id (run_…)" };
        var getJson = CliContext.JsonOption();
        var get = new Command("get", "Show a run: its status, each step, each call and its compensation") { id, getJson };
        get.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var run = (await client.GetAsync("v1/runs/" + Uri.EscapeDataString(parse.GetValue(id)!), ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(getJson))
            {
                cli.WriteJson(run);
                return ExitCodes.Ok;
            }

            Table.WritePairs(
                cli.Out,
                [
                    ("id", run["id"]?.ToString()),
                    ("playbook", run["playbook"]?.ToString()),
                    ("incident", run["incident_id"]?.ToString()),
                    ("status", run["status"]?.ToString()),
                    ("reason", run["reason"]?.ToString()),
                    ("confidence", run["confidence"]?.ToString()),
                    ("dry run", run["dry_run"]?.ToString()),
                    ("approval", run["approval_id"]?.ToString()),
                    ("rollback", run["rollback"] is JsonObject rollback ? $"asked by {rollback["requested_by"]} at {rollback["requested_at"]}" : null),
                    ("created", run["created_at"]?.ToString()),
                    ("updated", run["updated_at"]?.ToString()),
                ]);
            cli.Out.WriteLine();
            Table.Write(
                cli.Out,
                ["STEP", "STATUS", "CALLS", "COMPENSATIONS", "APPROVAL", "REASON"],
                run["steps"]!.AsArray().Select(s => (IReadOnlyList<string?>)
                [
                    s!["id"]?.ToString(), s["status"]?.ToString(), Calls(s["targets"]), Calls(s["compensations"]), s["approval_id"]?.ToString(), s["reason"]?.ToString(),
                ]));
            return ExitCodes.Ok;
        }));
        runs.Subcommands.Add(get);

        var approvalStatus = new Option<string?>("--status") { Description = "pending, escalated, approved, denied, expired or cancelled" };
        var approvalRun = new Option<string?>("--run") { Description = "Only this run's" };
        var approvalsJson = CliContext.JsonOption();
        var approvals = new Command("approvals", "List the approvals runs ask for, newest first") { approvalStatus, approvalRun, approvalsJson };
        approvals.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var query = "v1/approvals?limit=100"
                + (parse.GetValue(approvalStatus) is { } s ? "&status=" + Uri.EscapeDataString(s) : string.Empty)
                + (parse.GetValue(approvalRun) is { } r ? "&run=" + Uri.EscapeDataString(r) : string.Empty);
            var items = (await client.GetAsync(query, ct).ConfigureAwait(false)).Body!;
            return cli.WriteItems(
                parse.GetValue(approvalsJson),
                items,
                ["ID", "RUN", "STEP", "STATUS", "ROLES", "EXPIRES", "ANSWERED BY", "QUESTION"],
                a => [a["id"]?.ToString(), a["run_id"]?.ToString(), a["step_id"]?.ToString() ?? "(run)", a["status"]?.ToString(), Join(a["roles"]), a["expires_at"]?.ToString(), a["answered_by"]?.ToString(), a["question"]?.ToString()]);
        }));
        runs.Subcommands.Add(approvals);

        var startIncident = new Option<string>("--incident") { Description = "The incident (inc_…)", Required = true };
        var startPlaybook = new Option<string>("--playbook") { Description = "The playbook to run, whatever its trigger", Required = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "Record what it would call and call nothing; ask nobody (a drill)" };
        var start = new Command("start", "Start a run of a playbook for an incident (respond capability): a drill with --dry-run, or a real run, which passes the same approval gates") { startIncident, startPlaybook, dryRun };
        start.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var body = new JsonObject { ["playbook"] = parse.GetValue(startPlaybook), ["dry_run"] = parse.GetValue(dryRun) };
            var run = (await client.PostAsync($"v1/incidents/{Uri.EscapeDataString(parse.GetValue(startIncident)!)}/runs", body, ct).ConfigureAwait(false)).Body!;
            cli.Out.WriteLine($"{run["id"]} {run["status"]}{(run["dry_run"]!.GetValue<bool>() ? " (dry run)" : string.Empty)}: playbook {run["playbook"]}, incident {run["incident_id"]}");
            return ExitCodes.Ok;
        }));
        runs.Subcommands.Add(start);

        runs.Subcommands.Add(Answer(cli, approve: true));
        runs.Subcommands.Add(Answer(cli, approve: false));
        return runs;
    }

    /// <summary><c>runs approve|deny ID</c>: ID is an approval (<c>apr_…</c>), or a run whose one open question is answered.</summary>
    private static Command Answer(CliContext cli, bool approve)
    {
        var verb = approve ? "approve" : "deny";
        var id = new Argument<string>("id") { Description = "An approval id (apr_…), or a run id (run_…) to answer the question it waits for" };
        var step = new Option<string?>("--step") { Description = "With a run id: the step whose question to answer, when several wait" };
        var note = new Option<string?>("--note") { Description = "Why, recorded with the answer" };
        var command = new Command(verb, approve
            ? "Approve what a run waits for (the approval's roles, or admin); the run goes on"
            : "Deny what a run waits for (the approval's roles, or admin); the run or step does not run") { id, step, note };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var approvalId = await ResolveApprovalAsync(client, parse.GetValue(id)!, parse.GetValue(step), ct).ConfigureAwait(false);
            var answered = (await client.PostAsync($"v1/approvals/{Uri.EscapeDataString(approvalId)}/{verb}", new JsonObject { ["note"] = parse.GetValue(note) }, ct).ConfigureAwait(false)).Body!;
            cli.Out.WriteLine($"{answered["id"]} {answered["status"]} by {answered["answered_by"]}: run {answered["run_id"]}{(answered["step_id"] is { } s ? ", step " + s : string.Empty)}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static async Task<string> ResolveApprovalAsync(Client.ApiClient client, string id, string? step, CancellationToken cancellationToken)
    {
        if (id.StartsWith("apr_", StringComparison.Ordinal))
        {
            return id;
        }

        var open = new List<JsonNode>();
        foreach (var status in new[] { "pending", "escalated" })
        {
            var page = (await client.GetAsync($"v1/approvals?status={status}&run={Uri.EscapeDataString(id)}&limit=1000", cancellationToken).ConfigureAwait(false)).Body!;
            open.AddRange(page["items"]!.AsArray().Select(a => a!));
        }

        var matching = open.Where(a => step is null || a["step_id"]?.ToString() == step).ToList();
        return matching.Count switch
        {
            1 => matching[0]["id"]!.ToString(),
            0 => throw new UsageException(step is null ? $"Run '{id}' waits for no approval." : $"Step '{step}' of run '{id}' waits for no approval."),
            _ => throw new UsageException($"Run '{id}' waits for {matching.Count} approvals ({string.Join(", ", matching.Select(a => a["step_id"]?.ToString() ?? "the run"))}): name one with --step, or give its apr_ id."),
        };
    }

    /// <summary><c>incidents rollback ID</c>.</summary>
    public static Command Rollback(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = "The incident's id (inc_…)" };
        var reason = new Option<string?>("--reason") { Description = "Why, recorded in the audit log" };
        var wait = new Option<bool>("--wait") { Description = "Wait until every run has rolled back (or failed to), and show how each ended" };
        var json = CliContext.JsonOption();
        var command = new Command("rollback", "Undo what the incident's playbook runs did: skip what has not run, compensate the rest in reverse order (respond capability; asking twice changes nothing)") { id, reason, wait, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var incident = Uri.EscapeDataString(parse.GetValue(id)!);
            var result = (await client.PostAsync($"v1/incidents/{incident}/rollback", new JsonObject { ["reason"] = parse.GetValue(reason) }, ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(wait))
            {
                foreach (var run in result["runs"]!.AsArray())
                {
                    var runId = run!["run_id"]!.ToString();
                    JsonNode current;
                    while ((current = (await client.GetAsync("v1/runs/" + Uri.EscapeDataString(runId), ct).ConfigureAwait(false)).Body!)["status"]!.ToString() is "rolling_back" or "running" or "waiting_approval")
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(250), ct).ConfigureAwait(false); // another process: poll its API
                    }

                    run["status"] = current["status"]!.ToString();
                }
            }

            if (parse.GetValue(json))
            {
                cli.WriteJson(result);
                return ExitCodes.Ok;
            }

            Table.Write(
                cli.Out,
                ["RUN", "PLAYBOOK", "STATUS", "OUTCOME"],
                result["runs"]!.AsArray().Select(r => (IReadOnlyList<string?>)[r!["run_id"]?.ToString(), r["playbook"]?.ToString(), r["status"]?.ToString(), r["outcome"]?.ToString()]));
            return result["runs"]!.AsArray().Any(r => r!["status"]?.ToString() == "rollback_failed") ? ExitCodes.Failed : ExitCodes.Ok;
        }));
        return command;
    }

    private static string StepsDone(JsonNode run)
    {
        var steps = run["steps"]?.AsArray() ?? [];
        var done = steps.Count(s => s!["status"]?.ToString() is "succeeded" or "compensated" or "skipped");
        return string.Create(CultureInfo.InvariantCulture, $"{done}/{steps.Count}");
    }

    private static string? Calls(JsonNode? calls)
    {
        if (calls is not JsonArray array || array.Count == 0)
        {
            return null;
        }

        var byStatus = array.GroupBy(c => c!["status"]!.ToString()).Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Count()} {g.Key}"));
        return string.Join(", ", byStatus);
    }

    private static string Join(JsonNode? list) => list is JsonArray array ? string.Join(", ", array.Select(n => n!.ToString())) : string.Empty;
}
