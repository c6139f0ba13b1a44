using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Response;

namespace Bulwark.Server.Response.Connectors;

/// <summary>A Jira issue to file, once: <see cref="DedupLabel"/> finds it again.</summary>
internal sealed record JiraTicket
{
    public required string? Project { get; init; }

    public required string IssueType { get; init; }

    public required string Summary { get; init; }

    public required JsonObject Description { get; init; }

    /// <summary>Every label, including <see cref="DedupLabel"/>.</summary>
    public required IReadOnlyList<string> Labels { get; init; }

    /// <summary>The label that makes the issue unique: a search for it finds the issue instead of filing a second one.</summary>
    public required string DedupLabel { get; init; }

    public string? Priority { get; init; }
}

/// <summary>
/// <c>ticket.jira</c>: files one Jira Cloud issue per incident (REST v3, description in Atlassian Document Format,
/// labels <c>bulwark</c> and <c>bulwark-&lt;incident id&gt;</c>). Jira has no idempotency key, so a call first reuses
/// <see cref="ActionCall.Previous"/>'s <c>key</c>, then the issue this node filed for that label, then searches
/// <c>labels = "bulwark-&lt;incident id&gt;"</c>, and files only when none is found; calls for one label run one at a
/// time on this node. Basic auth from the <c>email:api-token</c> secret.
/// </summary>
/// <remarks>
/// The search uses <c>GET /rest/api/3/search/jql</c>: Atlassian removed <c>GET /rest/api/3/search</c> from Jira Cloud
/// in 2025 (it answers 410). Parameters: <c>summary</c>, <c>description</c>, <c>project</c>, <c>issue_type</c>,
/// <c>priority</c>, <c>labels</c>.
/// </remarks>
internal sealed class JiraTicketHandler(ConnectorHttp http, ConnectorActionOptions options) : ConnectorHandler(http)
{
    public const string Action = "ticket.jira";
    private const int MaxRemembered = 10_000;
    private const int SummaryLength = 255;

