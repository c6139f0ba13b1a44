using System.Globalization;

namespace Bulwark.Server.Http;

/// <summary>
/// Conditional GETs of versioned collections (flags, throttles, sources): the collection's version as a strong
/// <c>ETag</c>, <c>Cache-Control: no-cache</c>, and 304 when <c>If-None-Match</c> names it (or <c>*</c>).
/// </summary>
internal static class VersionETag
{
    /// <summary>
    /// Sets the headers; returns true when the client has this version already (answer 304). <paramref name="state"/>
    /// names what the answer shows beside the stored version (which secrets resolve on this server), so that a change
    /// there changes the tag too.
    /// </summary>
    public static bool NotModified(HttpContext context, long version, string? state = null)
    {
        var etag = state is null
            ? $"\"{version.ToString(CultureInfo.InvariantCulture)}\""
            : $"\"{version.ToString(CultureInfo.InvariantCulture)}-{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(state)))[..16]}\"";
        context.Response.Headers.ETag = etag;
        context.Response.Headers.CacheControl = "no-cache";
        return context.Request.Headers.IfNoneMatch.Any(v => v == etag || v == "*");
    }
}
