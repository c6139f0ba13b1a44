using Bulwark.Cli.Commands;

namespace Bulwark.Cli.Tests;

/// <summary>Runs the <c>bulwark</c> command tree in-process with captured output and a controlled environment.</summary>
internal static class CliRunner
{
    public static Task<(int Exit, string Out, string Err)> RunAsync(Uri? server, string? token, params string[] args) =>
        RunAsync(server, token, null, args);

    /// <summary>Runs with <paramref name="time"/> as the commands' clock (their pacing waits on it).</summary>
    public static async Task<(int Exit, string Out, string Err)> RunAsync(Uri? server, string? token, TimeProvider? time, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var environment = new Dictionary<string, string?>
        {
            ["BULWARK_URL"] = server?.ToString(),
            ["BULWARK_TOKEN"] = token,
        };
        var exit = await BulwarkCli.RunAsync(args, output, error, name => environment.GetValueOrDefault(name), time);
        return (exit, output.ToString(), error.ToString());
    }
}
