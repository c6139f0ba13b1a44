using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;
using Bulwark.Response;

namespace Bulwark.Server.Response.Connectors;

/// <summary>
/// The shape of every handler that calls out: it checks the call's connector (present, of the right type), then builds
/// one request the same way for sending and for describing (with the secret masked), so a dry run records exactly what
/// a real run would send.
/// </summary>
internal abstract class ConnectorHandler(ConnectorHttp http) : IActionHandler
{
    public abstract IReadOnlyCollection<string> Actions { get; }

    /// <summary>The connector type the actions call through.</summary>
    protected abstract ConnectorType ConnectorType { get; }

    protected ConnectorHttp Http => http;

    public Task<ActionOutcome> ExecuteAsync(ActionCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        return TryConnector(call, out var connector, out var error)
            ? ExecuteCoreAsync(call, connector, cancellationToken)
            : Task.FromResult(ActionOutcome.Failed(RetryOn.None, error));
    }

    public JsonObject Describe(ActionCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return TryConnector(call, out var connector, out var error)
            ? DescribeCore(call, connector)
            : new JsonObject { ["error"] = error };
    }

    protected abstract Task<ActionOutcome> ExecuteCoreAsync(ActionCall call, ConnectorDefinition connector, CancellationToken cancellationToken);

    protected abstract JsonObject DescribeCore(ActionCall call, ConnectorDefinition connector);

    /// <summary>A description that says why the call could not be made.</summary>
    protected static JsonObject DescribeError(string error) => new() { ["error"] = error };

    /// <summary>A string parameter, or <see langword="null"/> when absent or not a string.</summary>
    protected static string? Text(ActionCall call, string name) =>
        call.Parameters[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private bool TryConnector(ActionCall call, [NotNullWhen(true)] out ConnectorDefinition? connector, out string error)
    {
        connector = call.Connector;
        error = string.Empty;
        if (connector is null)
        {
            error = $"{call.Action} needs a connector of type {ConnectorTypes.Name(ConnectorType)}; the step names none";
            return false;
        }

        if (connector.Type != ConnectorType)
        {
            error = $"{call.Action} needs a connector of type {ConnectorTypes.Name(ConnectorType)}; '{connector.Name}' is {ConnectorTypes.Name(connector.Type)}";
            connector = null;
            return false;
        }

        return true;
    }
}

/// <summary>Connector type names as manifests write them.</summary>
internal static class ConnectorTypes
{
    public static string Name(ConnectorType type) => type switch
    {
        ConnectorType.Platform => "platform",
        ConnectorType.Slack => "slack",
        ConnectorType.PagerDuty => "pagerduty",
        ConnectorType.Jira => "jira",
        ConnectorType.Webhook => "webhook",
        ConnectorType.Http => "http",
        _ => type.ToString(),
    };
}

/// <summary>Finds connectors by name: the ticket connector a platform connector names.</summary>
internal interface IConnectorCatalog
{
    /// <summary>The connector's current definition, or <see langword="null"/> when there is none.</summary>
    ConnectorDefinition? Find(string name);
}

/// <summary>Options of the connector actions.</summary>
internal sealed class ConnectorActionOptions
{
    /// <summary>
    /// The server's public base URL, for incident links in notifications and tickets; without it they carry the
    /// incident's API path only.
    /// </summary>
    public Uri? PublicUrl { get; set; }

    /// <summary>A link to an incident.</summary>
    public string IncidentLink(string incidentId)
    {
        var path = "v1/incidents/" + Uri.EscapeDataString(incidentId);
        return PublicUrl is null ? "/" + path : new Uri(EnsureSlash(PublicUrl), path).AbsoluteUri;
    }

    private static Uri EnsureSlash(Uri url) => url.AbsoluteUri.EndsWith('/') ? url : new Uri(url.AbsoluteUri + "/");
}
