using Bulwark.Identity;
using Bulwark.Problems;
using Bulwark.Server.Http;
using Bulwark.Storage;
using Microsoft.AspNetCore.Authorization;

namespace Bulwark.Server.Security;

/// <summary>The authenticated caller of a request.</summary>
/// <param name="Identity">The identity.</param>
/// <param name="TokenId">The token used.</param>
internal sealed record Caller(IdentityRecord Identity, string TokenId)
{
    private static readonly object Key = new();

    public string Name => Identity.Name;

    public static Caller? Get(HttpContext context) => context.Items.TryGetValue(Key, out var caller) ? caller as Caller : null;

    public static Caller Require(HttpContext context) =>
        Get(context) ?? throw new InvalidOperationException("The endpoint requires a capability but no caller was authenticated.");

    public void Attach(HttpContext context) => context.Items[Key] = this;
}

/// <summary>Endpoint metadata: the capability a caller's roles must grant.</summary>
/// <param name="Capability">The capability.</param>
internal sealed record RequiresCapability(Capability Capability);

/// <summary>
/// Endpoint metadata: the named fields of this endpoint's JSON answer are secrets shown once. They are never stored for
/// idempotent replay: a replay answers the same object with those fields set to null.
/// </summary>
/// <param name="Fields">The top-level field names.</param>
internal sealed record SecretResponseFields(params string[] Fields);

internal static class CapabilityEndpointExtensions
{
    public static TBuilder WithSecretResponseFields<TBuilder>(this TBuilder builder, params string[] fields)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new SecretResponseFields(fields));

    public static TBuilder RequireCapability<TBuilder>(this TBuilder builder, Capability capability)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiresCapability(capability));
}

/// <summary>
/// Bearer authentication and role checks for every endpoint. An endpoint is public only when it says so
/// (<c>AllowAnonymous</c>); one that declares no capability requires <see cref="Capability.Administer"/>, so a
/// forgotten declaration fails closed. Missing or unknown tokens get 401, wrong roles 403.
/// </summary>
internal sealed class Authentication(RequestDelegate next, IControlStore store)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        // Routing's own 405 endpoint carries no metadata; it is answered as a problem by the error handler.
        if (endpoint is null || endpoint.Metadata.Count == 0 || endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var required = endpoint.Metadata.GetMetadata<RequiresCapability>()?.Capability ?? Capability.Administer;
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= 7)
        {
            await Challenge(context, "Send 'Authorization: Bearer <token>'.").ConfigureAwait(false);
            return;
        }

        var presented = header[7..].Trim();
        var token = await store.FindTokenAsync(Tokens.Hash(presented), context.RequestAborted).ConfigureAwait(false);
        if (token is null || !token.IsActive || !Tokens.Matches(presented, token.Hash))
        {
            await Challenge(context, "The token is unknown or revoked.").ConfigureAwait(false);
            return;
        }

        var identity = await store.GetIdentityAsync(token.Identity, context.RequestAborted).ConfigureAwait(false);
        if (identity is null)
        {
            await Challenge(context, "The token's identity no longer exists.").ConfigureAwait(false);
            return;
        }

        new Caller(identity, token.Id).Attach(context);
        if (!Roles.AnyGrants(identity.Roles, required))
        {
            await ProblemResults.WriteAsync(
                context,
                ProblemKind.Forbidden,
                $"This call needs the '{required.ToString().ToLowerInvariant()}' capability, which roles [{string.Join(", ", identity.Roles.Select(Roles.Name))}] do not grant.").ConfigureAwait(false);
            return;
        }

        await next(context).ConfigureAwait(false);
    }

    private static Task Challenge(HttpContext context, string detail)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"bulwark\"";
        return ProblemResults.WriteAsync(context, ProblemKind.Unauthenticated, detail);
    }
}
