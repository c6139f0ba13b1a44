using System.CommandLine;
using Bulwark.Cli.Manifests;
using Bulwark.Manifests;
using Bulwark.Server.Hosting;
using Bulwark.Server.Manifests;
using Bulwark.Storage;
using Bulwark.Storage.Sqlite;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bulwark.Cli.Commands;

/// <summary><c>bulwark serve</c>: the service on the embedded SQLite store.</summary>
internal static class ServeCommand
{
    public const string DefaultUrl = "http://127.0.0.1:5380";
    public const string DefaultDataDirectory = ".bulwark";

    public static Command Create(CliContext cli)
    {
        var data = new Option<string>("--data") { Description = "Data directory (the SQLite file lives here)", DefaultValueFactory = _ => DefaultDataDirectory };
        var urls = new Option<string>("--urls") { Description = "Where to listen", DefaultValueFactory = _ => DefaultUrl };
        var manifests = new Option<string?>("--manifests") { Description = "Apply the manifests in this directory at start" };
        var demo = new Option<bool>("--demo") { Description = "Apply the example manifests (examples/manifests) and print where to look" };
        var command = new Command("serve", "Run the Bulwark service (embedded SQLite store)") { data, urls, manifests, demo };
        command.SetAction((parse, ct) => RunAsync(cli, parse.GetValue(data)!, parse.GetValue(urls)!, parse.GetValue(manifests), parse.GetValue(demo), ct));
        return command;
    }

    /// <summary>Composes the server over SQLite; the same composition serves the CLI and the tests' process-level runs.</summary>
    public static WebApplication Build(string dataDirectory, string urls, Action<IServiceCollection>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls(urls);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.IncludeScopes = true);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services
            .AddBulwarkServer(o =>
            {
                o.BootstrapToken = Environment.GetEnvironmentVariable("BULWARK_BOOTSTRAP_TOKEN") is { Length: > 0 } token ? token : null;
                o.AdminTokenFile = Path.Combine(dataDirectory, "admin-token");
            })
            .UseSqlite(dataDirectory);
        configure?.Invoke(builder.Services);
        return builder.Build();
    }

    private static async Task<int> RunAsync(CliContext cli, string dataDirectory, string urls, string? manifestDirectory, bool demo, CancellationToken ct)
    {
        var problems = new List<ManifestProblem>();
        var documents = new List<ManifestDocument>();
        if (demo)
        {
            documents.AddRange(DemoManifests.Read(problems));
        }

        if (manifestDirectory is not null)
        {
            documents.AddRange(YamlManifestReader.ReadPath(manifestDirectory, problems));
        }

        if (problems.Count > 0)
        {
            foreach (var problem in problems)
            {
                await cli.Error.WriteLineAsync("error: " + problem).ConfigureAwait(false);
            }

            return ExitCodes.Failed;
        }

        await using var app = Build(dataDirectory, urls);
        app.UseBulwark();
        BulwarkStartup startup;
        try
        {
            startup = await app.PrepareBulwarkAsync(documents, ct).ConfigureAwait(false);
        }
        catch (ManifestValidationException error)
        {
            await cli.Error.WriteLineAsync("error: " + error.Message).ConfigureAwait(false);
            return ExitCodes.Failed;
        }

        await app.StartAsync(ct).ConfigureAwait(false);
        await PrintBannerAsync(cli, dataDirectory, string.Join(", ", app.Urls), startup, demo).ConfigureAwait(false);
        await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    private static async Task PrintBannerAsync(CliContext cli, string dataDirectory, string urls, BulwarkStartup startup, bool demo)
    {
        var output = cli.Out;
        var first = urls.Split(", ")[0];
        await output.WriteLineAsync($"Bulwark is listening on {urls}").ConfigureAwait(false);
        await output.WriteLineAsync($"  state:    {Path.GetFullPath(Path.Combine(dataDirectory, SqliteStoreOptions.FileName))}").ConfigureAwait(false);
        if (startup.GeneratedAdminToken is not null)
        {
            await output.WriteLineAsync($"  admin token (shown once; also saved to {startup.AdminTokenFile}):").ConfigureAwait(false);
            await output.WriteLineAsync($"    {startup.GeneratedAdminToken}").ConfigureAwait(false);
        }
        else if (startup.Bootstrapped)
        {
            await output.WriteLineAsync("  admin identity created with the token from BULWARK_BOOTSTRAP_TOKEN").ConfigureAwait(false);
        }

        foreach (var applied in startup.AppliedManifests)
        {
            await output.WriteLineAsync($"  manifest {applied.Kind}/{applied.Name}: {applied.Outcome}").ConfigureAwait(false);
        }

        if (demo)
        {
            var tokenFile = Path.Combine(dataDirectory, "admin-token");
            await output.WriteLineAsync().ConfigureAwait(false);
            await output.WriteLineAsync("Try:").ConfigureAwait(false);
            await output.WriteLineAsync($"  export BULWARK_URL={first} BULWARK_TOKEN=$(cat {tokenFile})").ConfigureAwait(false);
            await output.WriteLineAsync("  curl -s -H \"Authorization: Bearer $BULWARK_TOKEN\" $BULWARK_URL/v1/identities").ConfigureAwait(false);
            var command = File.Exists(Path.Combine("src", "Bulwark.Cli", "Bulwark.Cli.csproj")) ? "dotnet run --project src/Bulwark.Cli --" : "bulwark";
            await output.WriteLineAsync($"  {command} audit tail        # who changed what, hash-chained").ConfigureAwait(false);
            await output.WriteLineAsync($"  {command} audit verify").ConfigureAwait(false);
            await output.WriteLineAsync($"  {command} token create --name erin --role operator").ConfigureAwait(false);
            await output.WriteLineAsync($"  {first}/metrics  {first}/openapi/v1.json  {first}/readyz").ConfigureAwait(false);
        }

        await output.WriteLineAsync("Press Ctrl+C to stop.").ConfigureAwait(false);
    }
}

/// <summary>Composition of the SQLite store into the server.</summary>
internal static class SqliteHosting
{
    public static BulwarkServerBuilder UseSqlite(this BulwarkServerBuilder builder, string dataDirectory) =>
        builder
            .UseStore(sp => new SqliteControlStore(
                new SqliteStoreOptions { DataDirectory = dataDirectory, Instruments = sp.GetRequiredService<StoreInstruments>() },
                sp.GetRequiredService<TimeProvider>()))
            .UseEventStore(sp => new Bulwark.Storage.Sqlite.Ingest.SqliteEventStore(
                Path.Combine(dataDirectory, Bulwark.Storage.Sqlite.Ingest.SqliteEventStoreOptions.FileName), sp.GetRequiredService<TimeProvider>()));
}

/// <summary>The example manifests, embedded so that <c>--demo</c> works from any directory.</summary>
internal static class DemoManifests
{
    public static IReadOnlyList<ManifestDocument> Read(List<ManifestProblem> problems)
    {
        var assembly = typeof(DemoManifests).Assembly;
        var documents = new List<ManifestDocument>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("demo/", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            documents.AddRange(YamlManifestReader.ReadText("examples/manifests/" + name["demo/".Length..], reader.ReadToEnd(), problems));
        }

        return documents;
    }
}
