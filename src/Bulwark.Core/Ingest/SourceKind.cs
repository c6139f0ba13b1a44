using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Manifests;

namespace Bulwark.Ingest;

/// <summary>
/// Manifest kind <c>Source</c> (API collection <c>sources</c>):
/// <code>
/// name: okta-main
/// scheme: okta                          # how deliveries are signed
/// secrets: [env:OKTA_HOOK_KEY]          # references only, newest first; several during a rotation
/// normalizer: okta                      # default: the scheme's platform normalizer, else event-v1
/// platform: okta                        # default: the normalizer's
/// timestamp_tolerance: 5m               # schemes that sign a timestamp
/// dedupe_retention: 72h
/// max_body: 1MiB                        # bytes, or a number with KiB / MiB
/// throttle: webhook-ingest              # optional
/// verify_token: env:META_VERIFY_TOKEN   # meta only
/// poll: { url: https://example.okta.com/api/v1/logs, interval: 1m, auth: file:/run/secrets/okta-ssws }
/// </code>
/// </summary>
public sealed class SourceKind : ManifestKind<SourceDefinition>
{
    /// <summary>The scheme names, in documentation order.</summary>
    public static IReadOnlyList<string> SchemeNames { get; } =
        ["standard-webhooks", "stripe", "github", "meta", "x", "linkedin", "okta", "auth0", "slack", "bearer"];

    /// <summary>The normalizer names.</summary>
    public static IReadOnlyList<string> NormalizerNames { get; } = ["event-v1", "okta", "auth0", "meta", "x", "linkedin", "mapping"];

    /// <summary>The shared instance.</summary>
    public static SourceKind Instance { get; } = new();

    /// <inheritdoc />
    public override string Kind => "Source";

    /// <inheritdoc />
    public override string Plural => "sources";

    /// <inheritdoc />
    public override Capability ChangeCapability => Capability.Configure;

    /// <summary>The normalizer a scheme uses when the manifest names none.</summary>
    /// <param name="scheme">The scheme.</param>
    /// <returns>The normalizer's name.</returns>
    public static string DefaultNormalizer(string scheme) => scheme switch
    {
        "okta" or "auth0" or "meta" or "x" or "linkedin" => scheme,
        _ => "event-v1",
    };

    /// <inheritdoc />
    protected override SourceDefinition? ReadCore(ManifestReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var name = reader.ReadName();
        var description = reader.ReadString("description", maxLength: 1000);
        var scheme = reader.ReadString("scheme", required: true, maxLength: 64);
        if (scheme is not null && !SchemeNames.Contains(scheme))
        {
            reader.Error("scheme", $"'{scheme}' is not one of {string.Join(", ", SchemeNames)}");
            scheme = null;
        }

        var secrets = ReadSecrets(reader);
        var normalizer = reader.ReadString("normalizer", maxLength: 64);
        if (normalizer is not null && !NormalizerNames.Contains(normalizer))
        {
            reader.Error("normalizer", $"'{normalizer}' is not one of {string.Join(", ", NormalizerNames)}");
            return null;
        }

        var mapping = ReadMapping(reader, normalizer);
        var platform = reader.ReadString("platform", maxLength: 50);
        if (platform is { Length: 0 })
        {
            reader.Error("platform", "must not be empty");
        }

        var tolerance = reader.ReadDuration("timestamp_tolerance", TimeSpan.FromSeconds(1), TimeSpan.FromHours(24)) ?? SourceDefinition.DefaultTolerance;
        var retention = reader.ReadDuration("dedupe_retention", TimeSpan.FromMinutes(5), TimeSpan.FromDays(90)) ?? SourceDefinition.DefaultRetention;
        var maxBody = ReadSize(reader, "max_body") ?? SourceDefinition.DefaultMaxBody;
        var throttle = reader.ReadString("throttle", maxLength: 63);
        var verifyToken = ReadReference(reader, "verify_token");
        if (reader.ReadRaw("verify_token") is not null && scheme is not null and not "meta")
        {
            reader.Error("verify_token", "applies to the meta scheme only");
        }

        var poll = ReadPoll(reader);
        if (name is null || scheme is null || secrets is null || mapping.Failed || reader.ReadRaw("poll") is not null && poll is null)
        {
            return null;
        }

        return new SourceDefinition
        {
            Name = name,
            Description = description,
            Scheme = scheme,
            Platform = platform,
            Secrets = secrets,
            TimestampTolerance = tolerance,
            DedupeRetention = retention,
            MaxBody = maxBody,
            Normalizer = normalizer ?? DefaultNormalizer(scheme),
            Mapping = mapping.Value,
            Throttle = throttle,
            VerifyToken = verifyToken,
            Poll = poll,
        };
    }

