using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Audit;

namespace Bulwark.Throttling;

/// <summary>
/// A manual block: a person or a playbook told a throttle to deny one key until a time, whatever its limits, and even
/// in shadow mode (it is an order, not a limit under trial). Unlike an escalation block it is stored, so it holds across
/// restarts and policy changes. It applies to every layer whose key has that value in a check: a user id blocks the
/// layers keyed by <c>user</c> (or whatever key carries it), an address the <c>ip</c> layers, and a network written as
/// the subnet layers write it (<c>203.0.113.0/24</c>, <c>2001:db8::/64</c>) the <c>subnet</c> layers. A <c>global</c>
/// layer is never blocked this way.
/// </summary>
public sealed record ThrottleManualBlock
{
    /// <summary>The longest key accepted (the longest key value a check may carry).</summary>
    public const int MaxKeyLength = 256;

    /// <summary>The longest reason accepted.</summary>
    public const int MaxReasonLength = 1000;

    /// <summary>How long a block lasts when nothing else is asked.</summary>
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromHours(24);

    /// <summary>The longest a block may last from the moment it is set.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(30);

    /// <summary>The throttle's name.</summary>
    public required string Throttle { get; init; }

    /// <summary>The key's value, as checks carry it.</summary>
    public required string Key { get; init; }

    /// <summary>When the block lapses.</summary>
    public required DateTimeOffset Until { get; init; }

    /// <summary>Why, for people.</summary>
    public string? Reason { get; init; }

    /// <summary>Who set it last: an identity, or <c>system:playbook/&lt;name&gt;</c>.</summary>
    public required string By { get; init; }

    /// <summary>When the key was first blocked (an extension keeps it).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the block last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The expiry of the block in force when this one was set, if any: what undoing the last change restores.</summary>
    public DateTimeOffset? PreviousUntil { get; init; }

    /// <summary>The idempotency key of the playbook call that set it last, if one did: a repeat of that call changes nothing.</summary>
    public string? ChangeKey { get; init; }

    /// <summary>Whether the block holds at <paramref name="now"/>.</summary>
    /// <param name="now">The time.</param>
    /// <returns><see langword="true"/> until <see cref="Until"/>.</returns>
    public bool InForceAt(DateTimeOffset now) => Until > now;

    /// <summary>The API and audit shape: <c>{ throttle, key, until, reason, by, created_at, updated_at }</c>.</summary>
    /// <returns>A new document.</returns>
    public JsonObject ToDocument() => new()
    {
        ["throttle"] = Throttle,
        ["key"] = Key,
        ["until"] = AuditChain.FormatTime(Until),
        ["reason"] = Reason,
        ["by"] = By,
        ["created_at"] = AuditChain.FormatTime(CreatedAt),
        ["updated_at"] = AuditChain.FormatTime(UpdatedAt),
    };

    /// <summary>
    /// Checks a key as an operator or a playbook writes it: 1 to <see cref="MaxKeyLength"/> characters without control
    /// characters; an address with a prefix length must be the network a subnet layer keys on (its /24 for IPv4, its
    /// /64 for IPv6), or it would block nothing.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <returns>What is wrong with it, or <see langword="null"/> when it is fine.</returns>
    public static string? CheckKey(string? key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > MaxKeyLength)
        {
            return $"must be 1-{MaxKeyLength} characters";
        }

        if (key.Any(char.IsControl))
        {
            return "must not contain control characters";
        }

        var slash = key.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0 && IPAddress.TryParse(key.AsSpan(0, slash), out _)
            && !(ThrottleKeys.TryGetSubnet(key[..slash], out var network) && network == key))
        {
            return ThrottleKeys.TryGetSubnet(key[..slash], out var suggested)
                ? $"a network is blocked as a subnet layer keys it: {suggested}"
                : "is not a network";
        }

        return null;
    }

    /// <summary>Whether a (checked) key is a network, which blocks subnet layers rather than named ones.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> for <c>203.0.113.0/24</c> or <c>2001:db8::/64</c>.</returns>
    public static bool IsNetwork(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && ThrottleKeys.TryGetSubnet(key[..slash], out var network) && network == key;
    }
}
