namespace Bulwark.Sdk.AspNetCore.Idempotency;

/// <summary>
/// Where the idempotency middleware keeps keys and stored responses. The default, <see cref="MemoryIdempotencyStore"/>,
/// serves one process; several instances behind a load balancer need a shared implementation.
/// </summary>
/// <remarks>
/// The middleware calls <see cref="ReserveAsync"/> once per request with a key, and then, only when it got
/// <see cref="IdempotencyReservationStatus.Reserved"/>, exactly one of <see cref="CompleteAsync"/> or
/// <see cref="ReleaseAsync"/>. A shared implementation should make the reservation atomic (only one caller can hold a
/// key) and give it a lease, so that a key held by an instance that died is freed eventually.
/// </remarks>
public interface IIdempotencyStore
{
    /// <summary>
    /// Returns the stored response for <paramref name="key"/> if one has not expired, or reports that another request
    /// holds it, or else reserves it for the caller.
    /// </summary>
    /// <param name="key">The scoped key.</param>
    /// <param name="fingerprint">The fingerprint of the caller's request, kept with the reservation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>What was found.</returns>
    ValueTask<IdempotencyReservation> ReserveAsync(IdempotencyKey key, string fingerprint, CancellationToken cancellationToken);

    /// <summary>Stores the response of the request that reserved <paramref name="key"/> and frees the reservation.</summary>
    /// <param name="key">The scoped key.</param>
    /// <param name="response">The response, kept until <see cref="IdempotentResponse.ExpiresAt"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes once the response is stored.</returns>
    ValueTask CompleteAsync(IdempotencyKey key, IdempotentResponse response, CancellationToken cancellationToken);

    /// <summary>Frees the reservation without storing anything (a 5xx, an exception, a response too large).</summary>
    /// <param name="key">The scoped key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes once the key is free.</returns>
    ValueTask ReleaseAsync(IdempotencyKey key, CancellationToken cancellationToken);
}