    /// <inheritdoc />
    protected override string NameOfCore(SourceDefinition definition) => definition.Name;

    /// <inheritdoc />
    protected override JsonObject WriteCore(SourceDefinition definition)
    {
        var document = new JsonObject { ["name"] = definition.Name };
        if (definition.Description is { } description)
        {
            document["description"] = description;
        }

        document["scheme"] = definition.Scheme;
        document["secrets"] = new JsonArray([.. definition.Secrets.Select(s => (JsonNode)s.ToString())]);
        document["normalizer"] = definition.Normalizer;
        if (definition.Mapping is { } mapping)
        {
            document["mapping"] = mapping.DeepClone();
        }

        if (definition.Platform is { } platform)
        {
            document["platform"] = platform;
        }

        document["timestamp_tolerance"] = Durations.Format(definition.TimestampTolerance);
        document["dedupe_retention"] = Durations.Format(definition.DedupeRetention);
        document["max_body"] = definition.MaxBody;
        if (definition.Throttle is { } throttle)
        {
            document["throttle"] = throttle;
        }

        if (definition.VerifyToken is { } verifyToken)
        {
            document["verify_token"] = verifyToken.ToString();
        }

        if (definition.Poll is { } poll)
        {
            var node = new JsonObject
            {
                ["url"] = poll.Url.ToString(),
                ["interval"] = Durations.Format(poll.Interval),
                ["auth_header"] = poll.AuthHeader,
            };
            if (poll.Auth is { } auth)
            {
                node["auth"] = auth.ToString();
            }

            node["since_parameter"] = poll.SinceParameter;
            node["lookback"] = Durations.Format(poll.Lookback);
            node["overlap"] = Durations.Format(poll.Overlap);
            document["poll"] = node;
        }

        return document;
    }

    private static List<SecretReference>? ReadSecrets(ManifestReader reader)
    {
        var items = reader.ReadStringArray("secrets");
        if (items is null)
        {
            if (reader.ReadRaw("secrets") is null)
            {
                reader.Error("secrets", "is required: at least one reference (env:NAME or file:PATH)");
            }

            return null;
        }

        if (items.Count is 0 or > 8)
        {
            reader.Error("secrets", "must list from 1 to 8 references (several are active during a rotation)");
            return null;
        }

        var secrets = new List<SecretReference>();
        for (var i = 0; i < items.Count; i++)
        {
            if (SecretReference.TryParse(items[i], out var reference, out var error))
            {
                secrets.Add(reference);
            }
            else
            {
                reader.ItemError("secrets", i, error);
            }
        }

        return secrets.Count == items.Count ? secrets : null;
    }

    private static SecretReference? ReadReference(ManifestReader reader, string field)
    {
        var text = reader.ReadString(field, maxLength: 1100);
        if (text is null)
        {
            return null;
        }

        if (SecretReference.TryParse(text, out var reference, out var error))
        {
            return reference;
        }

        reader.Error(field, error);
        return null;
    }

    private static (JsonObject? Value, bool Failed) ReadMapping(ManifestReader reader, string? normalizer)
    {
        var node = reader.ReadRaw("mapping");
        if (normalizer != "mapping")
        {
            if (node is not null)
            {
                reader.Error("mapping", "applies only with normalizer: mapping");
                return (null, true);
            }

            return (null, false);
        }

        if (node is not JsonObject mapping)
        {
            reader.Error("mapping", node is null ? "is required with normalizer: mapping" : $"must be an object, not {ManifestReader.Describe(node)}");
            return (null, true);
        }

        var errors = MappingSpec.Validate(mapping);
        foreach (var error in errors)
        {
            // At the mapping's own pointer inside the manifest (/mapping/details/note), as every other error is.
            reader.Errors.Add(new ManifestError(reader.PathOf("mapping") + error.Path, error.Message));
        }

        return (errors.Count == 0 ? (JsonObject)mapping.DeepClone() : null, errors.Count > 0);
    }

