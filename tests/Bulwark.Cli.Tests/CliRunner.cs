using Bulwark.Cli.Commands;

namespace Bulwark.Cli.Tests;

/// <summary>Runs the <c>bulwark</c> command tree in-process with captured output and a controlled environment.</summary>
internal static class CliRunner
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(Uri? server, string? token, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var environment = new Dictionary<string, string?>
        {
            ["BULWARK_URL"] = server?.ToString(),
            ["BULWARK_TOKEN"] = token,
        };
        var exit = await BulwarkCli.RunAsync(args, output, error, name => environment.GetValueOrDefault(name));
        return (exit, output.ToString(), error.ToString());
    }
}
