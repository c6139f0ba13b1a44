using System.Buffers;
using Bulwark.Identity;

namespace Bulwark.Server.Http;

/// <summary>
/// Accepts <c>X-Correlation-ID</c> (1–128 characters of letters, digits and <c>.:_-</c>) or makes one, echoes it on
/// the response, opens a logging scope with it, and keeps it for audit entries and problem bodies. A value outside that
/// alphabet is replaced rather than refused, so a client's odd id never costs it its request.
/// </summary>
internal sealed class CorrelationId(RequestDelegate next, ILogger<CorrelationId> logger, IRandomSource random)
{
    public const string Header = "X-Correlation-ID";
    private static readonly SearchValues<char> Allowed = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:_-");
    private static readonly object Key = new();

    public static string? Get(HttpContext context) => context.Items.TryGetValue(Key, out var id) ? id as string : null;

    public static bool IsValid(string? value) =>
        value is { Length: > 0 and <= 128 } && !value.AsSpan().ContainsAnyExcept(Allowed);

    public async Task InvokeAsync(HttpContext context)
    {
        var incoming = context.Request.Headers[Header].ToString();
        var id = IsValid(incoming) ? incoming : NewId();
        context.Items[Key] = id;
        context.Response.Headers[Header] = id;
        using (logger.BeginScope(new Dictionary<string, object> { ["CorrelationId"] = id }))
        {
            await next(context).ConfigureAwait(false);
        }
    }

    private string NewId()
    {
        Span<byte> bytes = stackalloc byte[16];
        random.Fill(bytes);
        return Convert.ToHexStringLower(bytes);
    }
}
