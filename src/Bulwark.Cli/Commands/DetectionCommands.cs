using System.CommandLine;
using System.Text.Json.Nodes;
using Bulwark.Cli.Output;

namespace Bulwark.Cli.Commands;

/// <summary>
/// <c>bulwark rules …</c>, <c>bulwark detectors …</c>, <c>bulwark playbooks …</c>, <c>bulwark connectors …</c>,
/// <c>bulwark incidents …</c>, <c>bulwark detections list</c>.
/// </summary>
internal static class DetectionCommands
{
    public static Command Rules(CliContext cli) => Definitions(
        cli,
        "rules",
        "List and show detection rules; declare them with apply -f (kind: Rule)",
        "List rules with their type, severity and window",
        ["NAME", "TYPE", "SEVERITY", "CONFIDENCE", "WINDOW", "DESCRIPTION"],
        r => [r["name"]?.ToString(), r["type"]?.ToString(), r["severity"]?.ToString(), r["confidence"]?.ToString(), (r["window"] ?? r["within"])?.ToString(), r["description"]?.ToString()]);

    public static Command Detectors(CliContext cli) => Definitions(
        cli,
        "detectors",
        "List and show statistical detectors; declare them with apply -f (kind: Detector)",
        "List detectors with their model, key, bucket and severity",
        ["NAME", "MODEL", "GROUP BY", "BUCKET", "SEVERITY", "DESCRIPTION"],
        d => [d["name"]?.ToString(), d["model"]?.ToString() ?? "ewma", Join(d["group_by"]), d["bucket"]?.ToString() ?? "1m", d["severity"]?.ToString(), d["description"]?.ToString()]);

    public static Command Playbooks(CliContext cli) => Definitions(
        cli,
        "playbooks",
        "List and show response playbooks; declare them with apply -f (kind: Playbook)",
        "List playbooks with their trigger, auto threshold and steps",
        ["NAME", "RULES", "MIN SEVERITY", "AUTO", "STEPS", "DESCRIPTION"],
        p => [p["name"]?.ToString(), Join(p["trigger"]?["rules"]), p["trigger"]?["min_severity"]?.ToString(), p["auto_threshold"]?.ToString() ?? "0.9", string.Join(", ", p["steps"]?.AsArray().Select(s => s?["id"]?.ToString()) ?? []), p["description"]?.ToString()]);

    public static Command Connectors(CliContext cli) => Definitions(
        cli,
        "connectors",
        "List and show connectors (platform APIs, Slack, PagerDuty, Jira, webhooks); secrets are shown as references only",
        "List connectors with their type, URL and secret reference",
        ["NAME", "TYPE", "URL", "SECRET", "DESCRIPTION"],
        c => [c["name"]?.ToString(), c["type"]?.ToString(), c["url"]?.ToString(), c["secret"]?.ToString(), c["description"]?.ToString()]);

