using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.Manifests;

namespace Bulwark.Response;

/// <summary>
/// Manifest kind <c>Connector</c> (API collection <c>connectors</c>). Every error is reported with its JSON Pointer path.
/// <code>
/// name: instagram-api
/// type: platform                 # platform | slack | pagerduty | jira | webhook | http
/// url: https://api.instagram.example
/// secret: env:INSTAGRAM_API_TOKEN  # a reference (env:NAME or file:/path), never the value
/// platform: instagram            # platform connectors: whose accounts it acts on
/// timeout: 5s
/// breaker: { failures: 5, open_for: 30s }
/// actions:                       # platform connectors: replace a default mapping, or file a ticket instead
///   platform.expire_sessions: { method: POST, path: "/v2/users/{{target}}/logout", body: { reason: "{{incident.id}}" } }
///   platform.force_password_reset: ticket
/// ticket_connector: jira         # the Jira connector that files those tickets
/// # jira: url, project: SEC, issue_type: Task, secret (email:api-token)
/// </code>
/// Per type: <c>slack</c> needs <c>secret</c> (the incoming webhook URL) and takes no <c>url</c>; <c>pagerduty</c>
/// needs <c>secret</c> (the routing key), <c>url</c> defaults to the Events API v2; <c>jira</c> needs <c>url</c>,
/// <c>project</c> and <c>secret</c>; <c>webhook</c> needs <c>url</c> and <c>secret</c> (the <c>whsec_…</c> signing
/// secret); <c>platform</c> needs <c>url</c> and <c>platform</c>; <c>http</c> needs <c>url</c>. Secrets are only
/// checked to be references here; whether they resolve is the server's business when it calls.
/// </summary>
public sealed partial class ConnectorKind : ManifestKind<ConnectorDefinition>
{
    private static readonly string[] Methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    /// <summary>The instance.</summary>
    public static ConnectorKind Instance { get; } = new();

    /// <inheritdoc />
    public override string Kind => "Connector";

    /// <inheritdoc />
    public override string Plural => "connectors";

    /// <inheritdoc />
    public override Capability ChangeCapability => Capability.Configure;

    /// <inheritdoc />
    protected override ConnectorDefinition? ReadCore(ManifestReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var before = reader.Errors.Count;
        var name = reader.ReadName();
        var description = reader.ReadString("description", maxLength: 2000);
        var type = reader.ReadEnum("type", ResponseNames.ConnectorTypes, required: true);
        var url = ReadUrl(reader);
        var secret = ReadSecret(reader);
        var platform = reader.ReadString("platform", maxLength: 50);
        if (platform is not null && !PlaybookKind.NamePattern().IsMatch(platform))
        {
            reader.Error("platform", "must be a platform name such as instagram or x");
        }

        var timeout = reader.ReadDuration("timeout", TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(5)) ?? TimeSpan.FromSeconds(5);
        var (failures, openFor) = ReadBreaker(reader);
        var actions = ReadActions(reader);
        var ticketConnector = reader.ReadString("ticket_connector", maxLength: 63);
        if (ticketConnector is not null && !PlaybookKind.NamePattern().IsMatch(ticketConnector))
        {
            reader.Error("ticket_connector", "must be a connector name");
        }
        else if (ticketConnector is not null && ticketConnector == name)
        {
            reader.Error("ticket_connector", "must name another connector (a jira one)");
        }

        var project = reader.ReadString("project", maxLength: 20);
        if (project is not null && !ProjectPattern().IsMatch(project))
        {
            reader.Error("project", "must be a Jira project key such as SEC");
        }

        var issueType = reader.ReadString("issue_type", maxLength: 100);
        if (issueType is { Length: 0 })
        {
            reader.Error("issue_type", "must not be empty");
        }

        if (type is { } t)
        {
            CheckType(reader, t, actions);
        }

        var document = (JsonObject)reader.Object.DeepClone();
        document.Remove("kind");
        if (name is null || type is null || actions is null || reader.Errors.Count > before)
        {
            return null;
        }

        return new ConnectorDefinition
        {
            Name = name,
            Description = description,
            Type = type.Value,
            Url = url ?? (type == ConnectorType.PagerDuty ? ConnectorDefinition.PagerDutyEventsUrl : null),
            Secret = secret,
            Platform = platform,
            Timeout = timeout,
            BreakerFailures = failures,
            BreakerOpenFor = openFor,
            Actions = actions,
            TicketConnector = ticketConnector,
            Project = project,
            IssueType = issueType ?? "Task",
            Document = document,
        };
    }

