using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.Server.Response.Connectors;

/// <summary>
/// A connector's credential as a request builder sees it: the value when calling, or <see cref="Mask"/> when only
/// describing. Builders write every secret-bearing part through it, so that a description is the very request that would
/// be sent with the secret masked.
/// </summary>
internal readonly record struct ConnectorSecret
{
    public const string Mask = "***";

    private readonly string? _value;

    private ConnectorSecret(string? value) => _value = value;

    /// <summary>The secret for a description.</summary>
    public static ConnectorSecret Masked => default;

    public static ConnectorSecret Of(string value) => new(value);

    public bool IsMasked => _value is null;

    /// <summary>The value, or <see cref="Mask"/>.</summary>
    public string Value => _value ?? Mask;

    /// <summary><c>Bearer &lt;token&gt;</c>.</summary>
    public string Bearer() => "Bearer " + Value;

    /// <summary><c>Basic base64(&lt;user:password&gt;)</c>, or <c>Basic ***</c>.</summary>
    public string Basic() => "Basic " + (_value is null ? Mask : Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(_value)));

    public override string ToString() => Mask;
}

/// <summary>One HTTP request to an outside service, built for sending or (with a masked secret) for describing.</summary>
internal sealed record ConnectorRequest
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    public required HttpMethod Method { get; init; }

    /// <summary>The absolute URL; <see cref="ConnectorSecret.Mask"/> in a description when the URL is itself the secret.</summary>
    public required string Url { get; init; }

    /// <summary>Headers besides <c>Idempotency-Key</c>, <c>X-Correlation-ID</c> and <c>Content-Type</c>, which every request gets.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>The JSON body, for a description.</summary>
    public JsonNode? Json { get; private init; }

    /// <summary>The exact bytes sent.</summary>
    public byte[]? Content { get; private init; }

    /// <summary>A request whose body is <paramref name="json"/>, serialized once (a signature covers these exact bytes).</summary>
    public static ConnectorRequest WithJson(HttpMethod method, string url, JsonNode? json, IReadOnlyList<KeyValuePair<string, string>>? headers = null) => new()
    {
        Method = method,
        Url = url,
        Headers = headers ?? [],
        Json = json,
        Content = json is null ? null : JsonSerializer.SerializeToUtf8Bytes(json, Compact),
    };

    /// <summary>The request as a dry run records it.</summary>
    public JsonObject Describe(ActionCall call)
    {
        var headers = new JsonObject
        {
            ["Idempotency-Key"] = call.IdempotencyKey,
            ["X-Correlation-ID"] = call.CorrelationId,
        };
        if (Content is not null)
        {
            headers["Content-Type"] = "application/json";
        }

        foreach (var (name, value) in Headers)
        {
            headers[name] = value;
        }

        return new JsonObject
        {
            ["method"] = Method.Method,
            ["url"] = Url,
            ["headers"] = headers,
            ["body"] = Json?.DeepClone(),
        };
    }
}
