using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Audit;

namespace Bulwark.Core.Tests.Audit;

/// <summary>
/// An independent implementation of the documented audit hash encoding (docs: <see cref="AuditChain"/>), written from
/// the description rather than the code: <c>"bulwark.audit.v1"</c>, then each field as a 32-bit big-endian UTF-8 byte
/// length and the bytes, <c>FF FF FF FF</c> for null; seq in decimal; time as <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c> in UTC.
/// </summary>
internal static class AuditReference
{
    public static string Hash(AuditEntry entry)
    {
        var bytes = new List<byte>();
        bytes.AddRange(Encoding.ASCII.GetBytes("bulwark.audit.v1"));
        Field(bytes, entry.Seq.ToString(CultureInfo.InvariantCulture));
        Field(bytes, Time(entry.Time));
        Field(bytes, entry.Actor);
        Field(bytes, entry.Action);
        Field(bytes, entry.Target);
        Field(bytes, entry.Before);
        Field(bytes, entry.After);
        Field(bytes, entry.Reason);
        Field(bytes, entry.CorrelationId);
        Field(bytes, entry.PrevHash);
        return Convert.ToHexStringLower(SHA256.HashData(bytes.ToArray()));
    }

    /// <summary>UTC, microseconds, built field by field.</summary>
    public static string Time(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        var micros = utc.Ticks % TimeSpan.TicksPerSecond / 10;
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{utc.Year:D4}-{utc.Month:D2}-{utc.Day:D2}T{utc.Hour:D2}:{utc.Minute:D2}:{utc.Second:D2}.{micros:D6}Z");
    }

    private static void Field(List<byte> bytes, string? value)
    {
        if (value is null)
        {
            bytes.AddRange([0xFF, 0xFF, 0xFF, 0xFF]);
            return;
        }

        var utf8 = Encoding.UTF8.GetBytes(value);
        var length = utf8.Length;
        bytes.Add((byte)(length >> 24));
        bytes.Add((byte)(length >> 16));
        bytes.Add((byte)(length >> 8));
        bytes.Add((byte)length);
        bytes.AddRange(utf8);
    }
}
