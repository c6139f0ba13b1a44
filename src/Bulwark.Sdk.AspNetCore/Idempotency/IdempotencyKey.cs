namespace Bulwark.Sdk.AspNetCore.Idempotency;

/// <summary>A client's <c>Idempotency-Key</c> within the caller's scope: the identity of a stored response.</summary>
/// <param name="Scope">The caller's scope, from <see cref="IdempotencyOptions.ScopeSelector"/>.</param>
/// <param name="Key">The header's value: 1–255 visible ASCII characters.</param>
public readonly record struct IdempotencyKey(string Scope, string Key);
