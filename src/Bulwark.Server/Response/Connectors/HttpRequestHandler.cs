using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Response;

namespace Bulwark.Server.Response.Connectors;

/// <summary>
/// <c>http.request</c>: any HTTP API through an <c>http</c> connector. Parameters (already rendered): <c>method</c>
/// (default <c>POST</c>), <c>path</c> under the connector's URL (starting with <c>/</c>; it cannot leave the connector's
/// origin), <c>headers</c> (an object of strings; credentials come only from the connector's secret, sent as a bearer
/// token), <c>body</c> (any JSON). A small JSON answer is kept as the output's <c>response</c>.
/// </summary>
internal sealed class HttpRequestHandler(ConnectorHttp http) : ConnectorHandler(http)
{
    public const string Action = "http.request";
    private const int MaxKeptAnswer = 8 * 1024;

    private static readonly HashSet<string> Methods = new(["GET", "POST", "PUT", "PATCH", "DELETE"], StringComparer.Ordinal);

    /// <summary>Headers the handler sets itself, or that would defeat it.</summary>
    private static readonly HashSet<string> Reserved = new(
        ["authorization", "proxy-authorization", "cookie", "host", "content-length", "content-type", "transfer-encoding", "connection",
         "upgrade", "te", "expect", "idempotency-key", "x-correlation-id"],
        StringComparer.OrdinalIgnoreCase);

    public override IReadOnlyCollection<string> Actions { get; } = [Action];

    protected override ConnectorType ConnectorType => ConnectorType.Http;

    protected override async Task<ActionOutcome> ExecuteCoreAsync(ActionCall call, ConnectorDefinition connector, CancellationToken cancellationToken)
    {
        if (!TryBuild(call, connector, ConnectorSecret.Masked, out _, out var error))
        {
            return ActionOutcome.Failed(RetryOn.None, error);
        }

        var secret = ConnectorSecret.Masked;
        if (connector.Secret is not null && !Http.TryResolveSecret(connector, out secret, out var failure))
        {
            return failure;
        }

        TryBuild(call, connector, secret, out var request, out _);
        var answer = await Http.SendAsync(call, connector, request, secret, cancellationToken).ConfigureAwait(false);
        return ConnectorHttp.Classify(answer, $"connector '{connector.Name}'", answer.IsSuccess ? Output(answer.Body, secret) : null);
    }

    protected override JsonObject DescribeCore(ActionCall call, ConnectorDefinition connector) =>
        TryBuild(call, connector, ConnectorSecret.Masked, out var request, out var error) ? request.Describe(call) : DescribeError(error);

    private static bool TryBuild(ActionCall call, ConnectorDefinition connector, ConnectorSecret secret, out ConnectorRequest request, out string error)
    {
        request = null!;
        error = string.Empty;
        if (connector.Url is null)
        {
            error = $"connector '{connector.Name}' has no url";
            return false;
        }

        var method = (Text(call, "method") ?? "POST").ToUpperInvariant();
        if (!Methods.Contains(method))
        {
            error = $"http.request: method is one of GET, POST, PUT, PATCH, DELETE, not '{method}'";
            return false;
        }

        var path = Text(call, "path") ?? "/";
        var baseUrl = connector.Url.AbsoluteUri.TrimEnd('/');
        if (!path.StartsWith('/') || !Uri.TryCreate(baseUrl + path, UriKind.Absolute, out var url)
            || !string.Equals(url.GetLeftPart(UriPartial.Authority), connector.Url.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase))
        {
            error = "http.request: path starts with / and stays under the connector's url";
            return false;
        }

        var headers = new List<KeyValuePair<string, string>>();
        if (call.Parameters["headers"] is { } given)
        {
            if (given is not JsonObject named)
            {
                error = "http.request: headers is an object of strings";
                return false;
            }

            foreach (var (name, node) in named)
            {
                if (node is not JsonValue value || !value.TryGetValue<string>(out var text))
                {
                    error = $"http.request: header {name} is not a string";
                    return false;
                }

                if (name.Length == 0 || !name.All(IsTokenChar) || text.Any(c => c is '\r' or '\n' or '\0'))
                {
                    error = $"http.request: header '{name}' is not a valid header";
                    return false;
                }

                if (Reserved.Contains(name))
                {
                    error = $"http.request: header {name} is set by Bulwark (credentials come from the connector's secret)";
                    return false;
                }

                headers.Add(new(name, text));
            }
        }

        if (connector.Secret is not null)
        {
            headers.Add(new("Authorization", secret.Bearer()));
        }

        var body = call.Parameters["body"]?.DeepClone();
        request = ConnectorRequest.WithJson(new HttpMethod(method), url.AbsoluteUri, body, headers);
        return true;
    }

    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);

    private static JsonObject? Output(string body, ConnectorSecret secret)
    {
        if (body.Length == 0 || body.Length > MaxKeptAnswer)
        {
            return null;
        }

        if (!secret.IsMasked)
        {
            // An API that echoes the credential must not get it into the run's record.
            body = body.Replace(secret.Value, ConnectorSecret.Mask, StringComparison.Ordinal);
        }

        try
        {
            return JsonNode.Parse(body) is { } parsed ? new JsonObject { ["response"] = parsed } : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
