using System.Text.Json.Nodes;
using Bulwark.Ingest;

namespace Bulwark.Response;

/// <summary>
/// A connector (manifest kind <c>Connector</c>): how playbook actions reach an outside service — a platform's account
/// API, Slack, PagerDuty, Jira, a partner's webhook endpoint or any HTTP API. Secrets are references
/// (<c>env:NAME</c>, <c>file:PATH</c>), resolved by the server when it calls, never stored or echoed.
/// </summary>
public sealed record ConnectorDefinition
{
    /// <summary>The connector's name (a manifest name).</summary>
    public required string Name { get; init; }

    /// <summary>What it is for, for people.</summary>
    public string? Description { get; init; }

    /// <summary>The kind of service.</summary>
    public required ConnectorType Type { get; init; }

    /// <summary>
    /// The service's base URL: the platform API (<c>https://api.example.com</c>), the Jira site, the PagerDuty Events
    /// API endpoint (default <c>https://events.pagerduty.com/v2/enqueue</c>), the partner's webhook endpoint, the HTTP
    /// API. For Slack the incoming webhook URL is a secret: see <see cref="Secret"/>.
    /// </summary>
    public Uri? Url { get; init; }

    /// <summary>
    /// The credential: the platform API's bearer token, Slack's incoming webhook URL, PagerDuty's routing key, Jira's
    /// <c>email:api-token</c>, the partner webhook's <c>whsec_…</c> signing secret, an HTTP API's bearer token.
    /// </summary>
    public SecretReference? Secret { get; init; }

    /// <summary>For a platform connector: the platform whose accounts it acts on (<c>instagram</c>, <c>x</c>, …).</summary>
    public string? Platform { get; init; }

    /// <summary>How long one call may take.</summary>
    /// <value>Defaults to 5 seconds.</value>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive failed calls after which the breaker opens; calls then fail at once until it half-opens.</summary>
    /// <value>Defaults to 5.</value>
    public int BreakerFailures { get; init; } = 5;

    /// <summary>How long an open breaker stays open before one trial call.</summary>
    /// <value>Defaults to 30 seconds.</value>
    public TimeSpan BreakerOpenFor { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// For a platform connector: per action, the HTTP call that replaces the default mapping, or
    /// <see cref="HttpMapping.Ticket"/> when the platform has no API for it and a support ticket is filed instead
    /// through <see cref="TicketConnector"/>.
    /// </summary>
    public IReadOnlyDictionary<string, HttpMapping> Actions { get; init; } = new Dictionary<string, HttpMapping>(StringComparer.Ordinal);

    /// <summary>The Jira connector that files support tickets for actions mapped to <see cref="HttpMapping.Ticket"/>.</summary>
    public string? TicketConnector { get; init; }

    /// <summary>For Jira: the project key (<c>SEC</c>).</summary>
    public string? Project { get; init; }

    /// <summary>For Jira: the issue type.</summary>
    /// <value>Defaults to <c>Task</c>.</value>
    public string IssueType { get; init; } = "Task";

    /// <summary>The manifest as given (without <c>kind</c>), for the API and the store.</summary>
    public required JsonObject Document { get; init; }

    /// <summary>
    /// The PagerDuty Events API v2 endpoint, the default <see cref="Url"/> of a <see cref="ConnectorType.PagerDuty"/> connector.
    /// </summary>
    public static Uri PagerDutyEventsUrl { get; } = new("https://events.pagerduty.com/v2/enqueue");

    /// <summary>
    /// The default HTTP calls of the platform actions (the seeds' account API): <c>POST /v1/accounts/{id}/revoke_tokens</c>,
    /// <c>…/expire_sessions</c>, <c>…/force_password_reset</c>, and <c>PATCH /v1/accounts/{id}</c> with
    /// <c>{"suspended": true, "suspended_until": …}</c> (from the step's <c>with.until</c>) or <c>{"suspended": false}</c>.
    /// </summary>
    public static IReadOnlyDictionary<string, HttpMapping> DefaultPlatformMappings { get; } = new Dictionary<string, HttpMapping>(StringComparer.Ordinal)
    {
        ["platform.revoke_tokens"] = new("POST", "/v1/accounts/{{target}}/revoke_tokens", null),
        ["platform.expire_sessions"] = new("POST", "/v1/accounts/{{target}}/expire_sessions", null),
        ["platform.force_password_reset"] = new("POST", "/v1/accounts/{{target}}/force_password_reset", null),
        ["platform.suspend"] = new("PATCH", "/v1/accounts/{{target}}", new JsonObject { ["suspended"] = true, ["suspended_until"] = "{{with.until}}" }),
        ["platform.unsuspend"] = new("PATCH", "/v1/accounts/{{target}}", new JsonObject { ["suspended"] = false }),
    };

    /// <summary>The HTTP call a platform action makes through this connector: its own mapping, else the default.</summary>
    /// <param name="action">A platform action, such as <c>platform.suspend</c>.</param>
    /// <returns>The mapping (possibly <see cref="HttpMapping.Ticket"/>), or <see langword="null"/> for an action with neither.</returns>
    public HttpMapping? MappingFor(string action) =>
        Actions.TryGetValue(action, out var mapping) ? mapping : DefaultPlatformMappings.GetValueOrDefault(action);
}

/// <summary>The kinds of outside service a connector reaches.</summary>
public enum ConnectorType
{
    /// <summary>A platform's account API: revoke tokens, expire sessions, force a password reset, suspend.</summary>
    Platform = 1,

    /// <summary>A Slack incoming webhook.</summary>
    Slack = 2,

    /// <summary>PagerDuty Events API v2.</summary>
    PagerDuty = 3,

    /// <summary>Jira Cloud REST v3.</summary>
    Jira = 4,

    /// <summary>A partner's endpoint, sent Standard Webhooks-signed POSTs.</summary>
    Webhook = 5,

    /// <summary>Any HTTP API, with templated requests.</summary>
    Http = 6,
}

/// <summary>An HTTP call an action maps to: method, path under the connector's URL (templates allowed) and an optional JSON body (templates allowed).</summary>
/// <param name="Method">The HTTP method.</param>
/// <param name="Path">The path, such as <c>/v1/accounts/{{target}}/revoke_tokens</c>.</param>
/// <param name="Body">The body, or <see langword="null"/> for none.</param>
public sealed record HttpMapping(string Method, string Path, JsonObject? Body)
{
    /// <summary>The mapping that files a support ticket instead of calling the platform.</summary>
    public static HttpMapping Ticket { get; } = new("TICKET", string.Empty, null);

    /// <summary>Whether this is <see cref="Ticket"/>.</summary>
    public bool IsTicket => Method == "TICKET";
}
