using System.Text.Json.Nodes;
using Bulwark.Response;

namespace Bulwark.Server.Response.Connectors;

/// <summary>
/// <c>notify.slack</c>: posts to a Slack incoming webhook, whose URL is the connector's secret. The message is
/// <c>{"text": …, "blocks": […]}</c>: <c>text</c> (the notification fallback) is the <c>text</c> parameter or the incident's
/// one-line summary; the blocks show the parameter's text, the incident with a link, its facts, and the run. A
/// <c>blocks</c> parameter replaces the built blocks. Slack answers 200 <c>ok</c>; its plain-text errors
/// (<c>invalid_payload</c>, <c>no_text</c>, <c>channel_not_found</c>, <c>channel_is_archived</c>,
/// <c>action_prohibited</c>, <c>no_service</c>) are failures no retry fixes, explained in the error.
/// </summary>
internal sealed class SlackNotifyHandler(ConnectorHttp http, ConnectorActionOptions options) : ConnectorHandler(http)
{
    public const string Action = "notify.slack";
    private const int SectionLength = 3000;
    private const int FieldLength = 2000;

    private static readonly Dictionary<string, string> Errors = new(StringComparer.Ordinal)
    {
        ["invalid_payload"] = "Slack could not read the message",
        ["no_text"] = "the message has no text",
        ["channel_not_found"] = "the webhook's channel no longer exists",
        ["channel_is_archived"] = "the webhook's channel is archived",
        ["action_prohibited"] = "a workspace admin restricted posting to the webhook's channel",
        ["no_service"] = "the webhook was revoked or its app removed",
        ["no_active_hooks"] = "the webhook was disabled",
        ["posting_to_general_channel_denied"] = "only admins may post to the webhook's channel",
        ["team_disabled"] = "the Slack workspace is disabled",
    };

    public override IReadOnlyCollection<string> Actions { get; } = [Action];

    protected override ConnectorType ConnectorType => ConnectorType.Slack;

    protected override async Task<ActionOutcome> ExecuteCoreAsync(ActionCall call, ConnectorDefinition connector, CancellationToken cancellationToken)
    {
        if (!Http.TryResolveSecret(connector, out var secret, out var failure))
        {
            return failure;
        }

        var answer = await Http.SendAsync(call, connector, Build(call, secret), secret, cancellationToken).ConfigureAwait(false);
        if (answer.Failure is null && !answer.IsSuccess && answer.Status is >= 400 and < 500 and not 429 and not 408)
        {
            var code = answer.Excerpt;
            var why = Errors.TryGetValue(code, out var explained) ? $" {code}: {explained}" : code.Length == 0 ? string.Empty : " " + code;
            return ActionOutcome.Failed(RetryOn.None, $"Slack (connector '{connector.Name}') answered {answer.Status}{why}", answer.Status);
        }

        return ConnectorHttp.Classify(answer, $"Slack (connector '{connector.Name}')");
    }

    protected override JsonObject DescribeCore(ActionCall call, ConnectorDefinition connector) => Build(call, ConnectorSecret.Masked).Describe(call);

    private ConnectorRequest Build(ActionCall call, ConnectorSecret secret)
    {
        var incident = call.Incident;
        var severity = IncidentFacts.Severity(incident).ToUpperInvariant();
        var given = Text(call, "text");
        var text = given ?? $"[{severity}] {incident.Title} ({incident.Id})";
        JsonArray blocks;
        if (call.Parameters["blocks"] is JsonArray custom)
        {
            blocks = (JsonArray)custom.DeepClone();
        }
        else
        {
            blocks = [];
            if (given is { Length: > 0 })
            {
                blocks.Add(Section(Escape(given)));
            }

            var link = options.IncidentLink(incident.Id);
            var reference = Uri.IsWellFormedUriString(link, UriKind.Absolute) ? $"<{link}|{Escape(incident.Id)}>" : $"`{Escape(incident.Id)}`";
            blocks.Add(Section($"*{severity}* incident {reference}: {Escape(incident.Title)}"));
            blocks.Add(new JsonObject
            {
                ["type"] = "section",
                ["fields"] = new JsonArray([.. IncidentFacts.Lines(incident).Where(l => l.Label != "Severity").Select(l => (JsonNode)Mrkdwn(
                    IncidentFacts.Cut($"*{l.Label}*\n{Escape(l.Value)}", FieldLength)))]),
            });
            blocks.Add(new JsonObject
            {
                ["type"] = "context",
                ["elements"] = new JsonArray(Mrkdwn(Escape($"Bulwark playbook {call.Playbook} · run {call.RunId} · step {call.StepId} · correlation {call.CorrelationId}"))),
            });
        }

        return ConnectorRequest.WithJson(HttpMethod.Post, secret.Value, new JsonObject { ["text"] = text, ["blocks"] = blocks });
    }

    private static JsonObject Section(string mrkdwn) => new() { ["type"] = "section", ["text"] = Mrkdwn(IncidentFacts.Cut(mrkdwn, SectionLength)) };

    private static JsonObject Mrkdwn(string text) => new() { ["type"] = "mrkdwn", ["text"] = text };

    /// <summary>Slack's three control characters in mrkdwn.</summary>
    private static string Escape(string text) => text
        .Replace("&", "&amp;", StringComparison.Ordinal)
        .Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal);
}
