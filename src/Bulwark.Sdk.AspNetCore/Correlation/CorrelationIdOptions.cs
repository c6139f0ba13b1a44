using System.Security.Cryptography;

namespace Bulwark.Sdk.AspNetCore.Correlation;

/// <summary>Options of the correlation id middleware (<c>services.AddBulwarkCorrelationId(o => ...)</c>).</summary>
public sealed class CorrelationIdOptions
{
    /// <summary>The default header name.</summary>
    public const string DefaultHeaderName = "X-Correlation-ID";

    /// <summary>
    /// The request header read, the response header echoed and the header set on outgoing
    /// <see cref="System.Net.Http.IHttpClientFactory"/> calls.
    /// </summary>
    /// <value>Default <c>X-Correlation-ID</c>.</value>
    public string HeaderName { get; set; } = DefaultHeaderName;

    /// <summary>Whether the id is set on the response.</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool EchoOnResponse { get; set; } = true;

    /// <summary>
    /// Makes the id of a request that comes without a valid one. It must return 1–128 visible ASCII characters
    /// (no spaces); anything else fails the request with <see cref="InvalidOperationException"/>.
    /// </summary>
    /// <value>Default 32 lowercase hex characters (128 bits) from <see cref="RandomNumberGenerator"/>.</value>
    public Func<string> Generator { get; set; } = NewRandomId;

    private static string NewRandomId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToHexStringLower(bytes);
    }
}
