using System.Text.Json;
using Bulwark.Detection.Incidents;
using Bulwark.Identity;
using Bulwark.Manifests;
using Bulwark.Server.Audit;
using Bulwark.Server.Detection;
using Bulwark.Server.Flags;
using Bulwark.Server.Http;
using Bulwark.Server.Identity;
using Bulwark.Server.Ingest;
using Bulwark.Server.Manifests;
using Bulwark.Server.MassActions;
using Bulwark.Server.Metrics;
using Bulwark.Server.Security;
using Bulwark.Server.Throttles;
using Bulwark.Storage;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Bulwark.Server.Hosting;

/// <summary>Composes the server: <c>services.AddBulwarkServer(...).UseStore(...)</c>, then <c>app.UseBulwark()</c>.</summary>
public static class BulwarkServerExtensions
{
    /// <summary>Registers the Bulwark service; choose a store with <see cref="BulwarkServerBuilder.UseStore"/>.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The builder.</returns>
    public static BulwarkServerBuilder AddBulwarkServer(this IServiceCollection services, Action<BulwarkServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<BulwarkServerOptions>().Configure(o => configure?.Invoke(o));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IRandomSource>(SystemRandomSource.Instance);
        services.AddMetrics();
        services.AddSingleton<ServerInstruments>();
        services.AddSingleton(sp => new StoreInstruments(sp.GetRequiredService<ServerInstruments>().Meter));
        services.AddSingleton(sp => new PrometheusExporter(sp.GetRequiredService<ServerInstruments>().Meter));
        services.AddSingleton<IdentityService>();
        services.AddSingleton<AuditService>();
        services.AddSingleton<IManifestHandler, IdentityManifestHandler>();
        services.AddSingleton<FlagService>();
        services.AddSingleton<FlagSnapshotCache>();
        services.AddSingleton<IManifestHandler, FlagManifestHandler>();
        services.AddSingleton<ThrottleRegistry>();
        services.AddSingleton<ThrottleService>();
        services.AddSingleton<IManifestHandler, ThrottleManifestHandler>();
        services.AddSingleton<ThrottleBlockSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<ThrottleBlockSweeper>());
        services.AddSingleton<MassActionService>();
        services.AddSingleton<IManifestHandler, MassActionManifestHandler>();
        services.AddHostedService<MassActionKillSwitch>();
        services.TryAddSingleton<ISecretResolver, EnvironmentSecretResolver>();
        services.AddSingleton<SourceRegistry>();
        services.AddSingleton<SourceService>();
        services.AddSingleton<IManifestHandler, SourceManifestHandler>();
        services.AddSingleton<IngestInstruments>();
        services.AddSingleton<NormalizerWorker>();
        services.AddSingleton<Replays>();
        services.AddHostedService(sp => sp.GetRequiredService<NormalizerWorker>());
        services.AddHostedService(sp => sp.GetRequiredService<Replays>()); // after the normalizer: stopped before it
        services.AddSingleton<IEventKeyConsumer, EventCounter>();
        services.AddSingleton<ConsumerWakeups>();
        services.AddHostedService<EventConsumerHost>();
        services.TryAddSingleton(new IncidentCorrelatorOptions());
        services.AddSingleton<IncidentService>();
        services.AddSingleton<RuleService>();
        services.AddSingleton<IManifestHandler>(sp => new DefinitionManifestHandler<Bulwark.Detection.Rules.RuleDefinition>(sp.GetRequiredService<RuleService>()));
        services.AddSingleton<IDetectionEngine>(sp => new RuleDetectionEngine(sp.GetRequiredService<RuleService>(), sp.GetRequiredService<Bulwark.Ingest.IEventStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<DetectorService>();
        services.AddSingleton<IManifestHandler>(sp => new DefinitionManifestHandler<Bulwark.Detection.Anomaly.DetectorDefinition>(sp.GetRequiredService<DetectorService>()));
        services.AddSingleton<IDetectionEngine, RateDetectionEngine>();
        services.AddSingleton<DetectionPipeline>();
        services.AddSingleton<IEventConsumer>(sp => sp.GetRequiredService<DetectionPipeline>());
        services.AddHostedService<DetectionClock>();
        services.AddSingleton<Response.ConnectorService>();
        services.AddSingleton<Response.Connectors.IConnectorCatalog>(sp => sp.GetRequiredService<Response.ConnectorService>());
        services.AddSingleton<IManifestHandler>(sp => new DefinitionManifestHandler<Bulwark.Response.ConnectorDefinition>(sp.GetRequiredService<Response.ConnectorService>()));
        services.AddSingleton<Response.PlaybookService>();
        services.AddSingleton<IManifestHandler>(sp => new DefinitionManifestHandler<Bulwark.Response.PlaybookDefinition>(sp.GetRequiredService<Response.PlaybookService>()));
        services.AddSingleton<Response.IActionHandler, Response.BuiltInActions>();
        services.AddSingleton<Response.RunExecutor>();
        services.AddHostedService(sp => sp.GetRequiredService<Response.RunExecutor>());
        services.AddSingleton<Response.RunStarter>();
        services.AddSingleton<Response.ApprovalService>();
        services.AddHostedService<Response.ApprovalExpiry>();
        services.AddSingleton<Response.RollbackService>();
        services.AddSingleton<Response.EvidenceService>();
        services.AddSingleton<Response.IActionHandler, Response.EvidenceActions>();
        Response.Connectors.ConnectorActionsServices.AddConnectorActions(services);
        services.AddSourcePoller();
        services.AddSingleton(sp => new ManifestApplier(sp.GetServices<IManifestHandler>()));
        services.AddHostedService<IdempotencySweeper>();
        services.AddOpenApi();
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.DictionaryKeyPolicy = null;
        });
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<BulwarkServerOptions>>((kestrel, bulwark) =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = bulwark.Value.MaxRequestBodyBytes;
        });
        return new BulwarkServerBuilder(services);
    }

    /// <summary>Adds the middleware and every endpoint.</summary>
    /// <param name="app">The application.</param>
    /// <returns>The application.</returns>
    public static WebApplication UseBulwark(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);

        // Listen from the start so that no measurement before the first scrape is lost.
        app.Services.GetRequiredService<PrometheusExporter>();
        app.UseMiddleware<HttpMetrics>();

        // Every answer is what its Content-Type says, also a handshake that echoes the caller's text as text/plain (an
        // error answer clears the headers, and ProblemResults.WriteAsync puts this one back with the correlation id).
        app.Use((context, next) =>
        {
            context.Response.Headers.XContentTypeOptions = "nosniff";
            return next(context);
        });
        app.UseMiddleware<CorrelationId>();
        app.UseMiddleware<ErrorHandling>();
        app.UseRouting();
        app.UseMiddleware<Authentication>();
        app.UseMiddleware<RequestBodyLimits>();
        app.UseMiddleware<Idempotency>();
        app.MapHealthApi();
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        app.MapIdentitiesApi();
        app.MapAuditApi();
        app.MapFlagsApi();
        app.MapFlagStreamApi();
        app.MapOfrepApi();
        app.MapThrottlesApi();
        app.MapMassActionsApi();
        app.MapSourcesApi();
        app.MapWebhooksApi();
        app.MapDetectionsApi();
        Response.ResponseApi.MapResponseApi(app);
        Response.EvidenceApi.MapEvidenceApi(app);
        app.MapDefinitionsApi();
        app.MapEventsApi();
        app.MapIngestRecordsApi();
        return app;
    }

    /// <summary>
    /// Opens and migrates the store, creates the admin identity on first start, applies <paramref name="manifests"/>,
    /// and starts verifying the audit chain in the background. Call before the server starts listening.
    /// </summary>
    /// <param name="app">The application.</param>
    /// <param name="manifests">Manifests to apply at start (may be empty).</param>
    /// <param name="cancellationToken">Cancels start-up.</param>
    /// <returns>What start-up did.</returns>
    public static async Task<BulwarkStartup> PrepareBulwarkAsync(this WebApplication app, IEnumerable<ManifestDocument> manifests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        var services = app.Services;
        var options = services.GetRequiredService<IOptions<BulwarkServerOptions>>().Value;
        var store = services.GetRequiredService<IControlStore>();
        await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
        await services.GetRequiredService<Bulwark.Ingest.IEventStore>().MigrateAsync(cancellationToken).ConfigureAwait(false);

        var identities = services.GetRequiredService<IdentityService>();
        string? generated = null;
        string? tokenFile = null;
        var bootstrapped = false;
        if (await identities.NeedsBootstrapAsync(cancellationToken).ConfigureAwait(false))
        {
            var token = options.BootstrapToken ?? Tokens.Create(services.GetRequiredService<IRandomSource>());
            if (options.BootstrapToken is null)
            {
                generated = token;

                // The file is written before the token is committed: a crash in between leaves a file with an unused
                // token and an empty store, which the next start bootstraps again; never an admin nobody can use.
                if (options.AdminTokenFile is { } path)
                {
                    await WriteSecretFileAsync(path, token, cancellationToken).ConfigureAwait(false);
                    tokenFile = path;
                }
            }

            bootstrapped = await identities.BootstrapAsync(token, cancellationToken).ConfigureAwait(false);
        }

        var applied = await services.GetRequiredService<ManifestApplier>().ApplyAsync(manifests, cancellationToken).ConfigureAwait(false);
        var audit = services.GetRequiredService<AuditService>();
        _ = Task.Run(() => audit.VerifyAsync(CancellationToken.None), CancellationToken.None);
        return bootstrapped
            ? new BulwarkStartup(true, generated, tokenFile, applied)
            : new BulwarkStartup(false, null, null, applied);
    }

    private static async Task WriteSecretFileAsync(string path, string secret, CancellationToken cancellationToken)
    {
        var streamOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            streamOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var stream = new FileStream(path, streamOptions);
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(secret + "\n"), cancellationToken).ConfigureAwait(false);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}

