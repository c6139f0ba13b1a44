using System.Net.Http.Headers;
using Bulwark.Identity;
using Bulwark.Manifests;
using Bulwark.Server.Hosting;
using Bulwark.Storage;
using Bulwark.Storage.Sqlite;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bulwark.TestUtils;

/// <summary>
/// The real server on Kestrel at 127.0.0.1 (a free port), over a SQLite file in a temp directory, composed exactly as
/// <c>bulwark serve</c> composes it; optionally on a fake clock.
/// </summary>
public sealed class BulwarkTestServer : IAsyncDisposable
{
    public const string AdminToken = "bwk_test-admin-token-0123456789abcdef";

    private readonly WebApplication _app;
    private readonly TempDirectory? _ownedDirectory;

    private BulwarkTestServer(WebApplication app, string dataDirectory, TempDirectory? ownedDirectory, BulwarkStartup startup)
    {
        _app = app;
        DataDirectory = dataDirectory;
        _ownedDirectory = ownedDirectory;
        Startup = startup;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.TrimEnd('/') + "/");
    }

    public Uri BaseAddress { get; }

    public string DataDirectory { get; }

    public string DatabasePath => Path.Combine(DataDirectory, SqliteStoreOptions.FileName);

    public BulwarkStartup Startup { get; }

    public IServiceProvider Services => _app.Services;

    public IControlStore Store => Services.GetRequiredService<IControlStore>();

    /// <summary>Starts a server. Without <paramref name="dataDirectory"/> it gets a temp directory deleted on dispose.</summary>
    public static async Task<BulwarkTestServer> StartAsync(
        string? dataDirectory = null,
        TimeProvider? time = null,
        Action<BulwarkServerOptions>? configure = null,
        IEnumerable<ManifestDocument>? manifests = null,
        string? bootstrapToken = AdminToken,
        Action<WebApplication>? mapExtraEndpoints = null,
        string urls = "http://127.0.0.1:0",
        Action<IServiceCollection>? services = null)
    {
        var owned = dataDirectory is null ? new TempDirectory() : null;
        var directory = dataDirectory ?? owned!.Path;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls(urls);
        builder.Logging.ClearProviders();
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }

        services?.Invoke(builder.Services);

        builder.Services
            .AddBulwarkServer(o =>
            {
                o.BootstrapToken = bootstrapToken;
                o.AdminTokenFile = Path.Combine(directory, "admin-token");
                configure?.Invoke(o);
            })
            .UseStore(sp => new SqliteControlStore(
                new SqliteStoreOptions { DataDirectory = directory, Instruments = sp.GetRequiredService<StoreInstruments>() },
                sp.GetRequiredService<TimeProvider>()))
            .UseEventStore(sp => new Bulwark.Storage.Sqlite.Ingest.SqliteEventStore(
                Path.Combine(directory, Bulwark.Storage.Sqlite.Ingest.SqliteEventStoreOptions.FileName), sp.GetRequiredService<TimeProvider>()));
        var app = builder.Build();
        app.UseBulwark();
        mapExtraEndpoints?.Invoke(app);
        var startup = await app.PrepareBulwarkAsync(manifests ?? []);
        await app.StartAsync();
        return new BulwarkTestServer(app, directory, owned, startup);
    }

    /// <summary>A client without credentials.</summary>
    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress };

    /// <summary>A client that sends <paramref name="token"/> as its bearer token.</summary>
    public HttpClient CreateClient(string token)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public HttpClient CreateAdminClient() => CreateClient(AdminToken);

    /// <summary>Creates an identity with <paramref name="roles"/> (none: an identity with no useful role) and returns a token for it.</summary>
    public async Task<string> CreateIdentityTokenAsync(string name, params Role[] roles)
    {
        using var admin = CreateAdminClient();
        var body = new System.Text.Json.Nodes.JsonObject
        {
            ["name"] = name,
            ["roles"] = new System.Text.Json.Nodes.JsonArray([.. roles.Select(r => (System.Text.Json.Nodes.JsonNode)Roles.Name(r))]),
        };
        using (var created = await admin.PutAsync($"v1/identities/{name}", Json(body)))
        {
            created.EnsureSuccessStatusCode();
        }

        using var token = await admin.PostAsync($"v1/identities/{name}/tokens", Json(new System.Text.Json.Nodes.JsonObject()));
        token.EnsureSuccessStatusCode();
        var document = System.Text.Json.Nodes.JsonNode.Parse(await token.Content.ReadAsStringAsync())!;
        return document["token"]!.GetValue<string>();
    }

    public static StringContent Json(System.Text.Json.Nodes.JsonNode body) =>
        new(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");

    public static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _ownedDirectory?.Dispose();
    }
}
