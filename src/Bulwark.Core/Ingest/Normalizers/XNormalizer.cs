using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.Ingest;

/// <summary>
/// <c>x</c>: an Account Activity delivery, <c>{"for_user_id": "…", "&lt;name&gt;": [ … ], …}</c>. One event per item of
/// every array member (and per member of the <c>user_event</c> object, such as <c>revoke</c>); other members (lookup
/// tables such as <c>users</c> and <c>apps</c>, flags such as <c>user_has_blocked</c>) are context, not events. Items
/// are numbered in body order across arrays. See docs/webhooks.md for ids, times and the table.
/// </summary>
internal sealed class XNormalizer : NormalizerBase
{
    private const string EventsSuffix = "_events";

    /// <summary>Compliance and enforcement notices (names without <c>_events</c>) and the action each stands for.</summary>
    private static readonly Dictionary<string, string> PolicyEvents = new(StringComparer.Ordinal)
    {
        ["tweet_delete"] = "delete",
        ["tweet_withheld"] = "withheld",
        ["tweet_drop"] = "drop",
        ["user_suspend"] = "suspend",
        ["user_unsuspend"] = "unsuspend",
        ["user_withheld"] = "withheld",
        ["user_delete"] = "delete",
    };

    public override string Name => "x";

    public override string DefaultPlatform => "x";

    protected override NormalizeResult NormalizeCore(NormalizeInput input)
    {
        using var document = JsonBody.TryParse(input.Body, out var failure);
        if (document is null)
        {
            return NormalizeResult.Failed(failure);
        }

        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return NormalizeResult.Failed($"an X body is a JSON object, not {Describe(root)}");
        }

        if (JsonFields.Id(root, "for_user_id"u8) is not { } forUserId)
        {
            return NormalizeResult.Failed("the X body has no for_user_id");
        }

        var context = new Context(input, forUserId, PlatformOf(input), Rfc3339.ToWire(input.ReceivedAt), new NormalizeBuilder());
        var index = 0;
        foreach (var member in root.EnumerateObject())
        {
            var value = member.Value;
            if (value.ValueKind == JsonValueKind.Array)
            {
                if (EventText.TryGetName(member) is not { } name)
                {
                    context.Builder.Issue(index++, "an array's name is not valid Unicode text");
                    continue;
                }

                var position = 0;
                foreach (var item in value.EnumerateArray())
                {
                    MapOne(context, name, item, position++, index++);
                }
            }
            else if (value.ValueKind == JsonValueKind.Object && member.NameEquals("user_event"u8))
            {
                foreach (var userEvent in value.EnumerateObject())
                {
                    if (EventText.TryGetName(userEvent) is { } name)
                    {
                        MapOne(context, "user_event." + name, userEvent.Value, 0, index++);
                    }
                    else
                    {
                        context.Builder.Issue(index++, "a user_event member's name is not valid Unicode text");
                    }
                }
            }
        }

