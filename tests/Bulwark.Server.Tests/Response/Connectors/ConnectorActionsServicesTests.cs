using Bulwark.Server.Response.Connectors;

namespace Bulwark.Server.Tests.Response.Connectors;

/// <summary>What <see cref="ConnectorActionsServices.AddConnectorActions"/> registers.</summary>
public sealed class ConnectorActionsServicesTests
{
    /// <summary>The actions issue 7 lists as calling out through a connector.</summary>
    private static readonly string[] ConnectorActions =
    [
        "platform.revoke_tokens", "platform.expire_sessions", "platform.force_password_reset", "platform.suspend", "platform.unsuspend",
        "notify.slack", "notify.pagerduty", "notify.pagerduty_resolve", "ticket.jira", "webhook.signed", "http.request",
    ];

    [Fact]
    public async Task AddConnectorActions_RegistersOneHandlerPerConnectorAction_AsSingletons()
    {
        await using var kit = new ConnectorKit();

        var actions = kit.Handlers.SelectMany(h => h.Actions).ToList();

        actions.Order(StringComparer.Ordinal).ShouldBe(ConnectorActions.Order(StringComparer.Ordinal));
        kit.Handlers.ShouldAllBe(h => kit.Handlers.Count(x => ReferenceEquals(x, h)) == 1);
        kit.Handler("ticket.jira").ShouldBeSameAs(kit.Handler("ticket.jira"));
    }
}
