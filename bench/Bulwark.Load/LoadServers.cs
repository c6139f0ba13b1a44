using System.Diagnostics;
using System.Text.RegularExpressions;
using Bulwark.Server.Hosting;
using Bulwark.Storage;
using Bulwark.Storage.Sqlite;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

/// <summary>A Bulwark server under load, and where to reach it.</summary>
internal interface ILoadServer : IAsyncDisposable
{
    Uri BaseAddress { get; }

    /// <summary>The server process's CPU time so far (zero when it is this process).</summary>
    TimeSpan ProcessorTime { get; }
}

/// <summary>The server hosted in this process.</summary>
internal sealed class InProcessServer(WebApplication app) : ILoadServer
{
    public Uri BaseAddress { get; } = new(app.Urls.First());

    public TimeSpan ProcessorTime => TimeSpan.Zero;

    public static async Task<ILoadServer> StartAsync(string data, string token)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddBulwarkServer(o => o.BootstrapToken = token)
            .UseStore(sp => new SqliteControlStore(
                new SqliteStoreOptions { DataDirectory = data, Instruments = sp.GetRequiredService<StoreInstruments>() }, TimeProvider.System))
            .UseEventStore(_ => new Bulwark.Storage.Sqlite.Ingest.SqliteEventStore(
                Path.Combine(data, Bulwark.Storage.Sqlite.Ingest.SqliteEventStoreOptions.FileName), TimeProvider.System));
        var app = builder.Build();
        app.UseBulwark();
        await app.PrepareBulwarkAsync([]);
        await app.StartAsync();
        return new InProcessServer(app);
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

/// <summary>
/// The real <c>bulwark serve</c> (the built <c>bulwark.dll</c> beside this tool), or another host of the server that
/// announces itself the same way, as a child process.
/// </summary>
internal sealed partial class ServerProcess(Process process, Uri baseAddress) : ILoadServer
{
    public Uri BaseAddress { get; } = baseAddress;

    public TimeSpan ProcessorTime
    {
        get
        {
            process.Refresh();
            return process.TotalProcessorTime;
        }
    }

    public static Task<ILoadServer> StartAsync(string data, string token) =>
        StartAsync(
            [Path.Combine(AppContext.BaseDirectory, "bulwark.dll"), "serve", "--data", data, "--urls", "http://127.0.0.1:0"],
            new Dictionary<string, string> { ["BULWARK_BOOTSTRAP_TOKEN"] = token });

    /// <summary>
    /// Runs <c>dotnet</c> with <paramref name="arguments"/> and waits until the server prints the lines
    /// <c>bulwark serve</c> prints when it is ready: <c>Bulwark is listening on URL</c>, then <c>Press Ctrl+C</c>.
    /// </summary>
    public static async Task<ILoadServer> StartAsync(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in arguments)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        Uri? address = null;
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            if (ListeningLine().Match(line) is { Success: true } match)
            {
                address = new Uri(match.Groups[1].Value.TrimEnd('/') + "/");
            }
            else if (line.StartsWith("Press Ctrl+C", StringComparison.Ordinal) && address is not null)
            {
                // Keep draining its output so that the server never blocks on a full pipe.
                _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
                return new ServerProcess(process, address);
            }
        }

        throw new InvalidOperationException("the server process exited before it was ready");
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    [GeneratedRegex(@"^Bulwark is listening on (http://[^ ,]+)")]
    private static partial Regex ListeningLine();
}
