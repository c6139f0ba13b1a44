using System.CommandLine;

namespace Bulwark.Cli.Commands;

/// <summary>The <c>bulwark</c> command tree: <c>serve</c> plus client commands.</summary>
internal static class BulwarkCli
{
    public static RootCommand CreateRoot(CliContext cli)
    {
        var root = new RootCommand("Bulwark: kill switches, throttles, detection and audited response for platforms that change user state at scale.");
        root.Options.Add(cli.Server);
        root.Options.Add(cli.Token);
        root.Subcommands.Add(ServeCommand.Create(cli));
        root.Subcommands.Add(TokenCommands.Create(cli));
        root.Subcommands.Add(TokenCommands.WhoAmI(cli));
        root.Subcommands.Add(AuditCommands.Create(cli));
        root.Subcommands.Add(FlagCommands.Flags(cli));
        root.Subcommands.Add(FlagCommands.Changes(cli));
        root.Subcommands.Add(ThrottleCommands.Create(cli));
        root.Subcommands.Add(MassActionCommands.Create(cli));
        root.Subcommands.Add(IngestCommands.Sources(cli));
        root.Subcommands.Add(IngestCommands.Events(cli));
        root.Subcommands.Add(IngestCommands.Quarantine(cli));
        root.Subcommands.Add(IngestCommands.Raw(cli));
        root.Subcommands.Add(DetectionCommands.Rules(cli));
        root.Subcommands.Add(DetectionCommands.Detectors(cli));
        root.Subcommands.Add(DetectionCommands.Playbooks(cli));
        root.Subcommands.Add(DetectionCommands.Connectors(cli));
        root.Subcommands.Add(DetectionCommands.Incidents(cli));
        root.Subcommands.Add(DetectionCommands.Detections(cli));
        root.Subcommands.Add(ResponseCommands.Runs(cli));
        root.Subcommands.Add(EvalCommands.Create(cli));
        root.Subcommands.Add(ManifestCommands.Validate(cli));
        root.Subcommands.Add(ManifestCommands.Diff(cli));
        root.Subcommands.Add(ManifestCommands.Apply(cli));
        return root;
    }

    /// <summary>
    /// A parse error without .NET's type names: "Cannot parse argument 'abc' for option '--limit' as expected type
    /// 'System.Nullable`1[System.Int32]'" becomes "'abc' is not a whole number (--limit)".
    /// </summary>
    internal static string Readable(string message)
    {
        var match = System.Text.RegularExpressions.Regex.Match(
            message, "^Cannot parse argument '(?<value>.*)' for (option|argument) '(?<name>[^']+)' as expected type '(?<type>[^']+)'\\.?$");
        if (!match.Success)
        {
            return message;
        }

        var type = match.Groups["type"].Value;
        var what = type.Contains("Int", StringComparison.Ordinal) ? "a whole number"
            : type.Contains("Double", StringComparison.Ordinal) || type.Contains("Decimal", StringComparison.Ordinal) ? "a number"
            : type.Contains("Boolean", StringComparison.Ordinal) ? "true or false"
            : type.Contains("TimeSpan", StringComparison.Ordinal) ? "a duration"
            : "a value it takes";
        return $"'{match.Groups["value"].Value}' is not {what} ({match.Groups["name"].Value})";
    }

    public static async Task<int> RunAsync(
        string[] args, TextWriter output, TextWriter error, Func<string, string?> environment, TimeProvider? time = null)
    {
        var cli = new CliContext(output, error, environment) { Time = time ?? TimeProvider.System };
        var parse = CreateRoot(cli).Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var problem in parse.Errors)
            {
                await error.WriteLineAsync("error: " + Readable(problem.Message)).ConfigureAwait(false);
            }

            await error.WriteLineAsync("Run 'bulwark --help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        return await parse.InvokeAsync(new InvocationConfiguration
        {
            Output = output,
            Error = error,

            // The host handles SIGINT/SIGTERM itself and drains in-flight requests (up to its shutdown timeout);
            // System.CommandLine's own handler would end the process after 2 s.
            ProcessTerminationTimeout = null,
        }).ConfigureAwait(false);
    }
}
