namespace Bulwark.Audit;

/// <summary>The outcome of verifying the audit chain.</summary>
public sealed record AuditVerification
{
    /// <summary>Whether every entry is intact and linked.</summary>
    public required bool Ok { get; init; }

    /// <summary>How many entries were read.</summary>
    public required long Entries { get; init; }

    /// <summary>The hash of the last entry read (the genesis hash for an empty log).</summary>
    public required string Head { get; init; }

    /// <summary>The sequence number at which the first break was found; <see langword="null"/> when intact.</summary>
    public long? FirstBadSeq { get; init; }

    /// <summary>What is wrong there; <see langword="null"/> when intact.</summary>
    public string? Problem { get; init; }
}

/// <summary>
/// Checks the chain one entry at a time, in sequence order, so a log of any length verifies in constant memory.
/// Feed every entry to <see cref="Add"/>, then call <see cref="Complete"/> with the head the store recorded.
/// </summary>
public sealed class AuditVerifier
{
    private AuditHead _previous = AuditHead.Empty;
    private long _entries;
    private long? _firstBadSeq;
    private string? _problem;

    /// <summary>Whether a break has been found; later entries are then only counted.</summary>
    public bool Broken => _firstBadSeq is not null;

    /// <summary>Checks the next entry.</summary>
    /// <param name="entry">The entry, in ascending sequence order.</param>
    public void Add(AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        _entries++;
        if (!Broken)
        {
            var problem = Check(entry);
            if (problem is not null)
            {
                _firstBadSeq = entry.Seq;
                _problem = problem;
            }
        }

        _previous = new AuditHead(entry.Seq, entry.Hash);
    }

    /// <summary>Finishes verification.</summary>
    /// <param name="recordedHead">
    /// The head the store recorded with its last write, which catches entries deleted from the end; <see langword="null"/>
    /// when the store keeps none.
    /// </param>
    /// <returns>The result.</returns>
    public AuditVerification Complete(AuditHead? recordedHead = null)
    {
        if (!Broken && recordedHead is { } head && head.Seq != _previous.Seq)
        {
            // Missing entries at the end: the first missing one. Entries beyond the head: the first one past it.
            _firstBadSeq = head.Seq > _previous.Seq ? _previous.Seq + 1 : head.Seq + 1;
            _problem = head.Seq > _previous.Seq
                ? $"entries {_previous.Seq + 1} to {head.Seq} are missing from the end of the log"
                : $"entries {head.Seq + 1} to {_previous.Seq} are beyond the recorded head {head.Seq}";
        }
        else if (!Broken && recordedHead is { } same && !string.Equals(same.Hash, _previous.Hash, StringComparison.Ordinal))
        {
            _firstBadSeq = same.Seq;
            _problem = $"entry {same.Seq} does not match the recorded head hash";
        }

        return new AuditVerification
        {
            Ok = !Broken,
            Entries = _entries,
            Head = _previous.Hash,
            FirstBadSeq = _firstBadSeq,
            Problem = _problem,
        };
    }

    private string? Check(AuditEntry entry)
    {
        var expectedSeq = _previous.Seq + 1;
        if (entry.Seq != expectedSeq)
        {
            return entry.Seq > expectedSeq
                ? $"sequence gap: expected entry {expectedSeq}, found {entry.Seq} (entry deleted)"
                : $"sequence out of order: expected entry {expectedSeq}, found {entry.Seq}";
        }

        if (!string.Equals(entry.PrevHash, _previous.Hash, StringComparison.Ordinal))
        {
            return $"entry {entry.Seq} does not link to entry {_previous.Seq} (entry inserted, deleted or reordered)";
        }

        if (!string.Equals(AuditChain.ComputeHash(entry), entry.Hash, StringComparison.Ordinal))
        {
            return $"entry {entry.Seq} does not match its hash (entry edited)";
        }

        return null;
    }
}
