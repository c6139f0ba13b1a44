using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Identity;

/// <summary>A source of cryptographically strong random bytes; injectable so tests can be deterministic.</summary>
public interface IRandomSource
{
    /// <summary>Fills <paramref name="destination"/> with random bytes.</summary>
    /// <param name="destination">The buffer to fill.</param>
    void Fill(Span<byte> destination);
}

/// <summary>The operating system's CSPRNG (<see cref="RandomNumberGenerator"/>).</summary>
public sealed class SystemRandomSource : IRandomSource
{
    /// <summary>The shared instance.</summary>
    public static SystemRandomSource Instance { get; } = new();

    /// <inheritdoc />
    public void Fill(Span<byte> destination) => RandomNumberGenerator.Fill(destination);
}

/// <summary>
/// Makes and checks bearer tokens. A token is <c>bwk_</c> followed by 256 random bits in base64url; only its SHA-256
/// is stored. A fast hash is enough because the input has 256 bits of entropy: there is nothing to brute-force.
/// </summary>
public static class Tokens
{
    /// <summary>The prefix of every token Bulwark issues, so secret scanners can find leaked ones.</summary>
    public const string Prefix = "bwk_";

    /// <summary>Bytes of randomness in a token.</summary>
    public const int EntropyBytes = 32;

    /// <summary>The shortest token accepted from outside (a bootstrap token set by the operator).</summary>
    public const int MinimumLength = 16;

    /// <summary>Makes a new random token.</summary>
    /// <param name="random">The random source.</param>
    /// <returns>The token text, to be shown once.</returns>
    public static string Create(IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Span<byte> bytes = stackalloc byte[EntropyBytes];
        random.Fill(bytes);
        return Prefix + Base64Url(bytes);
    }

    /// <summary>Makes a new token id such as <c>tk_9b1de0c4a7f3e2d1</c>; not secret.</summary>
    /// <param name="random">The random source.</param>
    /// <returns>The id.</returns>
    public static string CreateId(IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Span<byte> bytes = stackalloc byte[8];
        random.Fill(bytes);
        return "tk_" + Convert.ToHexStringLower(bytes);
    }

    /// <summary>The stored form of a token: SHA-256 over its UTF-8 bytes.</summary>
    /// <param name="token">The token text.</param>
    /// <returns>32 bytes.</returns>
    public static byte[] Hash(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    /// <summary>Compares a presented token with a stored hash in constant time.</summary>
    /// <param name="token">The presented token.</param>
    /// <param name="storedHash">The stored hash.</param>
    /// <returns>Whether they match.</returns>
    public static bool Matches(string token, ReadOnlySpan<byte> storedHash) =>
        CryptographicOperations.FixedTimeEquals(Hash(token), storedHash);

    private static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
