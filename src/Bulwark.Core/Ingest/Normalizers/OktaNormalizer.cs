using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.Ingest;

/// <summary>
/// <c>okta</c>: an Event Hook delivery (<c>data.events[]</c>), or a System Log page (a bare array, for the polling
/// fallback), or one LogEvent. One event per LogEvent; see docs/webhooks.md for the table of event types.
/// </summary>
internal sealed class OktaNormalizer : NormalizerBase
{
    private const string MfaFactorPrefix = "user.mfa.factor.";

    public override string Name => "okta";

    public override string DefaultPlatform => "okta";

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
        if (root.ValueKind == JsonValueKind.Array)
        {
            MapAll(root, input, platform, receivedAt, builder);
        }
        else if (JsonFields.TryGetObject(root, "data"u8, out var data) && JsonFields.TryGetArray(data, "events"u8, out var events))
        {
            MapAll(events, input, platform, receivedAt, builder);
        }
        else if (JsonFields.TryGet(root, "uuid"u8, out _) && JsonFields.TryGet(root, "eventType"u8, out _))
        {
            MapOne(root, 0, input, platform, receivedAt, builder);
        }
        else
        {
            return NormalizeResult.Failed(root.ValueKind == JsonValueKind.Object
                ? "an Okta body is an Event Hook delivery with data.events[], a System Log array or one LogEvent; this object has none of them"
                : $"an Okta body is a JSON object or array, not {Describe(root)}");
        }

        return builder.Build();
    }

    private static void MapAll(JsonElement events, NormalizeInput input, string platform, DateTimeOffset receivedAt, NormalizeBuilder builder)
    {
        var index = 0;
        foreach (var item in events.EnumerateArray())
        {
            MapOne(item, index++, input, platform, receivedAt, builder);
        }
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
            problem = $"the LogEvent is {Describe(item)}, not an object";
            return null;
        }

        var uuid = JsonFields.String(item, "uuid"u8);
        var eventType = JsonFields.String(item, "eventType"u8);
        var account = TargetUserId(item) ?? JsonFields.String(item, "actor"u8, "id"u8);
        if (uuid is null || eventType is null || account is null
            || !JsonFields.TryGet(item, "published"u8, out var publishedValue) || !JsonFields.TryRfc3339(publishedValue, out var published))
        {
            problem = uuid is null ? "the LogEvent has no uuid"
                : eventType is null ? "the LogEvent has no eventType"
                : account is null ? "the LogEvent names no account: no target of type User and no actor.id"
                : "the LogEvent has no published time (an RFC 3339 date-time)";
            return null;
        }

        var result = JsonFields.String(item, "outcome"u8, "result"u8);
        var details = new JsonObject { ["source_type"] = eventType };
        if (result is not null)
        {
            details["outcome"] = result;
        }

        var type = MapType(eventType, result, item, details);

        JsonFields.TryGetObject(item, "client"u8, out var client);
        JsonFields.TryGetObject(client, "userAgent"u8, out var userAgent);
        JsonFields.TryGetObject(client, "geographicalContext"u8, out var geography);
        var actor = EventParts.Actor(
            id: JsonFields.String(item, "actor"u8, "id"u8),
            ip: JsonFields.String(client, "ipAddress"u8),
            userAgent: JsonFields.String(userAgent, "rawUserAgent"u8),
            country: JsonFields.String(geography, "country"u8));
        var correlationId = JsonFields.String(item, "transaction"u8, "id"u8)
            ?? JsonFields.String(item, "authenticationContext"u8, "externalSessionId"u8);

        return new NormalizedEvent(uuid, input.Source, platform, type, account, published, actor, receivedAt, EventParts.CorrelationId(correlationId), details);
    }

    /// <summary>The event type for an Okta eventType and outcome, adding the type's details.</summary>
    internal static string MapType(string eventType, string? result, JsonElement item, JsonObject details)
    {
        var succeeded = string.Equals(result, "SUCCESS", StringComparison.OrdinalIgnoreCase) || string.Equals(result, "ALLOW", StringComparison.OrdinalIgnoreCase);
        var failed = string.Equals(result, "FAILURE", StringComparison.OrdinalIgnoreCase) || string.Equals(result, "DENY", StringComparison.OrdinalIgnoreCase);
        switch (eventType)
        {
            case "user.session.start" when succeeded:
                return "session_new";
            case "user.session.start" when failed:
                if (JsonFields.String(item, "outcome"u8, "reason"u8) is { } reason)
                {
                    details["reason"] = reason;
                }

                return "login_failed";
            case "system.email.password_reset.sent_message":
                details["phase"] = failed ? "failed" : "requested";
                if (failed)
                {
                    details["stage"] = "request";
                }

                details["channel"] = "email";
                return "password_reset";
            case "user.account.reset_password":
                details["phase"] = failed ? "failed" : "completed";
                return "password_reset";
            case "user.account.update_password":
                details["field"] = "password";
                return "account_changed";
            case "user.account.update_profile":
                var changed = JsonFields.TryGetObject(item, "debugContext"u8, out var debug) ? JsonFields.String(debug, "debugData"u8, "changedAttributes"u8) : null;
                details["field"] = ProfileField(changed);
                if (changed is not null)
                {
                    details["changed_attributes"] = changed;
                }

                return "account_changed";
            case "user.session.end" or "user.session.clear":
                return "session_revoked";
            default:
                if (eventType.StartsWith(MfaFactorPrefix, StringComparison.Ordinal) && eventType.Length > MfaFactorPrefix.Length)
                {
                    details["action"] = eventType[MfaFactorPrefix.Length..];
                    return "mfa_changed";
                }

                return CustomEventType.From("okta", eventType);
        }
    }

    /// <summary>Which account field a profile update changed, most sensitive first, from Okta's comma-separated changedAttributes.</summary>
    internal static string ProfileField(string? changedAttributes)
    {
        if (changedAttributes is null)
        {
            return "profile";
        }

        bool email = false, phone = false, username = false;
        foreach (var range in changedAttributes.AsSpan().Split(','))
        {
            var name = changedAttributes.AsSpan()[range].Trim();
            email |= name.Equals("email", StringComparison.OrdinalIgnoreCase) || name.Equals("secondEmail", StringComparison.OrdinalIgnoreCase);
            phone |= name.Equals("mobilePhone", StringComparison.OrdinalIgnoreCase) || name.Equals("primaryPhone", StringComparison.OrdinalIgnoreCase);
            username |= name.Equals("login", StringComparison.OrdinalIgnoreCase);
        }

        return email ? "email" : phone ? "phone" : username ? "username" : "profile";
    }

    private static string? TargetUserId(JsonElement item)
    {
        if (!JsonFields.TryGetArray(item, "target"u8, out var targets))
        {
            return null;
        }

        foreach (var target in targets.EnumerateArray())
        {
            if (JsonFields.String(target, "type"u8) == "User" && JsonFields.String(target, "id"u8) is { } id)
            {
                return id;
            }
        }

        return null;
    }
}