    /// <inheritdoc />
    protected override string NameOfCore(ConnectorDefinition definition) => definition.Name;

    /// <inheritdoc />
    protected override JsonObject WriteCore(ConnectorDefinition definition) => (JsonObject)definition.Document.DeepClone();

    private static void CheckType(ManifestReader reader, ConnectorType type, Dictionary<string, HttpMapping>? actions)
    {
        var has = (string field) => reader.Object.TryGetPropertyValue(field, out var node) && node is not null;
        var typeName = ResponseNames.Name(ResponseNames.ConnectorTypes, type);
        void Require(string field, string what)
        {
            if (!has(field))
            {
                reader.Error(field, $"is required for a {typeName} connector: {what}");
            }
        }

        void Refuse(string field, string why)
        {
            if (has(field))
            {
                reader.Error(field, why);
            }
        }

        switch (type)
        {
            case ConnectorType.Slack:
                Require("secret", "a reference to the incoming webhook URL");
                Refuse("url", "a Slack incoming webhook URL is a secret: give it as secret (env:NAME or file:PATH)");
                break;
            case ConnectorType.PagerDuty:
                Require("secret", "a reference to the routing key (the integration key)");
                break;
            case ConnectorType.Jira:
                Require("url", "the Jira site, such as https://example.atlassian.net");
                Require("project", "the project key issues are filed in");
                Require("secret", "a reference to email:api-token");
                break;
            case ConnectorType.Webhook:
                Require("url", "the partner's endpoint");
                Require("secret", "a reference to the whsec_… signing secret");
                break;
            case ConnectorType.Platform:
                Require("url", "the platform API's base URL");
                Require("platform", "the platform whose accounts it acts on");
                break;
            case ConnectorType.Http:
                Require("url", "the API's base URL");
                break;
        }

        if (type != ConnectorType.Platform)
        {
            Refuse("platform", "applies to platform connectors only");
            Refuse("actions", "applies to platform connectors only");
            Refuse("ticket_connector", "applies to platform connectors only");
        }
        else if (actions is not null && actions.Values.Any(m => m.IsTicket) && !has("ticket_connector"))
        {
            reader.Error("ticket_connector", "is required when an action is mapped to ticket: the jira connector that files the tickets");
        }

        if (type != ConnectorType.Jira)
        {
            Refuse("project", "applies to jira connectors only");
            Refuse("issue_type", "applies to jira connectors only");
        }
    }

    private static Uri? ReadUrl(ManifestReader reader)
    {
        var text = reader.ReadString("url", maxLength: 2048);
        if (text is null)
        {
            return null;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.UserInfo.Length > 0)
        {
            reader.Error("url", "must be an absolute http or https URL without credentials (credentials go in secret)");
            return null;
        }

        return url;
    }

    private static SecretReference? ReadSecret(ManifestReader reader)
    {
        var text = reader.ReadString("secret", maxLength: 1100);
        if (text is null)
        {
            return null;
        }

        if (SecretReference.TryParse(text, out var reference, out var error))
        {
            return reference;
        }

        reader.Error("secret", error);
        return null;
    }

