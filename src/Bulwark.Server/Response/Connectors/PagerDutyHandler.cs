using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Detection.Incidents;
using Bulwark.Response;

namespace Bulwark.Server.Response.Connectors;

/// <summary>
/// <c>notify.pagerduty</c> and <c>notify.pagerduty_resolve</c>: PagerDuty Events API v2 (<c>POST …/v2/enqueue</c>,
/// the connector's URL or <c>https://events.pagerduty.com/v2/enqueue</c>). The routing key is the connector's secret;
/// <c>dedup_key</c> is <c>bulwark-&lt;incident id&gt;</c>, so a repeated trigger updates the one alert and the resolve
/// closes it. The trigger's payload: <c>summary</c> (the parameter or the incident's title), <c>source</c> (the
/// parameter or <c>bulwark</c>), <c>severity</c> (critical → critical, high → error, medium → warning, low → info, or
/// the parameter), <c>timestamp</c>, <c>component</c> (the platforms), <c>group</c> (the incident kind),
/// <c>class</c> (the rules), <c>custom_details</c> with accounts, IPs, rules, confidence and the incident link. 202 is
/// success, 400 is a failure no retry fixes, 429 and 5xx are retried.
/// </summary>
internal sealed class PagerDutyHandler(ConnectorHttp http, ConnectorActionOptions options) : ConnectorHandler(http)
{
    public const string Trigger = "notify.pagerduty";
    public const string Resolve = "notify.pagerduty_resolve";
    public static readonly Uri DefaultUrl = new("https://events.pagerduty.com/v2/enqueue");

    /// <summary>Entities listed in <c>custom_details</c> (the whole event must stay under 512 KB).</summary>
    private const int MaxListed = 100;
    private const int SummaryLength = 1024;

    private static readonly HashSet<string> Severities = new(["critical", "error", "warning", "info"], StringComparer.Ordinal);

    public override IReadOnlyCollection<string> Actions { get; } = [Trigger, Resolve];

    protected override ConnectorType ConnectorType => ConnectorType.PagerDuty;

    /// <summary>The alert's key for an incident.</summary>
    public static string DedupKey(string incidentId) => "bulwark-" + incidentId;

    /// <summary>PagerDuty's severity for an incident's.</summary>
    public static string SeverityOf(Severity severity) => severity switch
    {
        Severity.Critical => "critical",
        Severity.High => "error",
        Severity.Medium => "warning",
        _ => "info",
    };

    protected override async Task<ActionOutcome> ExecuteCoreAsync(ActionCall call, ConnectorDefinition connector, CancellationToken cancellationToken)
    {
        if (!TryBuild(call, connector, ConnectorSecret.Masked, out _, out var error))
        {
            return ActionOutcome.Failed(RetryOn.None, error);
        }

        if (!Http.TryResolveSecret(connector, out var secret, out var failure))
        {
            return failure;
        }

        TryBuild(call, connector, secret, out var request, out _);
        var answer = await Http.SendAsync(call, connector, request, secret, cancellationToken).ConfigureAwait(false);
        return ConnectorHttp.Classify(answer, $"PagerDuty (connector '{connector.Name}')", new JsonObject
        {
            ["dedup_key"] = DedupKey(call.Incident.Id),
            ["event_action"] = call.Action == Resolve ? "resolve" : "trigger",
        });
    }

    protected override JsonObject DescribeCore(ActionCall call, ConnectorDefinition connector) =>
        TryBuild(call, connector, ConnectorSecret.Masked, out var request, out var error) ? request.Describe(call) : DescribeError(error);

    private bool TryBuild(ActionCall call, ConnectorDefinition connector, ConnectorSecret secret, out ConnectorRequest request, out string error)
    {
        request = null!;
        error = string.Empty;
        var incident = call.Incident;
        var url = (connector.Url ?? DefaultUrl).AbsoluteUri;
        var dedupKey = DedupKey(incident.Id);
        if (call.Action == Resolve)
        {
            request = ConnectorRequest.WithJson(HttpMethod.Post, url, new JsonObject
            {
                ["routing_key"] = secret.Value,
                ["dedup_key"] = dedupKey,
                ["event_action"] = "resolve",
            });
            return true;
        }

        var severity = Text(call, "severity") ?? SeverityOf(incident.Severity);
        if (!Severities.Contains(severity))
        {
            error = $"notify.pagerduty: severity is one of critical, error, warning, info, not '{severity}'";
            return false;
        }

        var link = options.IncidentLink(incident.Id);
        var details = new JsonObject
        {
            ["incident"] = incident.Id,
            ["link"] = link,
            ["confidence"] = Math.Round(incident.Confidence, 4),
            ["severity"] = IncidentFacts.Severity(incident),
            ["kind"] = IncidentFacts.Kind(incident),
            ["accounts"] = IncidentFacts.Array(incident.Accounts, MaxListed),
            ["ips"] = IncidentFacts.Array(incident.Ips, MaxListed),
            ["rules"] = IncidentFacts.Array(incident.Rules, MaxListed),
            ["platforms"] = IncidentFacts.Array(incident.Platforms, MaxListed),
            ["correlation_id"] = call.CorrelationId,
            ["playbook"] = call.Playbook,
            ["run"] = call.RunId,
        };
        if (incident.Accounts.Count > MaxListed || incident.Ips.Count > MaxListed)
        {
            details["account_count"] = incident.Accounts.Count;
            details["ip_count"] = incident.Ips.Count;
        }

        if (call.Parameters["details"] is JsonObject extra)
        {
            foreach (var (name, value) in extra)
            {
                details[name] = value?.DeepClone();
            }
        }

        var payload = new JsonObject
        {
            ["summary"] = IncidentFacts.Cut(Text(call, "summary") ?? $"[Bulwark] {incident.Title} ({incident.Id})", SummaryLength),
            ["source"] = Text(call, "source") ?? "bulwark",
            ["severity"] = severity,
            ["timestamp"] = AuditChain.FormatTime(incident.CreatedAt),
            ["group"] = IncidentFacts.Kind(incident),
            ["class"] = incident.Rules.Count == 0 ? "incident" : string.Join(",", incident.Rules.Take(5)),
            ["custom_details"] = details,
        };
        if (incident.Platforms.Count > 0)
        {
            payload["component"] = string.Join(",", incident.Platforms);
        }

        var trigger = new JsonObject
        {
            ["routing_key"] = secret.Value,
            ["event_action"] = "trigger",
            ["dedup_key"] = dedupKey,
            ["payload"] = payload,
            ["client"] = "Bulwark",
        };
        if (Uri.TryCreate(link, UriKind.Absolute, out var absolute) && absolute.Scheme is "https" or "http")
        {
            trigger["client_url"] = link;
            trigger["links"] = new JsonArray(new JsonObject { ["href"] = link, ["text"] = "Incident " + incident.Id + " in Bulwark" });
        }

        request = ConnectorRequest.WithJson(HttpMethod.Post, url, trigger);
        return true;
    }
}
