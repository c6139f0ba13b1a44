using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.TestUtils.Fakes;

/// <summary>A PagerDuty alert as the fake keeps it.</summary>
public sealed record PagerDutyAlert(string DedupKey, string Status, int Triggers, JsonObject LastPayload);

/// <summary>
/// PagerDuty Events API v2: <c>POST /v2/enqueue</c>. Validates the event as PagerDuty does (routing key, event action,
/// and for a trigger <c>payload.summary</c>, <c>payload.source</c> and <c>payload.severity</c> ∈ critical, error,
/// warning, info; a dedup key of at most 255 characters) and answers 202
/// <c>{"status":"success","message":"Event processed","dedup_key":…}</c> or 400
/// <c>{"status":"invalid event","message":"Event object is invalid","errors":[…]}</c>. A trigger with the key of an
/// open alert updates it; after a resolve, a trigger opens a new alert; a resolve with no open alert is dropped.
/// </summary>
public sealed class FakePagerDuty : LoopbackFake
{
    private static readonly string[] Severities = ["critical", "error", "warning", "info"];

    private readonly Lock _gate = new();
    private readonly List<PagerDutyAlert> _alerts = [];

    private FakePagerDuty(string routingKey) => RoutingKey = routingKey;

    public string RoutingKey { get; }

    /// <summary>The enqueue URL (a PagerDuty connector's URL).</summary>
    public Uri EnqueueUrl => new(BaseAddress, "v2/enqueue");

    /// <summary>Every alert, in the order opened.</summary>
    public IReadOnlyList<PagerDutyAlert> Alerts
    {
        get
        {
            lock (_gate)
            {
                return [.. _alerts];
            }
        }
    }

    public static Task<FakePagerDuty> StartAsync(string routingKey = "R0UT1NGKEY0123456789ABCDEFGHIJKL") => StartAsync(new FakePagerDuty(routingKey));

    protected override FakeAnswer Answer(RecordedRequest request)
    {
        if (request.Method != "POST" || request.Path != "/v2/enqueue")
        {
            return FakeAnswer.Json(404, new JsonObject { ["status"] = "not found" });
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
            return Invalid("Event object is not JSON");
        }

        if (Text(message, "routing_key") != RoutingKey)
        {
            return Invalid("Invalid routing key");
        }

        var action = Text(message, "event_action");
        var key = Text(message, "dedup_key");
        if (key is { Length: > 255 })
        {
            return Invalid("'dedup_key' is longer than 255 characters");
        }

        lock (_gate)
        {
            var open = key is null ? -1 : _alerts.FindLastIndex(a => a.DedupKey == key && a.Status != "resolved");
            switch (action)
            {
                case "trigger":
                    if (message["payload"] is not JsonObject payload
                        || Text(payload, "summary") is not { Length: > 0 and <= 1024 }
                        || Text(payload, "source") is not { Length: > 0 }
                        || !Severities.Contains(Text(payload, "severity")))
                    {
                        return Invalid("'payload' needs summary (at most 1024), source and severity (critical, error, warning, info)");
                    }

                    key ??= Guid.NewGuid().ToString("N");
                    if (open >= 0)
                    {
                        _alerts[open] = _alerts[open] with { Triggers = _alerts[open].Triggers + 1, LastPayload = (JsonObject)payload.DeepClone() };
                    }
                    else
                    {
                        _alerts.Add(new PagerDutyAlert(key, "triggered", 1, (JsonObject)payload.DeepClone()));
                    }

                    break;
                case "acknowledge" or "resolve":
                    if (key is null)
                    {
                        return Invalid("'dedup_key' is required for " + action);
                    }

                    if (open >= 0)
                    {
                        _alerts[open] = _alerts[open] with { Status = action == "resolve" ? "resolved" : "acknowledged" };
                    }

                    break;
                default:
                    return Invalid("'event_action' is one of trigger, acknowledge, resolve");
            }
        }

        return FakeAnswer.Json(202, new JsonObject { ["status"] = "success", ["message"] = "Event processed", ["dedup_key"] = key });
    }

    private static FakeAnswer Invalid(string error) => FakeAnswer.Json(400, new JsonObject
    {
        ["status"] = "invalid event",
        ["message"] = "Event object is invalid",
        ["errors"] = new JsonArray(error),
    });

    private static string? Text(JsonObject obj, string name) => obj[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
