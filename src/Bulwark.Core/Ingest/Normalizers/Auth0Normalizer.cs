using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.Ingest;

/// <summary>
/// <c>auth0</c>: a Log Stream (custom webhook) delivery in any of its content formats (a JSON array, JSON lines or one
/// object), each record either the envelope <c>{log_id, data}</c> or a bare log event with <c>log_id</c>/<c>_id</c>.
/// One event per record, typed by the Auth0 log code (<c>data.type</c>); see docs/webhooks.md for the table.
/// </summary>
internal sealed class Auth0Normalizer : NormalizerBase
{
    /// <summary>What account ids of IP-scoped events (no user, for example <c>limit_mu</c>) start with.</summary>
    public const string IpAccountPrefix = "ip:";

    public override string Name => "auth0";

    public override string DefaultPlatform => "auth0";

    protected override NormalizeResult NormalizeCore(NormalizeInput input)
    {
        using var batch = JsonBody.ReadBatch(input.Body);
        if (batch.Failure is not null)
        {
            return NormalizeResult.Failed(batch.Failure);
        }

        var builder = new NormalizeBuilder();
        var platform = PlatformOf(input);
        var receivedAt = Rfc3339.ToWire(input.ReceivedAt);
        foreach (var item in batch.Items)
        {
            if (item.Problem is not null)
            {
                builder.Issue(item.Index, item.Problem);
                continue;
            }

            try
            {
                if (Map(item.Element, input, platform, receivedAt, out var problem) is { } value)
                {
                    builder.Add(item.Index, value);
                }
                else
                {
                    builder.Issue(item.Index, problem);
                }
            }
            catch (Exception e) when (IsBodyFault(e))
            {
                builder.Issue(item.Index, DescribeFault(e));
            }
        }

        return builder.Build();
    }

    private static NormalizedEvent? Map(JsonElement item, NormalizeInput input, string platform, DateTimeOffset receivedAt, out string problem)
    {
        problem = "";
        if (item.ValueKind != JsonValueKind.Object)
        {
            problem = $"the log record is {Describe(item)}, not an object";
            return null;
        }

        string? logId;
        if (JsonFields.TryGet(item, "data"u8, out var data))
        {
            if (data.ValueKind != JsonValueKind.Object)
            {
                problem = $"the log record's data is {Describe(data)}, not an object";
                return null;
            }

            logId = JsonFields.Id(item, "log_id"u8) ?? JsonFields.Id(data, "log_id"u8) ?? JsonFields.Id(data, "_id"u8);
        }
        else
        {
            data = item;
            logId = JsonFields.Id(item, "log_id"u8) ?? JsonFields.Id(item, "_id"u8);
        }

        var code = JsonFields.String(data, "type"u8);
        var userId = JsonFields.String(data, "user_id"u8);
        var ip = JsonFields.String(data, "ip"u8);
        var account = userId ?? JsonFields.String(data, "user_name"u8) ?? (ip is null ? null : IpAccountPrefix + ip);
        if (logId is null || code is null || account is null
            || !JsonFields.TryGet(data, "date"u8, out var dateValue) || !JsonFields.TryRfc3339(dateValue, out var date))
        {
            problem = logId is null ? "the log record has no log_id"
                : code is null ? "the log record has no type (the Auth0 log event code)"
                : account is null ? "the log record names no account: no user_id, user_name or ip"
                : "the log record has no date (an RFC 3339 date-time)";
            return null;
        }

        var details = new JsonObject { ["code"] = code };
        var type = MapCode(code, details);
        var actor = EventParts.Actor(
            id: userId,
            ip: ip,
            userAgent: JsonFields.String(data, "user_agent"u8),
            country: JsonFields.String(data, "location_info"u8, "country_code"u8));
        return new NormalizedEvent(logId, input.Source, platform, type, account, date, actor, receivedAt, null, details);
    }

    /// <summary>The event type for an Auth0 log code, adding the type's details.</summary>
    internal static string MapCode(string code, JsonObject details)
    {
        switch (code)
        {
            case "s":
                return "login_succeeded";
            case "f" or "fp" or "fu":
                details["reason"] = code;
                return "login_failed";
            case "scpr":
                details["phase"] = "requested";
                return "password_reset";
            case "fcpr":
                details["phase"] = "failed";
                details["stage"] = "request";
                return "password_reset";
            case "scp":
                details["phase"] = "completed";
                return "password_reset";
            case "fcp":
                details["phase"] = "failed";
                return "password_reset";
            case "sce":
                details["field"] = "email";
                return "account_changed";
            case "scpn":
                details["field"] = "phone";
                return "account_changed";
            case "scu":
                details["field"] = "username";
                return "account_changed";
            default:
                return CustomEventType.From("auth0", code);
        }
    }
}
