using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Identity;

namespace Bulwark.Core.Tests.Identity;

public sealed class TokensTests
{
    private const string Base64UrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    [Fact]
    public void Create_SystemSource_IsPrefixAnd43Base64UrlCharactersOf32Bytes()
    {
        var token = Tokens.Create(SystemRandomSource.Instance);

        token.ShouldStartWith("bwk_", Case.Sensitive);
        var body = token["bwk_".Length..];
        body.Length.ShouldBe(43);
        body.ShouldAllBe(c => Base64UrlAlphabet.Contains(c, StringComparison.Ordinal));
        Base64Url.DecodeFromChars(body).Length.ShouldBe(32);
    }

    [Fact]
    public void Create_UsesTheInjectedSourceForExactly32Bytes()
    {
        var source = new PatternRandomSource(i => (byte)i);

        var token = Tokens.Create(source);

        source.Requests.ShouldBe([32]);
        Base64Url.DecodeFromChars(token.AsSpan("bwk_".Length)).ShouldBe([.. Enumerable.Range(0, 32).Select(i => (byte)i)]);
    }

    [Fact]
    public void Create_KnownPattern_GivesTheBase64UrlTextWorkedOutByHand()
    {
        // FB FF BF = 111110 111111 111110 111111 = "-_-_" (indices 62, 63, 62, 63): ten groups cover 30 bytes; the
        // last two bytes FB FF = 111110 111111 1111(00) = "-_8" (index 60 is '8'), without padding.
        var source = new PatternRandomSource(i => (byte)((i % 3) switch { 0 => 0xFB, 1 => 0xFF, _ => 0xBF }));

        var token = Tokens.Create(source);

        token.ShouldBe("bwk_" + string.Concat(Enumerable.Repeat("-_-_", 10)) + "-_8");
    }

    [Fact]
    public void Create_RandomPatterns_MatchAnIndependentBase64UrlEncoder()
    {
        var random = new Random(12345);
        for (var round = 0; round < 200; round++)
        {
            var bytes = new byte[32];
            random.NextBytes(bytes);
            var source = new PatternRandomSource(i => bytes[i]);

            Tokens.Create(source).ShouldBe("bwk_" + EncodeBase64Url(bytes), $"round {round}");
        }
    }

    [Fact]
    public void Create_TenThousandFromTheSystemSource_AreAllDistinct()
    {
        var tokens = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 10_000; i++)
        {
            tokens.Add(Tokens.Create(SystemRandomSource.Instance));
        }

        tokens.Count.ShouldBe(10_000);
    }

    [Fact]
    public void Create_NullSource_Throws()
    {
        Should.Throw<ArgumentNullException>(() => Tokens.Create(null!));
    }

    [Fact]
    public void Hash_Abc_IsTheFips180TestVector()
    {
        Convert.ToHexStringLower(Tokens.Hash("abc"))
            .ShouldBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    [Fact]
    public void Hash_AnyToken_IsSha256OfItsUtf8Bytes()
    {
        string[] tokens = ["", "bwk_x", "bwk_é日本☃", Tokens.Create(SystemRandomSource.Instance)];
        foreach (var token in tokens)
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            sha.AppendData(Encoding.UTF8.GetBytes(token));

            Tokens.Hash(token).ShouldBe(sha.GetHashAndReset(), token);
        }
    }

    [Fact]
    public void Matches_TheTokensOwnHash_IsTrue()
    {
        var token = Tokens.Create(SystemRandomSource.Instance);

        Tokens.Matches(token, Tokens.Hash(token)).ShouldBeTrue();
    }

    [Fact]
    public void Matches_AnotherTokenOrAnAlteredHash_IsFalse()
    {
        var token = Tokens.Create(SystemRandomSource.Instance);
        var hash = Tokens.Hash(token);
        var altered = (byte[])hash.Clone();
        altered[^1] ^= 0x01;

        Tokens.Matches(Tokens.Create(SystemRandomSource.Instance), hash).ShouldBeFalse();
        Tokens.Matches(token + "x", hash).ShouldBeFalse();
        Tokens.Matches(token, altered).ShouldBeFalse();
    }

    [Fact]
    public void Matches_StoredHashOfWrongLength_IsFalse()
    {
        var token = Tokens.Create(SystemRandomSource.Instance);
        var hash = Tokens.Hash(token);

        Tokens.Matches(token, []).ShouldBeFalse();
        Tokens.Matches(token, hash.AsSpan(0, 31)).ShouldBeFalse();
    }

    [Fact]
    public void CreateId_SystemSource_IsTkAnd16LowercaseHexDigits()
    {
        for (var i = 0; i < 100; i++)
        {
            var id = Tokens.CreateId(SystemRandomSource.Instance);

            id.ShouldStartWith("tk_", Case.Sensitive);
            id.Length.ShouldBe(19);
            id[3..].ShouldAllBe(c => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        }
    }

    [Fact]
    public void CreateId_KnownPattern_IsItsLowercaseHex()
    {
        byte[] bytes = [0x9B, 0x1D, 0xE0, 0xC4, 0xA7, 0xF3, 0xE2, 0xD1];
        var source = new PatternRandomSource(i => bytes[i]);

        Tokens.CreateId(source).ShouldBe("tk_9b1de0c4a7f3e2d1");
        source.Requests.ShouldBe([8]);
    }

    /// <summary>Base64url (RFC 4648 §5) without padding, six bits at a time.</summary>
    private static string EncodeBase64Url(byte[] bytes)
    {
        var text = new StringBuilder();
        var buffer = 0;
        var bits = 0;
        foreach (var b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 6)
            {
                bits -= 6;
                text.Append(Base64UrlAlphabet[(buffer >> bits) & 0x3F]);
            }
        }

        if (bits > 0)
        {
            text.Append(Base64UrlAlphabet[(buffer << (6 - bits)) & 0x3F]);
        }

        return text.ToString();
    }

    /// <summary>Fills every buffer with <c>pattern(index)</c> and records how many bytes each call asked for.</summary>
    private sealed class PatternRandomSource(Func<int, byte> pattern) : IRandomSource
    {
        public List<int> Requests { get; } = [];

        public void Fill(Span<byte> destination)
        {
            Requests.Add(destination.Length);
            for (var i = 0; i < destination.Length; i++)
            {
                destination[i] = pattern(i);
            }
        }
    }
}