    private static readonly SemaphoreSlim[] Stripes = [.. Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1))];

    private readonly ConcurrentDictionary<string, JsonObject> _filed = new(StringComparer.Ordinal);

    public override IReadOnlyCollection<string> Actions { get; } = [Action];

    protected override ConnectorType ConnectorType => ConnectorType.Jira;

    /// <summary>The issue's label for an incident.</summary>
    public static string IncidentLabel(string incidentId) => "bulwark-" + incidentId;

    /// <summary>Files <paramref name="ticket"/> through <paramref name="jira"/> unless it exists; the output names the issue.</summary>
    public async Task<ActionOutcome> FileAsync(ActionCall call, ConnectorDefinition jira, JiraTicket ticket, CancellationToken cancellationToken)
    {
        if (Invalid(jira, ticket) is { } invalid)
        {
            return ActionOutcome.Failed(RetryOn.None, invalid);
        }

        if (call.Previous?["key"] is JsonValue previous && previous.TryGetValue<string>(out var previousKey) && previousKey.Length > 0)
        {
            return ActionOutcome.Success(output: Output(jira, previousKey, call.Previous["id"]?.ToString(), call.Previous["self"]?.ToString(), created: false));
        }

        if (!Http.TryResolveSecret(jira, out var secret, out var failure))
        {
            return failure;
        }

        if (!secret.Value.Contains(':', StringComparison.Ordinal))
        {
            return ActionOutcome.Failed(RetryOn.None, $"connector '{jira.Name}': the secret is not email:api-token");
        }

        var remembered = jira.Name + "\n" + ticket.DedupLabel;
        var stripe = Stripes[(int)((uint)StringComparer.Ordinal.GetHashCode(remembered) % Stripes.Length)];
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_filed.TryGetValue(remembered, out var known))
            {
                return ActionOutcome.Success(output: Reused(known));
            }

            var search = await Http.SendAsync(call, jira, SearchRequest(jira, ticket, secret), secret, cancellationToken).ConfigureAwait(false);
            if (!search.IsSuccess)
            {
                return ConnectorHttp.Classify(search, $"Jira search (connector '{jira.Name}')");
            }

            if (FirstIssue(search.Body) is { } found)
            {
                var output = Output(jira, found.Key, found.Id, found.Self, created: false);
                Remember(remembered, output);
                return ActionOutcome.Success(search.Status, output);
            }

            var create = await Http.SendAsync(call, jira, CreateRequest(jira, ticket, secret), secret, cancellationToken).ConfigureAwait(false);
            if (!create.IsSuccess)
            {
                return ConnectorHttp.Classify(create, $"Jira (connector '{jira.Name}')");
            }

            if (Created(create.Body) is not { } issue)
            {
                // Filed, but the answer does not say as what: the next attempt's search finds it.
                return ActionOutcome.Failed(RetryOn.ServerError, $"Jira (connector '{jira.Name}') answered {create.Status} without an issue key", create.Status);
            }

            var filed = Output(jira, issue.Key, issue.Id, issue.Self, created: true);
            Remember(remembered, filed);
            return ActionOutcome.Success(create.Status, filed);
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>The two requests a call may make, secrets masked.</summary>
    public static JsonObject DescribeFiling(ActionCall call, ConnectorDefinition jira, JiraTicket ticket)
    {
        if (Invalid(jira, ticket) is { } invalid)
        {
            return DescribeError(invalid);
        }

        var create = CreateRequest(jira, ticket, ConnectorSecret.Masked).Describe(call);
        create["search_first"] = SearchRequest(jira, ticket, ConnectorSecret.Masked).Describe(call);
        return create;
    }

    /// <summary>Labels are single words: whitespace is refused by Jira.</summary>
    public static bool IsLabel(string label) => label.Length is > 0 and <= 255 && !label.Any(char.IsWhiteSpace);

    protected override Task<ActionOutcome> ExecuteCoreAsync(ActionCall call, ConnectorDefinition connector, CancellationToken cancellationToken) =>
        IncidentTicket(call, connector, out var ticket, out var error)
            ? FileAsync(call, connector, ticket, cancellationToken)
            : Task.FromResult(ActionOutcome.Failed(RetryOn.None, error));

    protected override JsonObject DescribeCore(ActionCall call, ConnectorDefinition connector) =>
        IncidentTicket(call, connector, out var ticket, out var error) ? DescribeFiling(call, connector, ticket) : DescribeError(error);

    private bool IncidentTicket(ActionCall call, ConnectorDefinition connector, out JiraTicket ticket, out string error)
    {
        var incident = call.Incident;
        var label = IncidentLabel(incident.Id);
        List<string> labels = ["bulwark", label];
        error = string.Empty;
        ticket = null!;
        if (call.Parameters["labels"] is JsonArray extra)
        {
            foreach (var item in extra)
            {
                if (item is not JsonValue value || !value.TryGetValue<string>(out var text) || !IsLabel(text))
                {
                    error = "ticket.jira: every label is a non-empty string without spaces";
                    return false;
                }

                if (!labels.Contains(text, StringComparer.Ordinal))
                {
                    labels.Add(text);
                }
            }
        }

        var link = options.IncidentLink(incident.Id);
        var content = new List<JsonObject>();
        if (Text(call, "description") is { Length: > 0 } description)
        {
            content.Add(Adf.Paragraph(Adf.Text(description)));
        }

        content.Add(Adf.Paragraph(Adf.Strong("Incident "), Adf.Link(incident.Id, link), Adf.Text(": " + incident.Title)));
        content.Add(Adf.BulletList(IncidentFacts.Lines(incident).Select(l => Adf.Paragraph(Adf.Strong(l.Label + ": "), Adf.Text(l.Value)))));
        content.Add(Adf.Paragraph(Adf.Text($"Filed by Bulwark: playbook {call.Playbook}, run {call.RunId}, step {call.StepId}, correlation id {call.CorrelationId}.")));
        ticket = new JiraTicket
        {
            Project = Text(call, "project") ?? connector.Project,
            IssueType = Text(call, "issue_type") ?? connector.IssueType,
            Summary = IncidentFacts.Cut(Text(call, "summary") ?? $"[Bulwark] {incident.Title} ({incident.Id})", SummaryLength),
            Description = Adf.Doc(content),
            Labels = labels,
            DedupLabel = label,
            Priority = Text(call, "priority"),
        };
        return true;
    }

    private static string? Invalid(ConnectorDefinition jira, JiraTicket ticket)
    {
        if (jira.Url is null)
        {
            return $"connector '{jira.Name}' has no url (the Jira site)";
        }

        if (string.IsNullOrEmpty(ticket.Project))
        {
            return $"connector '{jira.Name}' has no project, and the step names none";
        }

        return IsLabel(ticket.DedupLabel) ? null : $"'{ticket.DedupLabel}' cannot be a Jira label";
    }

    private static ConnectorRequest SearchRequest(ConnectorDefinition jira, JiraTicket ticket, ConnectorSecret secret)
    {
        var jql = $"labels = \"{ticket.DedupLabel.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
        var url = Site(jira) + "rest/api/3/search/jql?jql=" + Uri.EscapeDataString(jql) + "&fields=summary&maxResults=1";
        return ConnectorRequest.WithJson(HttpMethod.Get, url, null, Auth(secret));
    }

    private static ConnectorRequest CreateRequest(ConnectorDefinition jira, JiraTicket ticket, ConnectorSecret secret)
    {
        var fields = new JsonObject
        {
            ["project"] = new JsonObject { ["key"] = ticket.Project },
            ["summary"] = ticket.Summary,
            ["issuetype"] = new JsonObject { ["name"] = ticket.IssueType },
            ["description"] = ticket.Description.DeepClone(),
            ["labels"] = new JsonArray([.. ticket.Labels.Select(l => (JsonNode)l)]),
        };
        if (ticket.Priority is { Length: > 0 } priority)
        {
            fields["priority"] = new JsonObject { ["name"] = priority };
        }

        return ConnectorRequest.WithJson(HttpMethod.Post, Site(jira) + "rest/api/3/issue", new JsonObject { ["fields"] = fields }, Auth(secret));
    }

    private static KeyValuePair<string, string>[] Auth(ConnectorSecret secret) =>
        [new("Authorization", secret.Basic()), new("Accept", "application/json")];

    private static string Site(ConnectorDefinition jira)
    {
        var site = jira.Url!.AbsoluteUri;
        return site.EndsWith('/') ? site : site + "/";
    }

    private static JsonObject Output(ConnectorDefinition jira, string key, string? id, string? self, bool created)
    {
        var output = new JsonObject { ["key"] = key };
        if (id is not null)
        {
            output["id"] = id;
        }

        if (self is not null)
        {
            output["self"] = self;
        }

        output["url"] = Site(jira) + "browse/" + Uri.EscapeDataString(key);
        output["created"] = created;
        return output;
    }

    private static JsonObject Reused(JsonObject known)
    {
        var output = (JsonObject)known.DeepClone();
        output["created"] = false;
        return output;
    }

    private void Remember(string remembered, JsonObject output)
    {
        if (_filed.Count >= MaxRemembered)
        {
            _filed.Clear();
        }

        _filed[remembered] = (JsonObject)output.DeepClone();
    }

    private static (string Key, string? Id, string? Self)? FirstIssue(string body) =>
        Parse(body)?["issues"] is JsonArray { Count: > 0 } issues && issues[0] is JsonObject issue ? Issue(issue) : null;

    private static (string Key, string? Id, string? Self)? Created(string body) => Parse(body) is { } issue ? Issue(issue) : null;

    private static (string Key, string? Id, string? Self)? Issue(JsonObject issue) =>
        issue["key"] is JsonValue key && key.TryGetValue<string>(out var text) && text.Length > 0
            ? (text, issue["id"]?.ToString(), issue["self"]?.ToString())
            : null;

    private static JsonObject? Parse(string body)
    {
        try
        {
            return JsonNode.Parse(body) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
