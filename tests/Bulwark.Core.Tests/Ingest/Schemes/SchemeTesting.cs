using System.Security.Cryptography;
using System.Text;
using Bulwark.Ingest;

namespace Bulwark.Core.Tests.Ingest.Schemes;

/// <summary>Builds requests for the scheme tests and computes expected MACs by a path independent of the code under test.</summary>
internal static class SchemeTesting
{
    /// <summary>The tolerance every reference library uses.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromSeconds(300);

    /// <summary>A moment far from any vector's timestamp, for schemes that sign none.</summary>
    public static readonly DateTimeOffset AnyTime = new(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);

    public static WebhookRequest Post(string body, params (string Name, string Value)[] headers) =>
        Post(Encoding.UTF8.GetBytes(body), headers);

    public static WebhookRequest Post(byte[] body, params (string Name, string Value)[] headers) =>
        new("POST", ToDictionary(headers), new Dictionary<string, string>(), body);

    public static WebhookRequest Get((string Name, string Value)[] query, params (string Name, string Value)[] headers) =>
        new("GET", ToDictionary(headers), ToDictionary(query), ReadOnlyMemory<byte>.Empty);

    public static SchemeSecrets Secrets(params string[] secrets) => new(secrets);

    public static DateTimeOffset At(long unixSeconds, int offsetSeconds = 0) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds).AddSeconds(offsetSeconds);

    /// <summary>HMAC-SHA256 through the instance API (the code under test uses the static one).</summary>
    public static byte[] Hmac(byte[] key, byte[] data)
    {
        using var hmac = new HMACSHA256(key);
        return hmac.ComputeHash(data);
    }

    public static byte[] Hmac(string key, string data) => Hmac(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(data));

    /// <summary>Lower-case hex through <see cref="Convert.ToHexString(byte[])"/>, upper-case by definition.</summary>
    public static string Hex(byte[] bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    public static void ShouldBe(this VerificationResult result, VerificationOutcome outcome, int? secretIndex = null)
    {
        result.Outcome.ShouldBe(outcome, result.Detail);
        result.IsVerified.ShouldBe(outcome == VerificationOutcome.Verified);
        result.Detail.ShouldNotBeNullOrWhiteSpace();
        if (outcome is VerificationOutcome.Verified or VerificationOutcome.TimestampOutsideWindow)
        {
            result.SecretIndex.ShouldBe(secretIndex ?? 0);
        }
        else
        {
            result.SecretIndex.ShouldBeNull();
            result.DeliveryId.ShouldBeNull();
            result.SignedAt.ShouldBeNull();
        }
    }

    public static void ShouldBeRefusal(this HandshakeAnswer? answer)
    {
        answer.ShouldNotBeNull();
        answer.Status.ShouldBe(403);
        answer.ContentType.ShouldBe("application/problem+json");
        answer.Body.ShouldContain("urn:bulwark:problem:forbidden");
    }

    private static Dictionary<string, string> ToDictionary((string Name, string Value)[] pairs)
    {
        var dictionary = new Dictionary<string, string>();
        foreach (var (name, value) in pairs)
        {
            dictionary[name] = value;
        }

        return dictionary;
    }
}
