using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Ingest;

namespace Bulwark.Detection.Rules;

/// <summary>
/// The fields of an event that rules can read, by path, and the value transforms. A value is text: details numbers as
/// written in JSON, booleans as <c>true</c>/<c>false</c>; a missing or null field has no value.
/// </summary>
public static class EventFields
{
    private const string DetailsPrefix = "details.";

    private static readonly Dictionary<string, Func<NormalizedEvent, string?>> Accessors = new(StringComparer.Ordinal)
    {
        ["id"] = e => e.Id,
        ["source"] = e => e.Source,
        ["platform"] = e => e.Platform,
        ["event_type"] = e => e.EventType,
        ["account_id"] = e => e.AccountId,
        ["correlation_id"] = e => e.CorrelationId,
        ["actor.id"] = e => e.Actor?.Id,
        ["actor.ip"] = e => e.Actor?.Ip,
        ["actor.user_agent"] = e => e.Actor?.UserAgent,
        ["actor.country"] = e => e.Actor?.Country,
        ["actor.device_id"] = e => e.Actor?.DeviceId,
    };

    /// <summary>The fixed field paths (besides any <c>details.&lt;name&gt;</c>).</summary>
    public static IReadOnlyList<string> Known { get; } = [.. Accessors.Keys];

    /// <summary>Whether a path names an event field.</summary>
    /// <param name="path">For example <c>actor.ip</c> or <c>details.phase</c>.</param>
    /// <returns><see langword="true"/> when rules can read it.</returns>
    public static bool IsKnown(string path) =>
        path is not null && (Accessors.ContainsKey(path) || (path.StartsWith(DetailsPrefix, StringComparison.Ordinal) && path.Length > DetailsPrefix.Length));

    /// <summary>Compiles a value expression into a function of the event.</summary>
    /// <param name="expression">The expression.</param>
    /// <returns>The value of an event, or <see langword="null"/> when it has none (or the transform does not apply).</returns>
    public static Func<NormalizedEvent, string?> Compile(ValueExpression expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var read = CompileField(expression.Field);
        return expression.Transform switch
        {
            ValueTransform.None => read,
            ValueTransform.Lower => e => read(e)?.ToLowerInvariant(),
            ValueTransform.MailboxBase => e => MailboxBase(read(e)),
            ValueTransform.NumericSuffix => e => NumericSuffix(read(e)) is { } n ? n.ToString(CultureInfo.InvariantCulture) : null,
            ValueTransform.IpPrefix => CompileIpPrefix(read, expression.Bits),
            _ => throw new ArgumentOutOfRangeException(nameof(expression), expression.Transform, "unknown transform"),
        };
    }

    /// <summary>
    /// The base of a mailbox: lower case, without a <c>+tag</c>, and for providers that ignore dots in the local part
    /// (gmail.com, googlemail.com) without the dots, googlemail.com read as gmail.com.
    /// </summary>
    /// <param name="address">An e-mail address.</param>
    /// <returns>The base, or the lower-cased input when it is not an address; <see langword="null"/> for <see langword="null"/>.</returns>
    public static string? MailboxBase(string? address)
    {
        if (address is null)
        {
            return null;
        }

        var text = address.Trim().ToLowerInvariant();
        var at = text.LastIndexOf('@');
        if (at <= 0 || at == text.Length - 1)
        {
            return text;
        }

        var local = text[..at];
        var domain = text[(at + 1)..];
        var plus = local.IndexOf('+', StringComparison.Ordinal);
        if (plus >= 0)
        {
            local = local[..plus];
        }

        if (domain is "gmail.com" or "googlemail.com")
        {
            local = local.Replace(".", string.Empty, StringComparison.Ordinal);
            domain = "gmail.com";
        }

        return local + "@" + domain;
    }

    /// <summary>The number formed by the trailing digits of a value (<c>acct_000123</c> → 123).</summary>
    /// <param name="value">The value.</param>
    /// <returns>The number, or <see langword="null"/> without trailing digits or when it has more than 18 digits.</returns>
    public static long? NumericSuffix(string? value)
    {
        if (value is null)
        {
            return null;
        }

        var start = value.Length;
        while (start > 0 && char.IsAsciiDigit(value[start - 1]))
        {
            start--;
        }

        var digits = value.Length - start;
        if (digits == 0 || digits > 18)
        {
            return null;
        }

        return long.Parse(value.AsSpan(start), NumberStyles.None, CultureInfo.InvariantCulture);
    }

    /// <summary>The network of an IP address as CIDR text (<c>203.0.113.0/24</c>).</summary>
    /// <param name="ip">An IPv4 or IPv6 literal.</param>
    /// <param name="bits">The prefix length; <see langword="null"/> for 24 (IPv4) or 64 (IPv6). Longer than the address means the whole address.</param>
    /// <returns>The network, or <see langword="null"/> when <paramref name="ip"/> is not an address.</returns>
    public static string? IpPrefix(string? ip, int? bits = null)
    {
        if (ip is null || !IPAddress.TryParse(ip, out var address))
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var bytes = address.GetAddressBytes();
        var length = Math.Min(bits ?? (address.AddressFamily == AddressFamily.InterNetwork ? 24 : 64), bytes.Length * 8);
        Cidr.Mask(bytes, length);
        return new StringBuilder(new IPAddress(bytes).ToString()).Append('/').Append(length.ToString(CultureInfo.InvariantCulture)).ToString();
    }

    private static Func<NormalizedEvent, string?> CompileIpPrefix(Func<NormalizedEvent, string?> read, int? bits) => e => IpPrefix(read(e), bits);

    private static Func<NormalizedEvent, string?> CompileField(string path)
    {
        if (Accessors.TryGetValue(path, out var accessor))
        {
            return accessor;
        }

        if (!path.StartsWith(DetailsPrefix, StringComparison.Ordinal) || path.Length == DetailsPrefix.Length)
        {
            throw new ArgumentException($"'{path}' is not an event field", nameof(path));
        }

        var name = path[DetailsPrefix.Length..];
        return e => e.Details is { } details && details.TryGetPropertyValue(name, out var node) ? Text(node) : null;
    }

    private static string? Text(JsonNode? node) => node switch
    {
        null => null,
        JsonValue value => value.GetValueKind() switch
        {
            JsonValueKind.String => value.GetValue<string>(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Null => null,
            _ => value.ToJsonString(),
        },
        _ => node.ToJsonString(),
    };
}

/// <summary>An IPv4 or IPv6 network in CIDR notation.</summary>
internal sealed class Cidr
{
    private readonly byte[] _network;
    private readonly int _bits;

    private Cidr(byte[] network, int bits)
    {
        _network = network;
        _bits = bits;
    }

    public static bool TryParse(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Cidr? value)
    {
        value = null;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addressText, out var address))
        {
            return false;
        }

        var bytes = address.GetAddressBytes();
        var bits = bytes.Length * 8;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out bits) || bits > bytes.Length * 8))
        {
            return false;
        }

        Mask(bytes, bits);
        value = new Cidr(bytes, bits);
        return true;
    }

    public bool Contains(string? ip)
    {
        if (ip is null || !IPAddress.TryParse(ip, out var address))
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6 && _network.Length == 4)
        {
            address = address.MapToIPv4();
        }

        var bytes = address.GetAddressBytes();
        if (bytes.Length != _network.Length)
        {
            return false;
        }

        Mask(bytes, _bits);
        return bytes.AsSpan().SequenceEqual(_network);
    }

    internal static void Mask(byte[] bytes, int bits)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(bits - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
    }
}