    private static (int Failures, TimeSpan OpenFor) ReadBreaker(ManifestReader reader)
    {
        var breaker = reader.ReadObject("breaker");
        if (breaker is null)
        {
            return (5, TimeSpan.FromSeconds(30));
        }

        var failures = breaker.ReadNumber("failures", 1, 1000) ?? 5;
        if (failures != Math.Floor(failures))
        {
            breaker.Error("failures", "must be a whole number");
        }

        var openFor = breaker.ReadDuration("open_for", TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)) ?? TimeSpan.FromSeconds(30);
        breaker.RejectUnknownFields();
        return ((int)failures, openFor);
    }

    private static Dictionary<string, HttpMapping>? ReadActions(ManifestReader reader)
    {
        var result = new Dictionary<string, HttpMapping>(StringComparer.Ordinal);
        var actions = reader.ReadObject("actions");
        if (actions is null)
        {
            return reader.ReadRaw("actions") is null ? result : null;
        }

        var before = reader.Errors.Count;
        foreach (var field in actions.FieldNames)
        {
            var action = PlaybookActions.Find(field);
            if (action is null || action.Connector != ConnectorType.Platform)
            {
                actions.Error(field, $"'{field}' is not a platform action: use one of {string.Join(", ", PlaybookActions.All.Where(a => a.Connector == ConnectorType.Platform).Select(a => a.Name))}");
                actions.Ignore(field);
                continue;
            }

            var node = actions.ReadRaw(field);
            if (node is JsonValue value && value.TryGetValue<string>(out var text))
            {
                if (text == "ticket")
                {
                    result[field] = HttpMapping.Ticket;
                }
                else
                {
                    actions.Error(field, "must be { method, path, body } or ticket");
                }

                continue;
            }

            var mapping = actions.ReadObject(field);
            if (mapping is null)
            {
                continue;
            }

            var method = mapping.ReadString("method", required: true, maxLength: 10);
            if (method is not null && !Methods.Contains(method))
            {
                mapping.Error("method", $"'{method}' is not one of {string.Join(", ", Methods)}");
            }

            var path = mapping.ReadString("path", required: true, maxLength: 2048);
            if (path is not null && !path.StartsWith('/'))
            {
                mapping.Error("path", "must start with / (it is appended to the connector's url)");
            }
            else if (path is not null && !Templates.TryCompile(path, out _, out var error, visibleSteps: null, parameters: true))
            {
                mapping.Error("path", error!);
            }

            var bodyNode = mapping.ReadRaw("body");
            JsonObject? body = null;
            if (bodyNode is JsonObject bodyObject)
            {
                body = (JsonObject)bodyObject.DeepClone();
                Templates.Compile(bodyObject, mapping.PathOf("body"), mapping.Errors, visibleSteps: null, parameters: true);
            }
            else if (bodyNode is not null)
            {
                mapping.Error("body", $"must be an object, not {ManifestReader.Describe(bodyNode)}");
            }

            mapping.RejectUnknownFields();
            if (method is not null && path is not null)
            {
                result[field] = new HttpMapping(method, path, body);
            }
        }

        return reader.Errors.Count == before ? result : null;
    }

    [GeneratedRegex(@"\A[A-Z][A-Z0-9_]{0,9}\z", RegexOptions.CultureInvariant)]
    private static partial Regex ProjectPattern();
}

/// <summary>Checks across manifests, for the server, which knows every connector.</summary>
public static class PlaybookChecks
{
    /// <summary>
    /// Checks that every connector a playbook names exists and is of the type its step's action calls, and that a
    /// platform connector whose actions file tickets names an existing Jira connector.
    /// </summary>
    /// <param name="playbook">The playbook.</param>
    /// <param name="findConnector">Finds a connector by name.</param>
    /// <returns>Every problem, at the JSON Pointer of the offending field.</returns>
    public static IReadOnlyList<ManifestError> CheckConnectors(PlaybookDefinition playbook, Func<string, ConnectorDefinition?> findConnector)
    {
        ArgumentNullException.ThrowIfNull(playbook);
        ArgumentNullException.ThrowIfNull(findConnector);
        var errors = new List<ManifestError>();
        for (var i = 0; i < playbook.Steps.Count; i++)
        {
            var step = playbook.Steps[i];
            if (step.Connector is not { } name)
            {
                continue;
            }

            var connector = findConnector(name);
            var wanted = PlaybookActions.Find(step.Action)?.Connector ?? PlaybookActions.Find(step.Compensate?.Action)?.Connector;
            if (connector is null)
            {
                errors.Add(new ManifestError($"/steps/{i}/connector", $"there is no connector '{name}'"));
            }
            else if (wanted is { } type && connector.Type != type)
            {
                errors.Add(new ManifestError($"/steps/{i}/connector", $"'{name}' is a {ResponseNames.Name(ResponseNames.ConnectorTypes, connector.Type)} connector; {step.Action} needs a {ResponseNames.Name(ResponseNames.ConnectorTypes, type)} one"));
            }
            else if (connector.Type == ConnectorType.Platform && connector.TicketConnector is { } ticket && connector.Actions.Values.Any(m => m.IsTicket) &&
                findConnector(ticket) is not { Type: ConnectorType.Jira })
            {
                errors.Add(new ManifestError($"/steps/{i}/connector", $"'{name}' files tickets through '{ticket}', which is not a jira connector"));
            }
        }

        return errors;
    }
}
