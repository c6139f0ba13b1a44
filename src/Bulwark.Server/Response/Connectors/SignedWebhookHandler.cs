using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Ingest;
using Bulwark.Response;

namespace Bulwark.Server.Response.Connectors;

/// <summary>
/// <c>webhook.signed</c>: a Standard Webhooks v1 POST to a partner's endpoint (the connector's URL), signed with the
/// connector's <c>whsec_…</c> secret. <c>webhook-id</c> is the call's idempotency key (the same on every attempt),
/// <c>webhook-timestamp</c> the attempt's time; the body is <c>{"type", "timestamp", "data"}</c> with the <c>type</c>
/// parameter (default <c>bulwark.incident</c>), the incident's last change and the <c>data</c> parameter (default: the
/// incident and the call). Outcomes follow the specification: 2xx succeeded; 410 Gone means the partner disabled the
/// endpoint (no retry); 429 and 408 as usual; every other answer, redirects and 4xx included, is a failure to retry
/// (reported as <see cref="RetryOn.ServerError"/>). The retry schedule is the executor's.
/// </summary>
internal sealed class SignedWebhookHandler(ConnectorHttp http) : ConnectorHandler(http)
{
    public const string Action = "webhook.signed";

    public override IReadOnlyCollection<string> Actions { get; } = [Action];

    protected override ConnectorType ConnectorType => ConnectorType.Webhook;

    protected override async Task<ActionOutcome> ExecuteCoreAsync(ActionCall call, ConnectorDefinition connector, CancellationToken cancellationToken)
    {
        if (Invalid(call, connector) is { } invalid)
        {
            return ActionOutcome.Failed(RetryOn.None, invalid);
        }

        if (!Http.TryResolveSecret(connector, out var secret, out var failure))
        {
            return failure;
        }

        if (StandardWebhooksScheme.ValidateSecret(secret.Value) is { } unusable)
        {
            return ActionOutcome.Failed(RetryOn.None, $"connector '{connector.Name}': {unusable}");
        }

        var answer = await Http.SendAsync(call, connector, Build(call, connector, secret), secret, cancellationToken).ConfigureAwait(false);
        var service = $"partner endpoint (connector '{connector.Name}')";
        if (answer.Failure is null && !answer.IsSuccess)
        {
            if (answer.Status == 410)
            {
                return ActionOutcome.Failed(RetryOn.None, $"{service} answered 410 Gone: it no longer accepts these webhooks", 410);
            }

            if (answer.Status is not (429 or 408 or >= 500))
            {
                var detail = answer.Excerpt.Length == 0 ? string.Empty : ": " + answer.Excerpt;
                return ActionOutcome.Failed(RetryOn.ServerError, $"{service} answered {answer.Status}{detail}", answer.Status, answer.RetryAfter);
            }
        }

        return ConnectorHttp.Classify(answer, service, new JsonObject { ["webhook_id"] = call.IdempotencyKey });
    }

    protected override JsonObject DescribeCore(ActionCall call, ConnectorDefinition connector) =>
        Invalid(call, connector) is { } invalid ? DescribeError(invalid) : Build(call, connector, ConnectorSecret.Masked).Describe(call);

    private static string? Invalid(ActionCall call, ConnectorDefinition connector) =>
        connector.Url is null ? $"connector '{connector.Name}' has no url (the partner's endpoint)"
        : call.IdempotencyKey.Length == 0 || call.IdempotencyKey.Contains('.', StringComparison.Ordinal) ? "webhook.signed: the idempotency key cannot be a webhook-id (empty or has a full stop)"
        : null;

    private ConnectorRequest Build(ActionCall call, ConnectorDefinition connector, ConnectorSecret secret)
    {
        var incident = call.Incident;
        var data = call.Parameters["data"] is JsonObject given ? given.DeepClone() : new JsonObject
        {
            ["incident"] = incident.ToDocument(),
            ["playbook"] = call.Playbook,
            ["run"] = call.RunId,
            ["step"] = call.StepId,
            ["target"] = call.Target,
            ["correlation_id"] = call.CorrelationId,
        };
        var body = new JsonObject
        {
            ["type"] = Text(call, "type") ?? "bulwark.incident",
            ["timestamp"] = AuditChain.FormatTime(incident.UpdatedAt),
            ["data"] = data,
        };
        var unsigned = ConnectorRequest.WithJson(HttpMethod.Post, connector.Url!.AbsoluteUri, body);
        var now = Http.Time.GetUtcNow();
        var signature = secret.IsMasked ? "v1," + ConnectorSecret.Mask : StandardWebhooksSigner.Sign(secret.Value, call.IdempotencyKey, now, unsigned.Content);
        return unsigned with
        {
            Headers =
            [
                new("webhook-id", call.IdempotencyKey),
                new("webhook-timestamp", now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
                new("webhook-signature", signature),
            ],
        };
    }
}
