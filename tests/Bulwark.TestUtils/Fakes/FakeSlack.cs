using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.TestUtils.Fakes;

/// <summary>
/// A Slack incoming webhook: <c>POST /services/T…/B…/…</c> with <c>{"text", "blocks"}</c>. 200 <c>ok</c> in plain text;
/// Slack's plain-text errors: <c>invalid_payload</c> (400) for a body that is not a JSON object, <c>no_text</c> (400)
/// without text or blocks, <c>no_service</c> (404) for any other URL. Other errors are scripted with
/// <see cref="LoopbackFake.FailNext(int, int, string, TimeSpan?)"/>.
/// </summary>
public sealed class FakeSlack : LoopbackFake
{
    private readonly string _path = "/services/T0BULWARK/B0BULWARK/" + Guid.NewGuid().ToString("N");

    private FakeSlack()
    {
    }

    /// <summary>The webhook URL: the secret a Slack connector holds.</summary>
    public string WebhookUrl => new Uri(BaseAddress, _path).AbsoluteUri;

    /// <summary>The JSON objects posted to the webhook URL (whatever the answer was).</summary>
    public IReadOnlyList<JsonObject> Posted => [.. Requests.Where(r => r.Path == _path && IsObject(r)).Select(r => (JsonObject)r.Json)];

    public static Task<FakeSlack> StartAsync() => StartAsync(new FakeSlack());

    protected override FakeAnswer Answer(RecordedRequest request)
    {
        if (request.Method != "POST" || request.Path != _path)
        {
            return FakeAnswer.Text(404, "no_service");
        }

        JsonObject? message;
        try
        {
            message = JsonNode.Parse(request.Body) as JsonObject;
        }
        catch (JsonException)
        {
            message = null;
        }

        if (message is null)
        {
            return FakeAnswer.Text(400, "invalid_payload");
        }

        var hasText = message["text"] is JsonValue text && text.TryGetValue<string>(out var value) && value.Length > 0;
        return hasText || message["blocks"] is JsonArray { Count: > 0 } ? FakeAnswer.Text(200, "ok") : FakeAnswer.Text(400, "no_text");
    }

    private static bool IsObject(RecordedRequest request)
    {
        try
        {
            return JsonNode.Parse(request.Body) is JsonObject;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
