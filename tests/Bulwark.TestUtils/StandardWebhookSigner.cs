using System.Security.Cryptography;
using System.Text;

namespace Bulwark.TestUtils;

/// <summary>
/// Signs deliveries the Standard Webhooks way (spec v1.0.0), independently of the server's verifier: HMAC-SHA256 over
/// <c>id.timestamp.body</c> keyed with the base64-decoded secret after <c>whsec_</c>, sent as <c>v1,&lt;base64&gt;</c>.
/// </summary>
public sealed class StandardWebhookSigner(string secret)
{
    private readonly byte[] _key = Convert.FromBase64String(secret["whsec_".Length..]);

    /// <summary>A fresh secret: <c>whsec_</c> and 32 random bytes in base64.</summary>
    public static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public string Sign(string id, DateTimeOffset timestamp, byte[] body)
    {
        using var hmac = new HMACSHA256(_key);
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp.ToUnixTimeSeconds()}.");
        hmac.TransformBlock(prefix, 0, prefix.Length, null, 0);
        hmac.TransformFinalBlock(body, 0, body.Length);
        return "v1," + Convert.ToBase64String(hmac.Hash!);
    }

    /// <summary>A POST of <paramref name="body"/> to <c>v1/webhooks/{source}</c> with the three headers.</summary>
    public HttpRequestMessage Request(string source, string id, DateTimeOffset timestamp, byte[] body, string contentType = "application/json")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"v1/webhooks/{source}") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", Sign(id, timestamp, body));
        return request;
    }
}
