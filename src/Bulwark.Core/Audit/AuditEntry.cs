namespace Bulwark.Audit;

/// <summary>What a state change asks to be written to the audit log; the store adds sequence, time and hashes.</summary>
public sealed record AuditDraft
{
    /// <summary>Who did it: an identity name, or <c>system:&lt;component&gt;</c> for automatic actions.</summary>
    public required string Actor { get; init; }

    /// <summary>What was done, as <c>area.verb</c>, for example <c>identity.create</c>.</summary>
    public required string Action { get; init; }

    /// <summary>What it was done to, as <c>kind/name</c>, for example <c>identity/alice</c>.</summary>
    public required string Target { get; init; }

    /// <summary>The state before, as canonical JSON; <see langword="null"/> when the target did not exist.</summary>
    public string? Before { get; init; }

    /// <summary>The state after, as canonical JSON; <see langword="null"/> when the target no longer exists.</summary>
    public string? After { get; init; }

    /// <summary>Why, as given by the actor; <see langword="null"/> when none was given.</summary>
    public string? Reason { get; init; }

    /// <summary>The correlation id of the request or run that made the change.</summary>
    public string? CorrelationId { get; init; }
}

/// <summary>One entry of the hash-chained audit log.</summary>
public sealed record AuditEntry
{
    /// <summary>Position in the log, from 1, without gaps.</summary>
    public required long Seq { get; init; }

    /// <summary>When the entry was written, in UTC with microsecond precision.</summary>
    public required DateTimeOffset Time { get; init; }

    /// <inheritdoc cref="AuditDraft.Actor"/>
    public required string Actor { get; init; }

    /// <inheritdoc cref="AuditDraft.Action"/>
    public required string Action { get; init; }

    /// <inheritdoc cref="AuditDraft.Target"/>
    public required string Target { get; init; }

    /// <inheritdoc cref="AuditDraft.Before"/>
    public string? Before { get; init; }

    /// <inheritdoc cref="AuditDraft.After"/>
    public string? After { get; init; }

    /// <inheritdoc cref="AuditDraft.Reason"/>
    public string? Reason { get; init; }

    /// <inheritdoc cref="AuditDraft.CorrelationId"/>
    public string? CorrelationId { get; init; }

    /// <summary>The hash of the previous entry in lower-case hex; 64 zeros for the first entry.</summary>
    public required string PrevHash { get; init; }

    /// <summary>This entry's hash in lower-case hex (see <see cref="AuditChain.ComputeHash"/>).</summary>
    public required string Hash { get; init; }
}

/// <summary>The last entry of the chain: where the next entry links to.</summary>
/// <param name="Seq">Its sequence number; 0 for an empty log.</param>
/// <param name="Hash">Its hash; <see cref="AuditChain.GenesisHash"/> for an empty log.</param>
public readonly record struct AuditHead(long Seq, string Hash)
{
    /// <summary>The head of an empty log.</summary>
    public static AuditHead Empty { get; } = new(0, AuditChain.GenesisHash);
}
