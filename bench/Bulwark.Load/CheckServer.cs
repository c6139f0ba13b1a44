using Bulwark.Identity;
using Bulwark.Server.Hosting;
using Bulwark.Storage;
using Bulwark.Storage.Sqlite;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

/// <summary>
/// The server that <c>check</c>, <c>webhooks</c> and <c>events</c> load: Bulwark composed as <c>bulwark serve</c> composes it (SQLite store, every
/// middleware, console logging at the same levels), plus two endpoints that exist only here and never in the product:
/// <c>POST /bench/bare</c>, which answers a constant 200 through the same pipeline as <c>/v1/throttles/{name}/check</c>
/// (metrics, correlation id, error handling, routing, bearer authentication with the same <c>read</c> capability, body
/// limits, idempotency), and <c>GET /bench/jit</c> (anonymous), the number of methods the server's runtime has
/// compiled, so that the load tool can wait until tiered compilation has settled before it measures. The ingest
/// measurements (<c>webhooks</c>, <c>events</c>) load the same host, with the endpoints of
/// <see cref="IngestBenchEndpoints"/> besides.
/// </summary>
internal static class CheckServer
{
    /// <summary>The first argument that makes this tool host the server instead of loading it.</summary>
    public const string Command = "check-server";

    public const string BarePath = "/bench/bare";

    public const string JitPath = "/bench/jit";

    private const string TokenVariable = "BULWARK_BOOTSTRAP_TOKEN";

    /// <summary>
    /// Starts the server in a child process (this tool's assembly with <see cref="Command"/>, with the server garbage
    /// collector as <c>bulwark serve</c> has it), or inside this process.
    /// </summary>
    /// <param name="environment">
    /// More of the server's environment (a webhook source's secret): the child process's, or this process's when the
    /// server runs inside it.
    /// </param>
    public static async Task<ILoadServer> StartAsync(string data, string token, bool inProcess, IReadOnlyDictionary<string, string>? environment = null)
    {
        environment ??= new Dictionary<string, string>();
        if (inProcess)
        {
            foreach (var (name, value) in environment)
            {
                Environment.SetEnvironmentVariable(name, value);
            }

            return new InProcessServer(await StartAppAsync(data, token));
        }

        return await ServerProcess.StartAsync(
            [typeof(CheckServer).Assembly.Location, Command, "--data", data],
            new Dictionary<string, string>(environment) { [TokenVariable] = token, ["DOTNET_gcServer"] = "1", ["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = SpinLimit });
    }

    // As bulwark's runtime config has it (src/Bulwark.Cli/Bulwark.Cli.csproj), unless the tool's environment says otherwise.
    private static string SpinLimit => Environment.GetEnvironmentVariable("DOTNET_ThreadPool_UnfairSemaphoreSpinLimit") ?? "0";

    /// <summary>Hosts the server in this process until it is stopped, announcing it as <c>bulwark serve</c> does.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var data = args.SkipWhile(a => a != "--data").Skip(1).FirstOrDefault()
            ?? throw new ArgumentException("usage: check-server --data DIR (the admin token in " + TokenVariable + ")");
        await using var app = await StartAppAsync(data, Environment.GetEnvironmentVariable(TokenVariable)
            ?? throw new ArgumentException(TokenVariable + " is not set"));
        Console.WriteLine($"Bulwark is listening on {string.Join(", ", app.Urls)}");
        Console.WriteLine("Press Ctrl+C to stop.");
        await app.WaitForShutdownAsync();
        return 0;
    }

    private static async Task<WebApplication> StartAppAsync(string data, string token)
    {
        // As ServeCommand.Build composes `bulwark serve`: that method is internal to the CLI, and the product is not
        // changed for a benchmark, so the composition is repeated here; keep the two in step.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.IncludeScopes = true);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services
            .AddBulwarkServer(o => o.BootstrapToken = token)
            .UseStore(sp => new SqliteControlStore(
                new SqliteStoreOptions { DataDirectory = data, Instruments = sp.GetRequiredService<StoreInstruments>() },
                sp.GetRequiredService<TimeProvider>()))
            .UseEventStore(sp => NormalizerGate.Wrap(new Bulwark.Storage.Sqlite.Ingest.SqliteEventStore(
                Path.Combine(data, Bulwark.Storage.Sqlite.Ingest.SqliteEventStoreOptions.FileName), sp.GetRequiredService<TimeProvider>())));
        var app = builder.Build();
        app.UseBulwark();
        app.MapPost(BarePath, () => TypedResults.Ok(BareAnswer.Instance)).WithMetadata(RequiresCapability(Capability.Read));
        app.MapGet(JitPath, () => System.Runtime.JitInfo.GetCompiledMethodCount()).AllowAnonymous();
        app.MapIngestBenchEndpoints();
        await app.PrepareBulwarkAsync([]);
        await app.StartAsync();
        return app;
    }

    /// <summary>
    /// The endpoint metadata that <c>.RequireCapability(...)</c> attaches. The extension and its metadata record are
    /// internal to the server, and the product's routes are not to be changed for a benchmark, so the record is made
    /// by reflection: the authentication middleware then treats the bare endpoint exactly as it treats the check.
    /// </summary>
    private static object RequiresCapability(Capability capability) =>
        Activator.CreateInstance(
            typeof(BulwarkServerExtensions).Assembly.GetType("Bulwark.Server.Security.RequiresCapability", throwOnError: true)!,
            capability)!;

    /// <summary>The bare endpoint's constant answer: <c>{"decision":"allow"}</c>.</summary>
    internal sealed record BareAnswer(string Decision)
    {
        public static BareAnswer Instance { get; } = new("allow");
    }
}
