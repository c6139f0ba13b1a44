using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Bulwark.Throttling;

/// <summary>
/// The keys of one check: <c>ip</c>, <c>user</c>, <c>tenant</c>, <c>account_type</c> or any other a layer names. Build
/// one per request (or reuse one per subject); a layer whose key is missing does not apply to the check.
/// </summary>
public sealed class ThrottleKeys
{
    // A check carries a handful of keys: a flat array of pairs scanned in order reaches a value in one or two memory
    // reads, where a dictionary lookup takes several dependent ones (buckets, entries) — most of a decision's cost when a
    // million callers' keys are cold in the cache. Nothing else is held.
    private readonly (string Name, string Value)[] _pairs;

    /// <summary>Keys from a dictionary (its pairs are copied once).</summary>
    /// <param name="values">Key name → value.</param>
    public ThrottleKeys(IReadOnlyDictionary<string, string>? values)
    {
        _pairs = values is null ? [] : [.. values.Select(pair => (pair.Key, pair.Value))];
    }

    private ThrottleKeys((string Name, string Value)[] pairs) => _pairs = pairs;

    /// <summary>
    /// Keys given as name–value pairs, without a dictionary (a name given twice: the first one counts). To decide without
    /// building any object, pass the pairs to <see cref="ThrottleEngine.Decide(ReadOnlySpan{ValueTuple{string, string}}, long, DateTimeOffset)"/>.
    /// </summary>
    /// <param name="values">The pairs, e.g. <c>ThrottleKeys.Of(("ip", ip), ("user", user))</c>.</param>
    /// <returns>The keys.</returns>
    public static ThrottleKeys Of(params ReadOnlySpan<(string Name, string Value)> values)
    {
        foreach (var (name, value) in values)
        {
            ArgumentNullException.ThrowIfNull(name);
            ArgumentNullException.ThrowIfNull(value);
        }

        return new ThrottleKeys(values.ToArray());
    }

    /// <summary>The pairs, in the order given.</summary>
    public ReadOnlySpan<(string Name, string Value)> Pairs => _pairs;

    /// <summary>The value of a key, when given.</summary>
    /// <param name="name">The key name.</param>
    /// <param name="value">Its value.</param>
    /// <returns>Whether it was given (and not empty).</returns>
    public bool TryGet(string name, out string value) => TryGet(_pairs, name, out value);

    /// <summary>The value of a key among pairs, when given (the first pair of that name counts).</summary>
    /// <param name="pairs">The pairs.</param>
    /// <param name="name">The key name.</param>
    /// <param name="value">Its value.</param>
    /// <returns>Whether it was given (and not empty).</returns>
    public static bool TryGet(ReadOnlySpan<(string Name, string Value)> pairs, string name, out string value)
    {
        foreach (var pair in pairs)
        {
            if (string.Equals(pair.Name, name, StringComparison.Ordinal))
            {
                value = pair.Value ?? string.Empty;
                return value.Length > 0;
            }
        }

        value = string.Empty;
        return false;
    }

    /// <summary>The keys given, as a new dictionary (a name given twice: the first one).</summary>
    public IReadOnlyDictionary<string, string> Values
    {
        get
        {
            var values = new Dictionary<string, string>(_pairs.Length, StringComparer.Ordinal);
            foreach (var (name, value) in _pairs)
            {
                values.TryAdd(name, value);
            }

            return values;
        }
    }

    /// <summary>
    /// The network of an address: its /24 for IPv4 (and IPv4-mapped IPv6), its /64 for IPv6 — written as
    /// <c>203.0.113.0/24</c> or <c>2001:db8:1:2::/64</c>.
    /// </summary>
    /// <param name="ip">An address.</param>
    /// <param name="subnet">Its network.</param>
    /// <returns>Whether <paramref name="ip"/> is an address.</returns>
    public static bool TryGetSubnet(string ip, out string subnet)
    {
        Span<byte> prefix = stackalloc byte[8];
        if (!TryGetSubnetBytes(ip, prefix, out var length))
        {
            subnet = string.Empty;
            return false;
        }

        if (length == 3)
        {
            subnet = string.Create(CultureInfo.InvariantCulture, $"{prefix[0]}.{prefix[1]}.{prefix[2]}.0/24");
            return true;
        }

        Span<byte> address = stackalloc byte[16];
        address.Clear();
        prefix.CopyTo(address);
        subnet = new IPAddress(address) + "/64";
        return true;
    }

    /// <summary>
    /// The network prefix bytes of an address without allocating for IPv4: 3 bytes for IPv4, 8 for IPv6.
    /// </summary>
    /// <param name="ip">An address.</param>
    /// <param name="prefix">At least 8 bytes.</param>
    /// <param name="length">3 or 8.</param>
    /// <returns>Whether <paramref name="ip"/> is an address.</returns>
    public static bool TryGetSubnetBytes(ReadOnlySpan<char> ip, Span<byte> prefix, out int length)
    {
        length = 0;
        if (TryParseIPv4(ip, prefix))
        {
            length = 3;
            return true;
        }

        if (!IPAddress.TryParse(ip, out var address) || address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address.MapToIPv4().TryWriteBytes(prefix, out _);
            length = 3;
            return true;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[..8].CopyTo(prefix);
        length = 8;
        return true;
    }

    private static bool TryParseIPv4(ReadOnlySpan<char> text, Span<byte> bytes)
    {
        var part = 0;
        var value = 0;
        var digits = 0;
        foreach (var c in text)
        {
            if (char.IsAsciiDigit(c))
            {
                value = (value * 10) + (c - '0');
                if (++digits > 3 || value > 255)
                {
                    return false;
                }
            }
            else if (c == '.' && digits > 0 && part < 3)
            {
                bytes[part++] = (byte)value;
                value = 0;
                digits = 0;
            }
            else
            {
                return false;
            }
        }

        if (part != 3 || digits == 0)
        {
            return false;
        }

        bytes[3] = (byte)value;
        return true;
    }
}
