using System.Net;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bulwark.Server.Response.Connectors;

/// <summary>Registers the action handlers that call outside services.</summary>
internal static class ConnectorActionsServices
{
    /// <summary>
    /// Registers the platform, Slack, PagerDuty, Jira, signed-webhook and generic HTTP handlers as
    /// <see cref="IActionHandler"/>s, the connectors' breakers and their one <see cref="HttpClient"/>. Needs a
    /// <see cref="TimeProvider"/>, an <see cref="Ingest.ISecretResolver"/> and an <see cref="IConnectorCatalog"/>
    /// (ticket fallbacks look their Jira connector up by name).
    /// </summary>
    public static IServiceCollection AddConnectorActions(this IServiceCollection services, Action<ConnectorActionOptions>? configure = null)
    {
        // No redirects (credentials would follow them, and Standard Webhooks counts a 3xx as a failure), no cookie jar,
        // and no request logging: a Slack webhook URL is itself a secret. Deadlines run on the TimeProvider, per call.
        services.AddHttpClient(ConnectorHttp.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                AutomaticDecompression = DecompressionMethods.All,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            })
            .RemoveAllLoggers();
        var options = new ConnectorActionOptions();
        configure?.Invoke(options);
        services.TryAddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ConnectorBreakers>();
        services.TryAddSingleton<ConnectorHttp>();
        services.TryAddSingleton<JiraTicketHandler>();
        services.AddSingleton<IActionHandler>(sp => sp.GetRequiredService<JiraTicketHandler>());
        services.AddSingleton<IActionHandler, PlatformActionHandler>();
        services.AddSingleton<IActionHandler, SlackNotifyHandler>();
        services.AddSingleton<IActionHandler, PagerDutyHandler>();
        services.AddSingleton<IActionHandler, SignedWebhookHandler>();
        services.AddSingleton<IActionHandler, HttpRequestHandler>();
        return services;
    }
}
