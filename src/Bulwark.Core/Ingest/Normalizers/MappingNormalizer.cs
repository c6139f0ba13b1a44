using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Manifests;

namespace Bulwark.Ingest;

/// <summary>
/// <c>mapping</c>: any JSON source, mapped by the source's <see cref="MappingSpec"/> (JSON Pointers into each item).
/// An item whose mapped event breaks schema v1 becomes an issue; its neighbours still map.
/// </summary>
internal sealed class MappingNormalizer : NormalizerBase
{
    public override string Name => "mapping";

    public override string DefaultPlatform => "internal";

    protected override NormalizeResult NormalizeCore(NormalizeInput input)
    {
        if (input.Mapping is null)
        {
            return NormalizeResult.Failed("the source has no mapping: the mapping normalizer needs one in the source's manifest");
        }

        var errors = new List<ManifestError>();
        if (MappingSpec.Compile(input.Mapping, errors) is not { } mapping)
        {
            return NormalizeResult.Failed("the source's mapping is invalid: " + string.Join("; ", errors));
        }

        using var document = JsonBody.TryParse(input.Body, out var failure);
        if (document is null)
        {
            return NormalizeResult.Failed(failure);
        }

        var items = document.RootElement;
        if (mapping.Items is not null)
        {
            if (!mapping.Items.TryResolve(items, out items) || items.ValueKind != JsonValueKind.Array)
            {
                return NormalizeResult.Failed($"the mapping's items {mapping.Items.Text} is not an array in this body");
            }
        }

        var builder = new NormalizeBuilder();
        var context = new Context(input, mapping, mapping.Platform ?? PlatformOf(input), Rfc3339.ToWire(input.ReceivedAt), builder);
        if (items.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var item in items.EnumerateArray())
            {
                MapOne(context, item, index++);
            }
        }
        else if (items.ValueKind == JsonValueKind.Object)
        {
            MapOne(context, items, 0);
        }
        else
        {
            return NormalizeResult.Failed($"the body must be a JSON object or an array of them, not {Describe(items)}");
        }

        return builder.Build();
    }

    private static void MapOne(Context context, JsonElement item, int index)
    {
        try
        {
            if (Map(context, item, index, out var problem) is { } value)
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

    private static NormalizedEvent? Map(Context context, JsonElement item, int index, out string problem)
    {
        var mapping = context.Mapping;
        string? id;
        if (mapping.Id is null)
        {
            id = context.Input.DeliveryId is { Length: > 0 } deliveryId ? $"{deliveryId}:{index}" : null;
            if (id is null)
            {
                problem = "the mapping has no id and the delivery carries no delivery id to derive one from";
                return null;
            }
        }
        else if (!TryText(item, mapping.Id, "id", required: true, out id, out problem))
        {
            return null;
        }

        if (!mapping.Timestamp.TryResolve(item, out var timeValue) || !JsonFields.TryTimestamp(timeValue, out var timestamp))
        {
            problem = $"no timestamp at {mapping.Timestamp.Text} (an RFC 3339 date-time, or Unix seconds or milliseconds)";
            return null;
        }

        if (!TryText(item, mapping.AccountId, "account_id", required: true, out var accountId, out problem)
            || !TryEventType(item, mapping.EventType, out var eventType, out problem)
            || !TryText(item, mapping.CorrelationId, "correlation_id", required: false, out var correlationId, out problem)
            || !TryText(item, mapping.ActorId, "actor.id", required: false, out var actorId, out problem)
            || !TryText(item, mapping.ActorIp, "actor.ip", required: false, out var ip, out problem)
            || !TryText(item, mapping.ActorUserAgent, "actor.user_agent", required: false, out var userAgent, out problem)
            || !TryText(item, mapping.ActorCountry, "actor.country", required: false, out var country, out problem)
            || !TryText(item, mapping.ActorDeviceId, "actor.device_id", required: false, out var deviceId, out problem))
        {
            return null;
        }

        var actor = actorId is null && ip is null && userAgent is null && country is null && deviceId is null
            ? null
            : new EventActor(actorId, ip, userAgent, country, deviceId);

        // A guard before the details are copied: a mapping can copy its whole item into every field, and 64 copies of a
        // 16 MiB item would be built only to be refused. Measured as sent (white space and escapes included), so the
        // bound is loose; NormalizeBuilder.Add measures the event as written and decides.
        const long Guard = 4L * EventJson.MaxBytes;
        JsonObject? details = null;
        var detailBytes = 0L;
        foreach (var (name, pointer) in mapping.Details)
        {
            if (pointer.TryResolve(item, out var value) && value.ValueKind != JsonValueKind.Null)
            {
                detailBytes += System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(value).Length;
                if (detailBytes > Guard)
                {
                    problem = $"the event it maps to is too large: its details take over {Guard} bytes of JSON as sent, and an event takes at most {EventJson.MaxBytes}";
                    return null;
                }

                (details ??= [])[name] = JsonFields.Copy(value);
            }
        }

        return new NormalizedEvent(id!, context.Input.Source, context.Platform, eventType, accountId!, timestamp, actor, context.ReceivedAt, correlationId, details);
    }

    /// <summary>A string or number at a pointer; a missing or null value is absent (an issue when required), any other type an issue.</summary>
    private static bool TryText(JsonElement item, JsonPointer? pointer, string field, bool required, out string? text, out string problem)
    {
        text = null;
        problem = "";
        if (pointer is null)
        {
            return true;
        }

        if (!pointer.TryResolve(item, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                problem = $"no {field} at {pointer.Text}";
                return false;
            }

            return true;
        }

        text = JsonFields.ScalarText(value);
        if (text is null)
        {
            problem = $"the {field} at {pointer.Text} is {Describe(value)}, not a string or number";
            return false;
        }

        return true;
    }

    private static bool TryEventType(JsonElement item, EventTypeRule rule, out string eventType, out string problem)
    {
        problem = "";
        if (rule.Constant is not null)
        {
            eventType = rule.Constant;
            return true;
        }

        if (!TryText(item, rule.Pointer, "event type", required: false, out var value, out problem))
        {
            eventType = "";
            return false;
        }

        if (value is not null && rule.Map!.TryGetValue(value, out var mapped))
        {
            eventType = mapped;
        }
        else if (rule.Default is not null)
        {
            eventType = rule.Default;
        }
        else if (EventText.IsEventType(value))
        {
            eventType = value!;
        }
        else
        {
            eventType = "";
            problem = value is null
                ? $"no event type at {rule.Pointer!.Text}, and the mapping has no default"
                : $"the event type {EventText.Quote(value)} at {rule.Pointer!.Text} is not in the mapping's map, not an event type itself, and the mapping has no default";
            return false;
        }

        return true;
    }

    private sealed record Context(NormalizeInput Input, CompiledMapping Mapping, string Platform, DateTimeOffset ReceivedAt, NormalizeBuilder Builder);
}
