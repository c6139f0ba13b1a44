using Microsoft.AspNetCore.Http;

namespace Bulwark.Sdk.AspNetCore.Idempotency;

/// <summary>Options of the <c>Idempotency-Key</c> middleware (<c>services.AddBulwarkIdempotency(o => ...)</c>).</summary>
public sealed class IdempotencyOptions
{
    /// <summary>The request header that carries the key.</summary>
    public const string KeyHeaderName = "Idempotency-Key";

    /// <summary>The response header, set to <c>true</c>, that marks a replayed response.</summary>
    public const string ReplayedHeaderName = "Idempotent-Replayed";

    /// <summary>The longest key accepted.</summary>
    public const int MaxKeyLength = 255;

    /// <summary>The scope of callers that are not authenticated (see <see cref="DefaultScope"/>).</summary>
    public const string AnonymousScope = "anonymous";

    /// <summary>The request methods whose <c>Idempotency-Key</c> is honored; other methods ignore the header. Case-insensitive.</summary>
    /// <value>Default <c>POST</c> and <c>PATCH</c>.</value>
    public ISet<string> Methods { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { HttpMethods.Post, HttpMethods.Patch };

    /// <summary>
    /// Response headers stored and replayed in addition to <c>Content-Type</c> and <c>Location</c>. <c>Set-Cookie</c> is
    /// never stored, even when listed (a replay must not hand out the first caller's session); <c>Content-Length</c>
    /// and <c>Transfer-Encoding</c> are not stored either (they describe the transfer, not the answer).
    /// </summary>
    /// <value>Default none.</value>
    public ISet<string> StoredHeaders { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Chooses the caller's scope: a key is only ever matched against earlier requests in the same scope, so two
    /// callers choosing the same key do not see each other's responses. It runs after the middlewares placed before
    /// this one, so authentication must come first.
    /// </summary>
    /// <value>Default <see cref="DefaultScope"/>.</value>
    public Func<HttpContext, string> ScopeSelector { get; set; } = DefaultScope;

    /// <summary>How long a stored response is replayed; after that the key is free again.</summary>
    /// <value>Default 24 hours.</value>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// The most responses <see cref="MemoryIdempotencyStore"/> keeps; when it is full the oldest is evicted. Requests in
    /// progress are tracked apart and do not count.
    /// </summary>
    /// <value>Default 10,000.</value>
    public int MaxEntries { get; set; } = 10_000;

    /// <summary>
    /// The largest request body that is hashed into the fingerprint. A request with a key and a larger body is refused
    /// with 413, since it could not be recognized when repeated.
    /// </summary>
    /// <value>Default 1 MiB.</value>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// The largest response body that is stored. A larger response is sent to the client as usual but not stored, so
    /// a repeat of its request runs again.
    /// </summary>
    /// <value>Default 1 MiB.</value>
    public long MaxResponseBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// The default scope: <c>user:</c> and the name of an authenticated user
    /// (<see cref="System.Security.Principal.IIdentity.Name"/>), otherwise <see cref="AnonymousScope"/>, which every
    /// unauthenticated caller shares.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <returns>The scope.</returns>
    public static string DefaultScope(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.User.Identity is { IsAuthenticated: true, Name: { } name } ? "user:" + name : AnonymousScope;
    }
}
