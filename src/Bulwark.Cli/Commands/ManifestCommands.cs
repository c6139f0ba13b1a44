using System.CommandLine;
using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Cli.Client;
using Bulwark.Cli.Manifests;
using Bulwark.Cli.Output;
using Bulwark.Json;
using Bulwark.Manifests;

namespace Bulwark.Cli.Commands;

/// <summary><c>bulwark validate|diff|apply -f PATH</c>: manifests kept in git, checked offline, compared and applied.</summary>
internal static class ManifestCommands
{
    public static Command Validate(CliContext cli)
    {
        var path = PathOption();
        var json = CliContext.JsonOption();
        var command = new Command("validate", "Check manifests offline; prints every problem with file and line") { path, json };
        command.SetAction(parse =>
        {
            var valid = Load(parse.GetValue(path)!, out var problems);
            if (parse.GetValue(json))
            {
                cli.WriteJson(new JsonObject
                {
                    ["ok"] = problems.Count == 0,
                    ["manifests"] = valid.Count,
                    ["problems"] = new JsonArray([.. problems.Select(p => (JsonNode)new JsonObject { ["file"] = p.Source, ["line"] = p.Line, ["path"] = p.Path, ["message"] = p.Message })]),
                });
            }
            else
            {
                Report(cli, problems);
                if (problems.Count == 0)
                {
                    cli.Out.WriteLine($"ok: {valid.Count} manifests");
                }
            }

            return problems.Count == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    public static Command Diff(CliContext cli)
    {
        var path = PathOption();
        var command = new Command("diff", "Show what apply would change on the server; exits 1 when there are differences") { path };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            if (!TryLoadValid(cli, parse.GetValue(path)!, out var valid))
            {
                return ExitCodes.Failed;
            }

            using var client = cli.Client(parse);
            var differences = 0;
            foreach (var manifest in valid)
            {
                var desired = manifest.Kind.ToDocument(manifest.Definition);
                var live = await client.SendAsync(HttpMethod.Get, ObjectPath(manifest), null, ct, alsoAccept: HttpStatusCode.NotFound).ConfigureAwait(false);
                var current = live.Status == HttpStatusCode.NotFound ? null : live.Body;

                // Read-only status (a flag's state) is not declared in manifests, so it is not a difference.
                current?.AsObject().Remove("status");
                if (CanonicalJson.AreEqual(current, desired))
                {
                    continue;
                }

                differences++;
                await cli.Out.WriteLineAsync($"--- {Label(manifest)} (server){(current is null ? " absent" : string.Empty)}").ConfigureAwait(false);
                await cli.Out.WriteLineAsync($"+++ {Label(manifest)} ({manifest.Document.Source}:{manifest.Document.Line})").ConfigureAwait(false);
                foreach (var line in LineDiff.Unified(Lines(current), Lines(desired)))
                {
                    await cli.Out.WriteLineAsync(line).ConfigureAwait(false);
                }
            }

            if (differences == 0)
            {
                await cli.Out.WriteLineAsync($"no differences ({valid.Count} manifests)").ConfigureAwait(false);
            }

            return differences == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        }));
        return command;
    }

    public static Command Apply(CliContext cli)
    {
        var path = PathOption();
        var reason = new Option<string?>("--reason") { Description = "Why; recorded in every audit entry the apply writes" };
        var json = CliContext.JsonOption();
        var command = new Command("apply", "Apply manifests to the server (idempotent: unchanged objects are left alone)") { path, reason, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            if (!TryLoadValid(cli, parse.GetValue(path)!, out var valid))
            {
                return ExitCodes.Failed;
            }

            using var client = cli.Client(parse);
            var results = new JsonArray();
            foreach (var manifest in valid)
            {
                string outcome;
                try
                {
                    var response = await client.SendAsync(HttpMethod.Put, ObjectPath(manifest), manifest.Kind.ToDocument(manifest.Definition), ct, reason: parse.GetValue(reason)).ConfigureAwait(false);
                    outcome = response.Headers.TryGetValues("Bulwark-Outcome", out var values) ? values.First() : "applied";
                }
                catch (ApiException error) when (error.Errors.Count > 0)
                {
                    Report(cli, [.. error.Errors.Select(e => new ManifestProblem(manifest.Document.Source, manifest.Document.LineOf(e.Path), e.Path, e.Message))]);
                    return ExitCodes.Failed;
                }

                results.Add(new JsonObject { ["kind"] = manifest.Kind.Kind, ["name"] = manifest.Name, ["outcome"] = outcome });
                if (!parse.GetValue(json))
                {
                    await cli.Out.WriteLineAsync($"{Label(manifest)} {outcome}").ConfigureAwait(false);
                }
            }

            if (parse.GetValue(json))
            {
                cli.WriteJson(results);
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Option<string> PathOption() =>
        new("-f", "--filename") { Description = "A manifest file, or a directory of *.yaml, *.yml and *.json files", Required = true };

    private static IReadOnlyList<ValidManifest> Load(string path, out IReadOnlyList<ManifestProblem> problems)
    {
        var found = new List<ManifestProblem>();
        var documents = YamlManifestReader.ReadPath(path, found);
        var valid = ManifestSet.Validate(documents, out var invalid);
        found.AddRange(invalid);
        problems = [.. found.OrderBy(p => p.Source, StringComparer.Ordinal).ThenBy(p => p.Line)];
        return problems.Count == 0 ? valid : [];
    }

    /// <summary>Loads and validates; on any problem, reports every one and returns false (nothing may be sent).</summary>
    private static bool TryLoadValid(CliContext cli, string path, out IReadOnlyList<ValidManifest> valid)
    {
        valid = Load(path, out var problems);
        Report(cli, problems);
        return problems.Count == 0;
    }

    private static void Report(CliContext cli, IEnumerable<ManifestProblem> problems)
    {
        foreach (var problem in problems)
        {
            cli.Error.WriteLine("error: " + problem);
        }
    }

    private static string ObjectPath(ValidManifest manifest) => $"v1/{manifest.Kind.Plural}/{Uri.EscapeDataString(manifest.Name)}";

    private static string Label(ValidManifest manifest) => $"{manifest.Kind.Kind}/{manifest.Name}";

    private static string[] Lines(JsonNode? document) =>
        document is null ? [] : JsonNode.Parse(CanonicalJson.Serialize(document)!)!.ToJsonString(CliContext.PrettyJson).Split('\n');
}