    private static int? ReadSize(ManifestReader reader, string field)
    {
        var node = reader.ReadRaw(field);
        if (node is null)
        {
            return null;
        }

        long? bytes = null;
        if (node is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.Number &&
            double.TryParse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && number == Math.Floor(number) && number < int.MaxValue)
        {
            bytes = (long)number;
        }
        else if (node is JsonValue text && text.TryGetValue<string>(out var s))
        {
            var (digits, unit) = s.EndsWith("MiB", StringComparison.Ordinal) ? (s[..^3], 1L << 20)
                : s.EndsWith("KiB", StringComparison.Ordinal) ? (s[..^3], 1L << 10)
                : (s, 1L);
            if (long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count <= int.MaxValue)
            {
                bytes = count * unit;
            }
        }

        if (bytes is not { } size || size < 1024 || size > SourceDefinition.MaxMaxBody)
        {
            reader.Error(field, "must be a size from 1024 bytes to 16MiB: a number of bytes, or a number with KiB or MiB");
            return null;
        }

        return (int)size;
    }

    private static SourcePoll? ReadPoll(ManifestReader reader)
    {
        var poll = reader.ReadObject("poll");
        if (poll is null)
        {
            return null;
        }

        var urlText = poll.ReadString("url", required: true, maxLength: 2048);
        Uri? url = null;
        if (urlText is not null && (!Uri.TryCreate(urlText, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https")))
        {
            poll.Error("url", "must be an absolute http or https URL");
            url = null;
        }

        var interval = poll.ReadDuration("interval", TimeSpan.FromSeconds(5), TimeSpan.FromDays(1)) ?? TimeSpan.FromMinutes(1);
        var authHeader = poll.ReadString("auth_header", maxLength: 100) ?? "Authorization";
        var auth = ReadReference(poll, "auth");
        var since = poll.ReadRaw("since_parameter") is null ? "since" : poll.ReadString("since_parameter", maxLength: 100);
        var lookback = poll.ReadDuration("lookback", TimeSpan.Zero, TimeSpan.FromDays(90)) ?? TimeSpan.FromHours(1);
        var overlap = poll.ReadDuration("overlap", TimeSpan.Zero, TimeSpan.FromDays(1)) ?? TimeSpan.FromMinutes(1);
        poll.RejectUnknownFields();
        return url is null ? null : new SourcePoll
        {
            Url = url,
            Interval = interval,
            AuthHeader = authHeader,
            Auth = auth,
            SinceParameter = since,
            Lookback = lookback,
            Overlap = overlap,
        };
    }

    /// <summary>
    /// Why a poll's <c>auth_header</c> cannot carry its credential, or null when it can: it must be a header name (RFC
    /// 9110) that the poller and the HTTP stack do not set themselves, and not a content header (a GET has no content, so
    /// the credential would be dropped). Checked when a source is put, not when a stored one is read, so that a source
    /// stored before the rule still loads.
    /// </summary>
    /// <param name="poll">The poll block.</param>
    /// <returns>The reason, or null.</returns>
    public static string? AuthHeaderProblem(SourcePoll poll)
    {
        ArgumentNullException.ThrowIfNull(poll);
        var name = poll.AuthHeader;
        return IsHeaderName(name) && !RestrictedHeaders.Contains(name) && !name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase)
            ? null
            : "must be a header name (RFC 9110) that the poller does not set itself: not Host, Accept, User-Agent, Connection, Expires, Last-Modified, Allow, a transfer header or a Content- header";
    }

    /// <summary>Headers the HTTP stack or the poller sets itself, or content headers outside <c>Content-</c>.</summary>
    private static readonly HashSet<string> RestrictedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Transfer-Encoding", "Connection", "Accept", "User-Agent", "Expect", "Upgrade", "TE", "Trailer", "Keep-Alive", "Expires", "Last-Modified", "Allow",
    };

    /// <summary>An RFC 9110 field name: one or more token characters.</summary>
    private static bool IsHeaderName(string name) =>
        name.Length > 0 && name.All(c => c < 128 && (char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal)));
}
