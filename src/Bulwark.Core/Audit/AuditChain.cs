using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Audit;

/// <summary>
/// The audit log's hash chain. An entry's hash is SHA-256 over a length-prefixed encoding of its fields, the previous
/// entry's hash among them, so editing, deleting, inserting or reordering entries breaks the chain. The encoding,
/// documented in <c>docs/audit.md</c>, is
/// <c>"bulwark.audit.v1" ‖ F(seq) ‖ F(time) ‖ F(actor) ‖ F(action) ‖ F(target) ‖ F(before) ‖ F(after) ‖ F(reason) ‖
/// F(correlation_id) ‖ F(prev_hash)</c> where <c>F(null)</c> is the four bytes <c>FF FF FF FF</c> and <c>F(s)</c> is the
/// UTF-8 byte length of <c>s</c> as a 32-bit big-endian integer followed by those bytes; <c>seq</c> is decimal and
/// <c>time</c> is <see cref="FormatTime"/>.
/// </summary>
public static class AuditChain
{
    /// <summary>The previous hash of the first entry: 64 zeros.</summary>
    public static readonly string GenesisHash = new('0', 64);

    private static readonly byte[] Domain = "bulwark.audit.v1"u8.ToArray();

    /// <summary>The text form of an entry time: UTC, microseconds, for example <c>2026-11-21T10:04:05.123456Z</c>.</summary>
    /// <param name="time">The time.</param>
    /// <returns>The text that is hashed and stored.</returns>
    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Parses <see cref="FormatTime"/> output.</summary>
    /// <param name="text">The stored text.</param>
    /// <returns>The time in UTC.</returns>
    public static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.ParseExact(text, "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    /// <summary>Truncates a time to the microsecond precision the log keeps.</summary>
    /// <param name="time">The time.</param>
    /// <returns>The time as it reads back from the log.</returns>
    public static DateTimeOffset Truncate(DateTimeOffset time) =>
        new(time.UtcTicks - (time.UtcTicks % 10), TimeSpan.Zero);

    /// <summary>Links a draft after <paramref name="head"/>: the entry that the store writes next.</summary>
    /// <param name="draft">What happened.</param>
    /// <param name="head">The current head of the chain.</param>
    /// <param name="time">When it is written.</param>
    /// <returns>The complete entry with its hash.</returns>
    public static AuditEntry Link(AuditDraft draft, AuditHead head, DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var entry = new AuditEntry
        {
            Seq = head.Seq + 1,
            Time = Truncate(time),
            Actor = draft.Actor,
            Action = draft.Action,
            Target = draft.Target,
            Before = draft.Before,
            After = draft.After,
            Reason = draft.Reason,
            CorrelationId = draft.CorrelationId,
            PrevHash = head.Hash,
            Hash = string.Empty,
        };
        return entry with { Hash = ComputeHash(entry) };
    }

    /// <summary>Computes an entry's hash from its fields (its own <see cref="AuditEntry.Hash"/> is ignored).</summary>
    /// <param name="entry">The entry.</param>
    /// <returns>Lower-case hex SHA-256.</returns>
    public static string ComputeHash(AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Domain);
        Append(hash, entry.Seq.ToString(CultureInfo.InvariantCulture));
        Append(hash, FormatTime(entry.Time));
        Append(hash, entry.Actor);
        Append(hash, entry.Action);
        Append(hash, entry.Target);
        Append(hash, entry.Before);
        Append(hash, entry.After);
        Append(hash, entry.Reason);
        Append(hash, entry.CorrelationId);
        Append(hash, entry.PrevHash);
        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        return Convert.ToHexStringLower(digest);
    }

    private static void Append(IncrementalHash hash, string? field)
    {
        Span<byte> length = stackalloc byte[4];
        if (field is null)
        {
            BinaryPrimitives.WriteInt32BigEndian(length, -1);
            hash.AppendData(length);
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(field);
        BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
        hash.AppendData(length);
        hash.AppendData(bytes);
    }
}
