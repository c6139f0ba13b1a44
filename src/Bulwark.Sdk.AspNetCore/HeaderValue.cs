using System.Buffers;

namespace Bulwark.Sdk.AspNetCore;

/// <summary>Checks the header values the middlewares accept from clients.</summary>
internal static class HeaderValue
{
    // Visible ASCII (0x21-0x7E): no spaces, no control characters, nothing a log line or a header could be split on.
    private static readonly SearchValues<char> Visible = SearchValues.Create([.. Enumerable.Range(0x21, 0x7E - 0x21 + 1).Select(c => (char)c)]);

    public static bool IsVisibleAscii(string? value, int maxLength) =>
        value is { Length: > 0 } && value.Length <= maxLength && !value.AsSpan().ContainsAnyExcept(Visible);
}