    private static Command Definitions(
        CliContext cli, string plural, string description, string listDescription, IReadOnlyList<string> headers, Func<JsonNode, IReadOnlyList<string?>> row)
    {
        var command = new Command(plural, description);
        var json = CliContext.JsonOption();
        var list = new Command("list", listDescription) { json };
        list.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var items = (await client.GetAsync("v1/" + plural, ct).ConfigureAwait(false)).Body!;
            return cli.WriteItems(parse.GetValue(json), items, headers, row);
        }));
        command.Subcommands.Add(list);

        var name = new Argument<string>("name") { Description = "Its name" };
        var get = new Command("get", "Show one as JSON (the document, which can be PUT back)") { name };
        get.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            cli.WriteJson((await client.GetAsync($"v1/{plural}/" + Uri.EscapeDataString(parse.GetValue(name)!), ct).ConfigureAwait(false)).Body);
            return ExitCodes.Ok;
        }));
        command.Subcommands.Add(get);
        return command;
    }

    public static Command Incidents(CliContext cli)
    {
        var incidents = new Command("incidents", "Incidents: detections grouped by account, IP and campaign; list, show, resolve, roll back, list their evidence");
        var status = new Option<string?>("--status") { Description = "open, resolved or merged" };
        var severity = new Option<string?>("--severity") { Description = "low, medium, high or critical" };
        var limit = new Option<int>("--limit") { Description = "At most this many (1-1000)", DefaultValueFactory = _ => 50 };
        var json = CliContext.JsonOption();
        var list = new Command("list", "List incidents, newest first") { status, severity, limit, json };
        list.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var query = $"v1/incidents?limit={parse.GetValue(limit)}"
                + (parse.GetValue(status) is { } s ? "&status=" + Uri.EscapeDataString(s) : string.Empty)
                + (parse.GetValue(severity) is { } v ? "&severity=" + Uri.EscapeDataString(v) : string.Empty);
            var items = (await client.GetAsync(query, ct).ConfigureAwait(false)).Body!;
            return cli.WriteItems(
                parse.GetValue(json),
                items,
                ["ID", "SEVERITY", "STATUS", "KIND", "ACCOUNTS", "IPS", "FIRST EVENT", "TITLE"],
                i => [i["id"]?.ToString(), i["severity"]?.ToString(), i["status"]?.ToString(), i["kind"]?.ToString(), i["accounts"]?.AsArray().Count.ToString(System.Globalization.CultureInfo.InvariantCulture), i["ips"]?.AsArray().Count.ToString(System.Globalization.CultureInfo.InvariantCulture), i["first_event_at"]?.ToString(), i["title"]?.ToString()]);
        }));
        incidents.Subcommands.Add(list);

        var id = new Argument<string>("id") { Description = "The incident's id (inc_…)" };
        var getJson = CliContext.JsonOption();
        var get = new Command("get", "Show an incident with its timeline of detections, events and playbook runs") { id, getJson };
        get.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var incident = (await client.GetAsync("v1/incidents/" + Uri.EscapeDataString(parse.GetValue(id)!), ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(getJson))
            {
                cli.WriteJson(incident);
                return ExitCodes.Ok;
            }

            Table.WritePairs(
                cli.Out,
                [
                    ("id", incident["id"]?.ToString()),
                    ("title", incident["title"]?.ToString()),
                    ("status", incident["status"]?.ToString()),
                    ("severity", incident["severity"]?.ToString()),
                    ("confidence", incident["confidence"]?.ToString()),
                    ("kind", incident["kind"]?.ToString()),
                    ("accounts", Join(incident["accounts"])),
                    ("ips", Join(incident["ips"])),
                    ("rules", Join(incident["rules"])),
                    ("first event", incident["first_event_at"]?.ToString()),
                    ("detected at (event time)", incident["detected_event_at"]?.ToString()),
                    ("created", incident["created_at"]?.ToString()),
                ]);
            cli.Out.WriteLine();
            Table.Write(
                cli.Out,
                ["TIME", "WHAT", "DETAIL"],
                incident["timeline"]!.AsArray().Select(t => (IReadOnlyList<string?>)(t!["kind"]!.GetValue<string>() switch
                {
                    "detection" => [t["detection"]!["detected_event_at"]?.ToString(), "detection " + t["detection"]!["rule"], t["detection"]!["explanation"]?.ToString()],
                    "run" => [t["run"]!["created_at"]?.ToString(), "run " + t["run"]!["playbook"], $"{t["run"]!["id"]} {t["run"]!["status"]} {t["run"]!["reason"]}".TrimEnd()],
                    _ => [t["event"]!["timestamp"]?.ToString(), (t["matched"]!.GetValue<bool>() ? "* " : "  ") + t["event"]!["event_type"], $"{t["event"]!["account_id"]} {t["event"]!["actor"]?["ip"]} {t["event"]!["id"]}"],
                })));
            return ExitCodes.Ok;
        }));
        incidents.Subcommands.Add(get);

        var resolveId = new Argument<string>("id") { Description = "The incident's id (inc_…)" };
        var verdict = new Option<string>("--verdict") { Description = "true_positive, false_positive or benign", Required = true };
        var note = new Option<string?>("--note") { Description = "Why, for the record" };
        var resolve = new Command("resolve", "Resolve an open incident with a verdict (respond capability)") { resolveId, verdict, note };
        resolve.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var body = new JsonObject { ["verdict"] = parse.GetValue(verdict), ["note"] = parse.GetValue(note) };
            var resolved = (await client.PostAsync($"v1/incidents/{Uri.EscapeDataString(parse.GetValue(resolveId)!)}/resolve", body, ct).ConfigureAwait(false)).Body!;
            cli.Out.WriteLine($"{resolved["id"]} resolved: {resolved["resolution"]?["verdict"]}");
            return ExitCodes.Ok;
        }));
        incidents.Subcommands.Add(resolve);
        incidents.Subcommands.Add(ResponseCommands.Rollback(cli));

        var evidenceId = new Argument<string>("id") { Description = "The incident's id (inc_…)" };
        var evidenceJson = CliContext.JsonOption();
        var evidence = new Command(
            "evidence",
            "List an incident's evidence records, newest first: each a write-once snapshot of its detections, events and audit range, with its SHA-256 (GET /v1/evidence/ID for the content)")
        {
            evidenceId, evidenceJson,
        };
        evidence.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var items = (await client.GetAsync($"v1/incidents/{Uri.EscapeDataString(parse.GetValue(evidenceId)!)}/evidence?limit=1000", ct).ConfigureAwait(false)).Body!;
            return cli.WriteItems(
                parse.GetValue(evidenceJson),
                items,
                ["ID", "CREATED", "BY", "DETECTIONS", "EVENTS", "SHA256"],
                e => [e["id"]?.ToString(), e["created_at"]?.ToString(), e["created_by"]?.ToString(), e["detections"]?.ToString(), e["events"]?.ToString(), e["sha256"]?.ToString()]);
        }));
        incidents.Subcommands.Add(evidence);
        return incidents;
    }

    public static Command Detections(CliContext cli)
    {
        var detections = new Command("detections", "Detections: what rules and detectors found, each with its evidence");
        var incident = new Option<string?>("--incident") { Description = "Only this incident's" };
        var rule = new Option<string?>("--rule") { Description = "Only this rule's or detector's" };
        var limit = new Option<int>("--limit") { Description = "At most this many (1-1000)", DefaultValueFactory = _ => 50 };
        var json = CliContext.JsonOption();
        var list = new Command("list", "List detections, newest first") { incident, rule, limit, json };
        list.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var query = $"v1/detections?limit={parse.GetValue(limit)}"
                + (parse.GetValue(incident) is { } i ? "&incident=" + Uri.EscapeDataString(i) : string.Empty)
                + (parse.GetValue(rule) is { } r ? "&rule=" + Uri.EscapeDataString(r) : string.Empty);
            var items = (await client.GetAsync(query, ct).ConfigureAwait(false)).Body!;
            return cli.WriteItems(
                parse.GetValue(json),
                items,
                ["ID", "RULE", "SEVERITY", "GROUP", "EVENTS", "DETECTED AT", "INCIDENT", "EXPLANATION"],
                d => [d["id"]?.ToString(), d["rule"]?.ToString(), d["severity"]?.ToString(), d["group"]?.ToString(), d["event_count"]?.ToString(), d["detected_event_at"]?.ToString(), d["incident_id"]?.ToString(), d["explanation"]?.ToString()]);
        }));
        detections.Subcommands.Add(list);
        return detections;
    }

    private static string Join(JsonNode? list) => list is JsonArray array ? string.Join(", ", array.Select(n => n!.ToString())) : string.Empty;
}
