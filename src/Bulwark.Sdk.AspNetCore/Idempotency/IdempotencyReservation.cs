namespace Bulwark.Sdk.AspNetCore.Idempotency;

/// <summary>What <see cref="IIdempotencyStore.ReserveAsync"/> found for a key.</summary>
public enum IdempotencyReservationStatus
{
    /// <summary>The key was free and is now held by the caller, who must complete or release it.</summary>
    Reserved = 0,

    /// <summary>Another request holds the key and has not finished.</summary>
    InProgress = 1,

    /// <summary>A response is stored for the key.</summary>
    Completed = 2,
}

/// <summary>The answer of <see cref="IIdempotencyStore.ReserveAsync"/>.</summary>
public sealed class IdempotencyReservation
{
    private IdempotencyReservation(IdempotencyReservationStatus status, string? fingerprint, IdempotentResponse? response)
    {
        Status = status;
        Fingerprint = fingerprint;
        Response = response;
    }

    /// <summary>The key is now held by the caller.</summary>
    public static IdempotencyReservation Reserved { get; } = new(IdempotencyReservationStatus.Reserved, null, null);

    /// <summary>What the store found.</summary>
    public IdempotencyReservationStatus Status { get; }

    /// <summary>
    /// The fingerprint of the request that holds the key (in progress or completed); <see langword="null"/> when
    /// <see cref="Status"/> is <see cref="IdempotencyReservationStatus.Reserved"/>.
    /// </summary>
    public string? Fingerprint { get; }

    /// <summary>The stored response when <see cref="Status"/> is <see cref="IdempotencyReservationStatus.Completed"/>.</summary>
    public IdempotentResponse? Response { get; }

    /// <summary>Another request holds the key.</summary>
    /// <param name="fingerprint">That request's fingerprint.</param>
    /// <returns>The reservation.</returns>
    public static IdempotencyReservation InProgress(string fingerprint)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        return new(IdempotencyReservationStatus.InProgress, fingerprint, null);
    }

    /// <summary>A response is stored for the key.</summary>
    /// <param name="response">The response.</param>
    /// <returns>The reservation.</returns>
    public static IdempotencyReservation Completed(IdempotentResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return new(IdempotencyReservationStatus.Completed, response.Fingerprint, response);
    }
}
