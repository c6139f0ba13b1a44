using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Cli.Client;
using Bulwark.Cli.Output;

namespace Bulwark.Cli.Commands;

/// <summary><c>bulwark audit tail|verify|export</c>.</summary>
internal static class AuditCommands
{
    private const int PageSize = 1000;
    private static readonly string[] Columns = ["seq", "time", "actor", "action", "target", "before", "after", "reason", "correlation_id", "prev_hash", "hash"];

    public static Command Create(CliContext cli)
    {
        var audit = new Command("audit", "Read, verify and export the hash-chained audit log");
        audit.Subcommands.Add(Tail(cli));
        audit.Subcommands.Add(Verify(cli));
        audit.Subcommands.Add(Export(cli));
        return audit;
    }

    private static Command Tail(CliContext cli)
    {
        var count = new Option<int>("-n", "--lines") { Description = "How many of the latest entries", DefaultValueFactory = _ => 20 };
        var follow = new Option<bool>("-f", "--follow") { Description = "Keep printing new entries as they are written" };
        var json = CliContext.JsonOption();
        var command = new Command("tail", "Print the latest audit entries") { count, follow, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var head = (await client.GetAsync("v1/audit/head", ct).ConfigureAwait(false)).Body!;
            var after = Math.Max(0, head["seq"]!.GetValue<long>() - Math.Max(0, parse.GetValue(count)));
            var asJson = parse.GetValue(json);
            if (!asJson)
            {
                await cli.Out.WriteLineAsync(string.Join("  ", "SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "REASON")).ConfigureAwait(false);
            }

            do
            {
                var page = (await client.GetAsync($"v1/audit?after={after}&limit={PageSize}", ct).ConfigureAwait(false)).Body!;
                foreach (var entry in page["items"]!.AsArray())
                {
                    await cli.Out.WriteLineAsync(asJson
                        ? entry!.ToJsonString()
                        : string.Join("  ", entry!["seq"], entry["time"], entry["actor"], entry["action"], entry["target"], entry["reason"]?.ToString() ?? "-")).ConfigureAwait(false);
                }

                after = page["next_after"]!.GetValue<long>();
                if (parse.GetValue(follow) && page["items"]!.AsArray().Count == 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
                }
            }
            while (parse.GetValue(follow) && !ct.IsCancellationRequested);

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Verify(CliContext cli)
    {
        var json = CliContext.JsonOption();
        var command = new Command("verify", "Verify the hash chain; exits 0 only when it is intact") { json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var result = (await client.GetAsync("v1/audit/verify", ct).ConfigureAwait(false)).Body!;
            var ok = result["ok"]!.GetValue<bool>();
            if (parse.GetValue(json))
            {
                cli.WriteJson(result);
            }
            else if (ok)
            {
                await cli.Out.WriteLineAsync($"ok: {result["entries"]} entries, head {result["head"]}").ConfigureAwait(false);
            }
            else
            {
                await cli.Out.WriteLineAsync($"BROKEN at entry {result["first_bad_seq"]}: {result["problem"]}").ConfigureAwait(false);
            }

            return ok ? ExitCodes.Ok : ExitCodes.Failed;
        }));
        return command;
    }

    private static Command Export(CliContext cli)
    {
        var format = new Option<string>("--format") { Description = "jsonl or csv", DefaultValueFactory = _ => "jsonl" };
        format.AcceptOnlyFromAmong("jsonl", "csv");
        var output = new Option<FileInfo?>("-o", "--output") { Description = "Write to this file instead of standard output" };
        var after = new Option<long>("--after") { Description = "Only entries after this sequence number" };
        var command = new Command("export", "Export every audit entry, in order, for archiving or outside verification") { format, output, after };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var file = parse.GetValue(output);
            var writer = file is null ? cli.Out : new StreamWriter(file.FullName, append: false, new UTF8Encoding(false));
            try
            {
                var csv = parse.GetValue(format) == "csv";
                if (csv)
                {
                    await writer.WriteLineAsync(string.Join(',', Columns)).ConfigureAwait(false);
                }

                var exported = await ExportPagesAsync(client, writer, csv, parse.GetValue(after), ct).ConfigureAwait(false);
                if (file is not null)
                {
                    await cli.Error.WriteLineAsync($"exported {exported} entries to {file.FullName}").ConfigureAwait(false);
                }
            }
            finally
            {
                if (file is not null)
                {
                    await writer.DisposeAsync().ConfigureAwait(false);
                }
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static async Task<long> ExportPagesAsync(ApiClient client, TextWriter writer, bool csv, long after, CancellationToken ct)
    {
        long exported = 0;
        while (true)
        {
            var page = (await client.GetAsync($"v1/audit?after={after}&limit={PageSize}", ct).ConfigureAwait(false)).Body!;
            var items = page["items"]!.AsArray();
            foreach (var entry in items)
            {
                await writer.WriteLineAsync(csv ? CsvRow(entry!.AsObject()) : entry!.ToJsonString()).ConfigureAwait(false);
                exported++;
            }

            if (items.Count < PageSize)
            {
                return exported;
            }

            after = page["next_after"]!.GetValue<long>();
        }
    }

    private static string CsvRow(JsonObject entry) =>
        string.Join(',', Columns.Select(c => Csv(entry[c] switch
        {
            null => string.Empty,
            JsonValue value when value.GetValueKind() == System.Text.Json.JsonValueKind.String => value.GetValue<string>(),
            var node => Bulwark.Json.CanonicalJson.Serialize(node)!,
        })));

    private static string Csv(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}