        return context.Builder.Build();
    }

    private static void MapOne(Context context, string name, JsonElement item, int position, int index)
    {
        try
        {
            if (Map(context, name, item, position, out var problem) is { } value)
            {
                context.Builder.Add(index, value);
            }
            else
            {
                context.Builder.Issue(index, problem);
            }
        }
        catch (Exception e) when (IsBodyFault(e))
        {
            context.Builder.Issue(index, DescribeFault(e));
        }
    }

    private static NormalizedEvent? Map(Context context, string name, JsonElement item, int position, out string problem)
    {
        problem = "";
        if (item.ValueKind != JsonValueKind.Object)
        {
            problem = $"the {name} item is {Describe(item)}, not an object";
            return null;
        }

        if (!TryTime(item, context.ReceivedAt, out var timestamp, out var timeProblem))
        {
            problem = timeProblem;
            return null;
        }

        var itemId = JsonFields.Id(item, "id_str"u8) ?? JsonFields.Id(item, "id"u8);
        var id = itemId is null
            ? $"{context.ForUserId}:{name}:{position}:{JsonFields.ContentHash(item)}"
            : $"{context.ForUserId}:{name}:{itemId}";
        var details = new JsonObject { ["source_type"] = name };
        var type = MapName(name, item, itemId, details);
        var actor = EventParts.Actor(id: ActorId(item));
        return new NormalizedEvent(id, context.Input.Source, context.Platform, type, context.ForUserId, timestamp, actor, context.ReceivedAt, null, details);
    }

    /// <summary>The event type for an Account Activity array (or <c>user_event.&lt;name&gt;</c>), adding the type's details.</summary>
    internal static string MapName(string name, JsonElement item, string? itemId, JsonObject details)
    {
        if (name == "tweet_create_events")
        {
            if (itemId is not null)
            {
                details["tweet_id"] = itemId;
            }

            return "content_edit";
        }

        if (name == "user_event.revoke")
        {
            if (JsonFields.TryGetObject(item, "target"u8, out var target) && JsonFields.Id(target, "app_id"u8) is { } appId)
            {
                details["app_id"] = appId;
            }

            return "session_revoked";
        }

        var bare = name.EndsWith(EventsSuffix, StringComparison.Ordinal) ? name[..^EventsSuffix.Length] : name;
        if (PolicyEvents.TryGetValue(bare, out var action))
        {
            details["policy"] = bare;
            details["action"] = action;
            return "policy_flag";
        }

        if (bare == "user_profile_modification")
        {
            details["field"] = "profile";
            return "account_changed";
        }

        return CustomEventType.From("x", name);
    }

    /// <summary>
    /// The item's time, from the first of <c>timestamp_ms</c>, <c>created_timestamp</c> (Unix milliseconds, number or
    /// text), <c>event_at</c>, <c>date_time</c> (RFC 3339) and <c>created_at</c> (RFC 3339 or X's
    /// <c>Wed Oct 10 20:19:24 +0000 2018</c>) that is present; the delivery's arrival when none is.
    /// </summary>
    private static bool TryTime(JsonElement item, DateTimeOffset receivedAt, out DateTimeOffset timestamp, out string problem)
    {
        problem = "";
        if (JsonFields.TryGet(item, "timestamp_ms"u8, out var value) || JsonFields.TryGet(item, "created_timestamp"u8, out value))
        {
            if (JsonFields.TryUnix(value, out timestamp))
            {
                return true;
            }
        }
        else if (JsonFields.TryGet(item, "event_at"u8, out value) || JsonFields.TryGet(item, "date_time"u8, out value))
        {
            if (JsonFields.TryRfc3339(value, out timestamp))
            {
                return true;
            }
        }
        else if (JsonFields.TryGet(item, "created_at"u8, out value))
        {
            if (JsonFields.TryRfc3339(value, out timestamp))
            {
                return true;
            }

            if (value.ValueKind == JsonValueKind.String
                && DateTimeOffset.TryParseExact(value.GetString(), "ddd MMM dd HH:mm:ss zzz yyyy", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
            {
                timestamp = Rfc3339.ToWire(parsed);
                return true;
            }
        }
        else
        {
            timestamp = receivedAt;
            return true;
        }

        timestamp = default;
        problem = $"the item's time {EventText.Quote(value.ToString())} cannot be read";
        return false;
    }

    private static string? ActorId(JsonElement item)
    {
        if (JsonFields.TryGetObject(item, "user"u8, out var user))
        {
            return JsonFields.Id(user, "id_str"u8) ?? JsonFields.Id(user, "id"u8);
        }

        return JsonFields.TryGetObject(item, "source"u8, out var source)
            ? JsonFields.Id(source, "id"u8) ?? JsonFields.Id(source, "user_id"u8)
            : null;
    }

    private sealed record Context(NormalizeInput Input, string ForUserId, string Platform, DateTimeOffset ReceivedAt, NormalizeBuilder Builder);
}