/// <summary>What start-up did.</summary>
/// <param name="Bootstrapped">Whether the store was empty and the admin identity was created.</param>
/// <param name="GeneratedAdminToken">The generated admin token, to print once; <see langword="null"/> when none was generated.</param>
/// <param name="AdminTokenFile">Where the generated token was written, if anywhere.</param>
/// <param name="AppliedManifests">What each manifest given at start did.</param>
public sealed record BulwarkStartup(bool Bootstrapped, string? GeneratedAdminToken, string? AdminTokenFile, IReadOnlyList<AppliedManifest> AppliedManifests);

/// <summary>Chooses the store behind the server.</summary>
/// <param name="services">The services.</param>
public sealed class BulwarkServerBuilder(IServiceCollection services)
{
    /// <summary>The services being composed.</summary>
    public IServiceCollection Services { get; } = services;

    /// <summary>Uses the store made by <paramref name="factory"/> (for example SQLite or PostgreSQL).</summary>
    /// <param name="factory">Makes the store; <see cref="StoreInstruments"/> and <see cref="TimeProvider"/> are registered.</param>
    /// <returns>This builder.</returns>
    public BulwarkServerBuilder UseStore(Func<IServiceProvider, IControlStore> factory)
    {
        Services.AddSingleton(factory);
        return this;
    }

    /// <summary>Uses the ingest store made by <paramref name="factory"/>: raw snapshots, the event log, the quarantine.</summary>
    /// <param name="factory">Makes the store.</param>
    /// <returns>This builder.</returns>
    public BulwarkServerBuilder UseEventStore(Func<IServiceProvider, Bulwark.Ingest.IEventStore> factory)
    {
        Services.AddSingleton(factory);
        return this;
    }
}
