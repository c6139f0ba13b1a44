using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Manifests;
using Bulwark.Response;

namespace Bulwark.Server.Response.Connectors;

/// <summary>
/// <c>platform.revoke_tokens</c>, <c>platform.expire_sessions</c>, <c>platform.force_password_reset</c>,
/// <c>platform.suspend</c> and <c>platform.unsuspend</c> on one account (the call's target) through a platform
/// connector. The default mapping follows the seeds' API — <c>POST {url}/v1/accounts/{id}/revoke_tokens</c> (and
/// <c>expire_sessions</c>, <c>force_password_reset</c>), <c>PATCH {url}/v1/accounts/{id}</c> with
/// <c>{"suspended": true, "suspended_until": …}</c> or <c>{"suspended": false}</c> — and the connector's
/// <c>actions</c> replace it per action (keyed by the full action name or the part after <c>platform.</c>). An action
/// mapped to <c>ticket</c> files a support ticket through the connector's ticket connector instead (one per call).
/// Bearer token from the secret.
/// </summary>
/// <remarks>
/// <c>platform.suspend</c> takes <c>until</c> (a timestamp, sent as written) or <c>duration</c> (<c>24h</c>, counted
/// from the call); with neither, the suspension has no end (<c>null</c>).
/// </remarks>
internal sealed class PlatformActionHandler(ConnectorHttp http, JiraTicketHandler tickets, IConnectorCatalog catalog, ConnectorActionOptions options)
    : ConnectorHandler(http)
{
    public const string RevokeTokens = "platform.revoke_tokens";
    public const string ExpireSessions = "platform.expire_sessions";
    public const string ForcePasswordReset = "platform.force_password_reset";
    public const string Suspend = "platform.suspend";
    public const string Unsuspend = "platform.unsuspend";

    private const string Prefix = "platform.";

    /// <summary>The methods a mapping may name.</summary>
    private static readonly HashSet<string> Methods = new(["GET", "POST", "PUT", "PATCH", "DELETE"], StringComparer.Ordinal);

    public override IReadOnlyCollection<string> Actions { get; } = [RevokeTokens, ExpireSessions, ForcePasswordReset, Suspend, Unsuspend];

    protected override ConnectorType ConnectorType => ConnectorType.Platform;

    protected override async Task<ActionOutcome> ExecuteCoreAsync(ActionCall call, ConnectorDefinition connector, CancellationToken cancellationToken)
    {
        var mapping = Mapping(call, connector);
        if (mapping.IsTicket)
        {
            return TicketFallback(call, connector, out var jira, out var ticket, out var error) is { } outcome
                ? outcome
                : AsFallback(await tickets.FileAsync(call, jira!, ticket!, cancellationToken).ConfigureAwait(false));
        }

        if (!Http.TryResolveSecret(connector, out var secret, out var failure))
        {
            return failure;
        }

        if (!TryBuild(call, connector, mapping, secret, out var request, out var invalid))
        {
            return ActionOutcome.Failed(RetryOn.None, invalid);
        }

        var answer = await Http.SendAsync(call, connector, request, secret, cancellationToken).ConfigureAwait(false);
        return ConnectorHttp.Classify(answer, $"platform API (connector '{connector.Name}')");
    }

    protected override JsonObject DescribeCore(ActionCall call, ConnectorDefinition connector)
    {
        var mapping = Mapping(call, connector);
        if (mapping.IsTicket)
        {
            if (TicketFallback(call, connector, out var jira, out var ticket, out _) is { } failure)
            {
                return DescribeError(failure.Error!);
            }

            var described = JiraTicketHandler.DescribeFiling(call, jira!, ticket!);
            described["fallback"] = "ticket";
            return described;
        }

        return TryBuild(call, connector, mapping, ConnectorSecret.Masked, out var request, out var error) ? request.Describe(call) : DescribeError(error);
    }

    /// <summary>The connector's mapping of the call's action, else the default one.</summary>
    private static HttpMapping Mapping(ActionCall call, ConnectorDefinition connector)
    {
        if (connector.Actions.TryGetValue(call.Action, out var mapping))
        {
            return mapping;
        }

        var shortName = ShortName(call.Action);
        if (connector.Actions.TryGetValue(shortName, out mapping))
        {
            return mapping;
        }

        return call.Action switch
        {
            Suspend or Unsuspend => new HttpMapping("PATCH", "/v1/accounts/{{target}}", null),
            _ => new HttpMapping("POST", "/v1/accounts/{{target}}/" + shortName, null),
        };
    }

    private bool TryBuild(ActionCall call, ConnectorDefinition connector, HttpMapping mapping, ConnectorSecret secret, out ConnectorRequest request, out string error)
    {
        request = null!;
        if (connector.Url is null)
        {
            error = $"connector '{connector.Name}' has no url (the platform API)";
            return false;
        }

        if (!ConnectorTemplates.TryRenderPath(mapping.Path, call, out var path, out error)
            || !ConnectorTemplates.TryRenderBody(mapping.Body, call, out var body, out error))
        {
            return false;
        }

        if (!connector.Actions.ContainsKey(call.Action) && !connector.Actions.ContainsKey(ShortName(call.Action)))
        {
            if (call.Action == Suspend)
            {
                if (!TrySuspendedUntil(call, out var until, out error))
                {
                    return false;
                }

                body = new JsonObject { ["suspended"] = true, ["suspended_until"] = until };
            }
            else if (call.Action == Unsuspend)
            {
                body = new JsonObject { ["suspended"] = false };
            }
        }

        if (!Methods.Contains(mapping.Method.ToUpperInvariant()))
        {
            error = $"connector '{connector.Name}': {mapping.Method} is not an HTTP method it may use";
            return false;
        }

        var baseUrl = connector.Url.AbsoluteUri.TrimEnd('/');
        request = ConnectorRequest.WithJson(
            new HttpMethod(mapping.Method.ToUpperInvariant()), baseUrl + "/" + path.TrimStart('/'), body, [new("Authorization", secret.Bearer())]);
        return true;
    }

    private bool TrySuspendedUntil(ActionCall call, out string? until, out string error)
    {
        error = string.Empty;
        until = Text(call, "until");
        if (until is not null || call.Parameters["duration"] is null)
        {
            return true;
        }

        if (!Durations.TryParse(Text(call, "duration"), out var duration))
        {
            error = "platform.suspend: duration is not a duration such as 24h or 7d";
            return false;
        }

        until = AuditChain.FormatTime(Http.Time.GetUtcNow() + duration);
        return true;
    }

    /// <summary>Finds the ticket connector and writes the support ticket; a failure outcome when it cannot.</summary>
    private ActionOutcome? TicketFallback(ActionCall call, ConnectorDefinition connector, out ConnectorDefinition? jira, out JiraTicket? ticket, out string error)
    {
        jira = null;
        ticket = null;
        error = string.Empty;
        if (connector.TicketConnector is not { Length: > 0 } name)
        {
            return ActionOutcome.Failed(RetryOn.None, $"connector '{connector.Name}' maps {call.Action} to a ticket but names no ticket connector");
        }

        jira = catalog.Find(name);
        if (jira is null || jira.Type != ConnectorType.Jira)
        {
            return ActionOutcome.Failed(RetryOn.None, $"connector '{connector.Name}': ticket connector '{name}' {(jira is null ? "does not exist" : "is not a jira connector")}");
        }

        var until = string.Empty;
        if (call.Action == Suspend)
        {
            if (!TrySuspendedUntil(call, out var end, out error))
            {
                return ActionOutcome.Failed(RetryOn.None, error);
            }

            until = end is null ? " with no end" : " until " + end;
        }

        var incident = call.Incident;
        var platform = connector.Platform ?? connector.Name;
        var request = Request(call.Action);
        var link = options.IncidentLink(incident.Id);
        ticket = new JiraTicket
        {
            Project = jira.Project,
            IssueType = jira.IssueType,
            Summary = IncidentFacts.Cut($"[Bulwark] Please {request} account {call.Target} on {platform}{until}", 255),
            Description = Adf.Doc(
            [
                Adf.Paragraph(Adf.Text($"Bulwark needs {platform} to {request} account "), Adf.Strong(call.Target),
                    Adf.Text($"{until}. The platform offers no API for it (connector {connector.Name}), so this ticket asks for it instead.")),
                Adf.Paragraph(Adf.Strong("Incident "), Adf.Link(incident.Id, link), Adf.Text(": " + incident.Title)),
                Adf.BulletList(IncidentFacts.Lines(incident).Select(l => Adf.Paragraph(Adf.Strong(l.Label + ": "), Adf.Text(l.Value)))),
                Adf.Paragraph(Adf.Text($"Filed by Bulwark: playbook {call.Playbook}, run {call.RunId}, step {call.StepId}, correlation id {call.CorrelationId}.")),
            ]),
            Labels = ["bulwark", "bulwark-support", CallLabel(call)],
            DedupLabel = CallLabel(call),
        };
        return null;
    }

    /// <summary>One support ticket per call: its idempotency key, made a label.</summary>
    private static string CallLabel(ActionCall call)
    {
        var key = new string([.. call.IdempotencyKey.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_')]);
        return "bulwark-call-" + (key.Length > 200 ? key[..200] : key);
    }

    private static string Request(string action) => action switch
    {
        RevokeTokens => "revoke every token of",
        ExpireSessions => "expire every session of",
        ForcePasswordReset => "force a password reset for",
        Suspend => "suspend",
        Unsuspend => "lift the suspension of",
        _ => action,
    };

    private static ActionOutcome AsFallback(ActionOutcome outcome)
    {
        if (outcome.Output is { } output)
        {
            output["fallback"] = "ticket";
        }

        return outcome;
    }

    private static string ShortName(string action) => action.StartsWith(Prefix, StringComparison.Ordinal) ? action[Prefix.Length..] : action;
}
