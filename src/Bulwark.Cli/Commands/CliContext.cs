using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Cli.Client;
using Bulwark.Cli.Output;

namespace Bulwark.Cli.Commands;

/// <summary>Exit codes shared by every command (documented in <c>docs/cli.md</c>).</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>What was checked failed: invalid manifests, a broken audit chain, a refused call, differences found by diff.</summary>
    public const int Failed = 1;

    /// <summary>The command line itself is wrong.</summary>
    public const int Usage = 2;

    /// <summary>The server could not be reached.</summary>
    public const int Unreachable = 3;

    /// <summary><c>throttles check</c>: the throttle asks for a challenge (CAPTCHA, second factor) before going on.</summary>
    public const int Challenge = 4;

    /// <summary><c>throttles check</c>: the throttle blocks the request.</summary>
    public const int Block = 5;
}

/// <summary>Where commands write, and the options every client command shares.</summary>
internal sealed class CliContext(TextWriter output, TextWriter error, Func<string, string?> environment)
{
    public const string DefaultServer = "http://127.0.0.1:5380";

    public static readonly JsonSerializerOptions PrettyJson = new() { WriteIndented = true };

    public TextWriter Out { get; } = output;

    public TextWriter Error { get; } = error;

    public Func<string, string?> Environment { get; } = environment;

    /// <summary>
    /// The clock commands pace and time themselves by (<c>events push --rate</c>, how long a request waits), or a test's.
    /// </summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    public Option<string?> Server { get; } = new("--server")
    {
        Description = $"Server URL (default: $BULWARK_URL, else {DefaultServer})",
        Recursive = true,
    };

    public Option<string?> Token { get; } = new("--token")
    {
        Description = "Bearer token (default: $BULWARK_TOKEN)",
        Recursive = true,
    };

    public static Option<bool> JsonOption() => new("--json") { Description = "Print JSON for scripts instead of a table" };

    public ApiClient Client(ParseResult parse)
    {
        var server = parse.GetValue(Server) ?? Environment("BULWARK_URL") ?? DefaultServer;
        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new UsageException($"'{server}' is not a server URL; give one like {DefaultServer}");
        }

        return ApiClient.Create(uri, parse.GetValue(Token) ?? Environment("BULWARK_TOKEN"), Time);
    }

    public void WriteJson(JsonNode? node) => Out.WriteLine(node?.ToJsonString(PrettyJson) ?? "null");

    /// <summary>Prints a list answer (<c>{"items": [...]}</c>): as it came with <c>--json</c>, else a table of its items.</summary>
    public int WriteItems(bool json, JsonNode list, IReadOnlyList<string> headers, Func<JsonNode, IReadOnlyList<string?>> row)
    {
        if (json)
        {
            WriteJson(list);
        }
        else
        {
            Table.Write(Out, headers, list["items"]!.AsArray().Select(item => row(item!)));
        }

        return ExitCodes.Ok;
    }

    /// <summary>Runs a client command, turning server errors into messages and exit codes.</summary>
    public async Task<int> RunAsync(Func<Task<int>> command)
    {
        try
        {
            return await command().ConfigureAwait(false);
        }
        catch (UsageException error)
        {
            await Error.WriteLineAsync("error: " + error.Message).ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (ServerUnreachableException error)
        {
            await Error.WriteLineAsync("error: " + error.Message).ConfigureAwait(false);
            return ExitCodes.Unreachable;
        }
        catch (ApiException error)
        {
            await Error.WriteLineAsync("error: " + error.Message).ConfigureAwait(false);
            foreach (var (path, message) in error.Errors)
            {
                await Error.WriteLineAsync($"  {path}: {message}").ConfigureAwait(false);
            }

            return ExitCodes.Failed;
        }
    }
}

/// <summary>A command line that cannot work (exit code 2), found after parsing.</summary>
internal sealed class UsageException : Exception
{
    public UsageException(string message)
        : base(message)
    {
    }

    public UsageException()
    {
    }

    public UsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
