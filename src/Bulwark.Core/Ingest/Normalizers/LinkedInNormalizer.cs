using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.Ingest;

/// <summary>
/// <c>linkedin</c>: a webhook notification <c>{"type", "notificationId", …}</c> or an array of them. One event per
/// notification, its id the <c>notificationId</c> (LinkedIn's dedupe key). See docs/webhooks.md for accounts and types.
/// </summary>
internal sealed class LinkedInNormalizer : NormalizerBase
{
    private static readonly string[] PolicyWords = ["security", "policy", "compliance", "violation"];

    public override string Name => "linkedin";

    public override string DefaultPlatform => "linkedin";

    protected override NormalizeResult NormalizeCore(NormalizeInput input)
    {
        using var document = JsonBody.TryParse(input.Body, out var failure);
        if (document is null)
        {
            return NormalizeResult.Failed(failure);
        }

        var root = document.RootElement;
        var builder = new NormalizeBuilder();
        var platform = PlatformOf(input);
        var receivedAt = Rfc3339.ToWire(input.ReceivedAt);
        switch (root.ValueKind)
        {
            case JsonValueKind.Object:
                MapOne(root, 0, input, platform, receivedAt, builder);
                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in root.EnumerateArray())
                {
                    MapOne(item, index++, input, platform, receivedAt, builder);
                }

                break;
            default:
                return NormalizeResult.Failed($"a LinkedIn body is a notification object or an array of them, not {Describe(root)}");
        }

        return builder.Build();
    }

    private static void MapOne(JsonElement item, int index, NormalizeInput input, string platform, DateTimeOffset receivedAt, NormalizeBuilder builder)
    {
        try
        {
            if (Map(item, input, platform, receivedAt, out var problem) is { } value)
            {
                builder.Add(index, value);
            }
            else
            {
                builder.Issue(index, problem);
            }
        }
        catch (Exception e) when (IsBodyFault(e))
        {
            builder.Issue(index, DescribeFault(e));
        }
    }

    private static NormalizedEvent? Map(JsonElement item, NormalizeInput input, string platform, DateTimeOffset receivedAt, out string problem)
    {
        problem = "";
        if (item.ValueKind != JsonValueKind.Object)
        {
            problem = $"the notification is {Describe(item)}, not an object";
            return null;
        }

        var type = JsonFields.String(item, "type"u8);
        var notificationId = JsonFields.Id(item, "notificationId"u8);
        var actorUrn = JsonFields.String(item, "actor"u8);
        var account = JsonFields.String(item, "organizationalEntity"u8) ?? JsonFields.String(item, "owner"u8) ?? actorUrn;
        if (type is null || notificationId is null || account is null)
        {
            problem = type is null ? "the notification has no type"
                : notificationId is null ? "the notification has no notificationId"
                : "the notification names no account: no organizationalEntity, owner or actor URN";
            return null;
        }

        if (!TryTime(item, receivedAt, out var timestamp))
        {
            problem = "the notification's lastModifiedAt, createdAt or timestamp cannot be read";
            return null;
        }

        var details = new JsonObject { ["source_type"] = type };
        var action = JsonFields.String(item, "action"u8);
        string eventType;
        if (IsPolicyType(type))
        {
            eventType = "policy_flag";
            details["policy"] = type.ToLowerInvariant();
        }
        else
        {
            eventType = CustomEventType.From("linkedin", type);
        }

        if (action is not null)
        {
            details["action"] = action;
        }

        return new NormalizedEvent(notificationId, input.Source, platform, eventType, account, timestamp, EventParts.Actor(id: actorUrn), receivedAt, null, details);
    }

    internal static bool IsPolicyType(string type)
    {
        foreach (var word in PolicyWords)
        {
            if (type.Contains(word, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The first of <c>lastModifiedAt</c>, <c>createdAt</c>, <c>timestamp</c> present (Unix ms or s, or RFC 3339); the arrival when none is.</summary>
    private static bool TryTime(JsonElement item, DateTimeOffset receivedAt, out DateTimeOffset timestamp)
    {
        if (JsonFields.TryGet(item, "lastModifiedAt"u8, out var value)
            || JsonFields.TryGet(item, "createdAt"u8, out value)
            || JsonFields.TryGet(item, "timestamp"u8, out value))
        {
            return JsonFields.TryTimestamp(value, out timestamp);
        }

        timestamp = receivedAt;
        return true;
    }
}
