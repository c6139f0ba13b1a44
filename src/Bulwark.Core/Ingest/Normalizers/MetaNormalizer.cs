using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.Ingest;

/// <summary>
/// <c>meta</c>: a Graph API webhook delivery, <c>{"object", "entry": [{"id", "time", "changes": [{"field", "value"}]}]}</c>
/// (older <c>user</c> deliveries list <c>changed_fields</c> instead of <c>changes</c>). One event per change; items are
/// numbered across the whole delivery. See docs/webhooks.md for ids, accounts and the field table.
/// </summary>
internal sealed class MetaNormalizer : NormalizerBase
{
    private static readonly Dictionary<string, string> AccountFields = new(StringComparer.Ordinal)
    {
        ["email"] = "email",
        ["phone"] = "phone",
        ["phone_number"] = "phone",
        ["username"] = "username",
        ["name"] = "name",
        ["first_name"] = "name",
        ["last_name"] = "name",
        ["website"] = "profile_link",
        ["link"] = "profile_link",
    };

    private static readonly string[] PolicyWords = ["policy", "violation", "security", "integrity"];

    public override string Name => "meta";

    /// <summary>Deliveries whose <c>object</c> is <c>instagram</c> carry <c>instagram</c>; every other object this.</summary>
    public override string DefaultPlatform => "facebook";

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
            return NormalizeResult.Failed($"a Meta body is a JSON object, not {Describe(root)}");
        }

        if (JsonFields.String(root, "object"u8) is not { } objectType)
        {
            return NormalizeResult.Failed("the Meta body has no object (instagram, page, user, …)");
        }

        if (!JsonFields.TryGetArray(root, "entry"u8, out var entries))
        {
            return NormalizeResult.Failed("the Meta body has no entry array");
        }

        var platform = PlatformOf(input, objectType == "instagram" ? "instagram" : DefaultPlatform);
        var receivedAt = Rfc3339.ToWire(input.ReceivedAt);
        var builder = new NormalizeBuilder();
        var index = 0;
        var entryIndex = 0;
        foreach (var entry in entries.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object)
            {
                builder.Issue(index++, $"entry {entryIndex} is {Describe(entry)}, not an object");
            }
            else if (JsonFields.TryGetArray(entry, "changes"u8, out var changes))
            {
                var changeIndex = 0;
                foreach (var change in changes.EnumerateArray())
                {
                    MapOne(entry, change, changeIndex++, index++, input, platform, receivedAt, builder);
                }
            }
            else if (JsonFields.TryGetArray(entry, "changed_fields"u8, out var fields))
            {
                var changeIndex = 0;
                foreach (var field in fields.EnumerateArray())
                {
                    MapOne(entry, field, changeIndex++, index++, input, platform, receivedAt, builder);
                }
            }
            else
            {
                builder.Issue(index++, $"entry {entryIndex} has neither changes nor changed_fields");
            }

            entryIndex++;
        }

        return builder.Build();
    }

    private static void MapOne(JsonElement entry, JsonElement change, int changeIndex, int index, NormalizeInput input, string platform, DateTimeOffset receivedAt, NormalizeBuilder builder)
    {
        try
        {
            if (Map(entry, change, changeIndex, input, platform, receivedAt, out var problem) is { } value)
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

    private static NormalizedEvent? Map(JsonElement entry, JsonElement change, int changeIndex, NormalizeInput input, string platform, DateTimeOffset receivedAt, out string problem)
    {
        problem = "";

        // A change is {"field", "value"}; an item of changed_fields is the field's name alone.
        string? field;
        JsonElement value = default;
        if (change.ValueKind == JsonValueKind.String)
        {
            field = change.GetString();
        }
        else if (change.ValueKind == JsonValueKind.Object)
        {
            field = JsonFields.String(change, "field"u8);
            JsonFields.TryGet(change, "value"u8, out value);
        }
        else
        {
            problem = $"the change is {Describe(change)}, not an object";
            return null;
        }

        var entryId = JsonFields.Id(entry, "id"u8);
        JsonFields.TryGet(entry, "time"u8, out var timeValue);
        if (string.IsNullOrEmpty(field) || entryId is null || !JsonFields.TryTimestamp(timeValue, out var time))
        {
            problem = string.IsNullOrEmpty(field) ? "the change has no field"
                : entryId is null ? "its entry has no id"
                : "its entry has no time (Unix seconds)";
            return null;
        }

        var timeKey = timeValue.ValueKind == JsonValueKind.Number ? timeValue.GetRawText() : timeValue.GetString();
        var valueId = JsonFields.Id(value, "id"u8);
        // Without an id of its own, a change is told apart from another of the same entry, second and field (two
        // comments on a page in one second) by its bytes, and stays the same on a retry. A legacy changed field is its
        // name alone, which the id holds already.
        var id = valueId is not null ? $"{entryId}:{timeKey}:{field}:{valueId}"
            : change.ValueKind == JsonValueKind.String ? $"{entryId}:{timeKey}:{field}:{changeIndex}"
            : $"{entryId}:{timeKey}:{field}:{changeIndex}:{JsonFields.ContentHash(change)}";
        var account = JsonFields.Id(value, "user_id"u8) ?? entryId;
        var actor = JsonFields.TryGetObject(value, "from"u8, out var from) ? EventParts.Actor(id: JsonFields.Id(from, "id"u8)) : null;

        var details = new JsonObject { ["source_type"] = field };
        var type = MapField(field, value, details);
        return new NormalizedEvent(id, input.Source, platform, type, account, time, actor, receivedAt, null, details);
    }

    /// <summary>The event type for a Meta change field, adding the type's details.</summary>
    internal static string MapField(string field, JsonElement value, JsonObject details)
    {
        if (AccountFields.TryGetValue(field, out var accountField))
        {
            details["field"] = accountField;
            return "account_changed";
        }

        if (IsPolicyField(field))
        {
            details["policy"] = field;
            if ((JsonFields.String(value, "action"u8) ?? JsonFields.String(value, "verb"u8)) is { } action)
            {
                details["action"] = action;
            }

            return "policy_flag";
        }

        if (value.ValueKind != JsonValueKind.Undefined)
        {
            details["value"] = JsonFields.Copy(value);
        }

        return CustomEventType.From("meta", field);
    }

    internal static bool IsPolicyField(string field)
    {
        foreach (var word in PolicyWords)
        {
            if (field.Contains(word, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
