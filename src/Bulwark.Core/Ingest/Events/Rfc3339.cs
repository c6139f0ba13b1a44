using System.Globalization;

namespace Bulwark.Ingest;

/// <summary>
/// RFC 3339 <c>date-time</c> (the JSON Schema <c>format</c>) parsed by hand: <c>YYYY-MM-DDThh:mm:ss[.frac]</c> followed by
/// <c>Z</c> or <c>±hh:mm</c>, <c>T</c> and <c>Z</c> in either case. A time without a zone is refused (it would be read in
/// some local zone); leap seconds are refused (no .NET type holds them). Event v1 carries milliseconds.
/// </summary>
internal static class Rfc3339
{
    /// <summary>The wire format of every event timestamp.</summary>
    public const string WireFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    /// <summary>Parses a date-time and converts it to UTC (digits past the 7th fraction digit are dropped).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out DateTimeOffset utc)
    {
        utc = default;
        if (text.Length < 20
            || !TryDigits(text, 0, 4, out var year) || text[4] != '-'
            || !TryDigits(text, 5, 2, out var month) || text[7] != '-'
            || !TryDigits(text, 8, 2, out var day) || (text[10] | 0x20) != 't'
            || !TryDigits(text, 11, 2, out var hour) || text[13] != ':'
            || !TryDigits(text, 14, 2, out var minute) || text[16] != ':'
            || !TryDigits(text, 17, 2, out var second))
        {
            return false;
        }

        var position = 19;
        long fractionTicks = 0;
        if (text[position] == '.')
        {
            position++;
            var start = position;
            var scale = TimeSpan.TicksPerSecond;
            while (position < text.Length && char.IsAsciiDigit(text[position]))
            {
                if (scale > 1)
                {
                    scale /= 10;
                    fractionTicks += (text[position] - '0') * scale;
                }

                position++;
            }

            if (position == start)
            {
                return false;
            }
        }

        if (position >= text.Length)
        {
            return false;
        }

        long offsetTicks;
        if ((text[position] | 0x20) == 'z')
        {
            offsetTicks = 0;
            position++;
        }
        else if (text[position] is '+' or '-')
        {
            if (text.Length - position != 6
                || !TryDigits(text, position + 1, 2, out var offsetHours) || text[position + 3] != ':'
                || !TryDigits(text, position + 4, 2, out var offsetMinutes)
                || offsetHours > 23 || offsetMinutes > 59)
            {
                return false;
            }

            offsetTicks = ((offsetHours * 60L) + offsetMinutes) * TimeSpan.TicksPerMinute;
            if (text[position] == '-')
            {
                offsetTicks = -offsetTicks;
            }

            position += 6;
        }
        else
        {
            return false;
        }

        if (position != text.Length
            || year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        var ticks = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc).Ticks + fractionTicks - offsetTicks;
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks)
        {
            return false;
        }

        utc = new DateTimeOffset(ticks, TimeSpan.Zero);
        return true;
    }

    /// <summary>The instant in UTC, cut to whole milliseconds (what event v1 carries).</summary>
    public static DateTimeOffset ToWire(DateTimeOffset value)
    {
        var ticks = value.UtcTicks;
        return new DateTimeOffset(ticks - (ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }

    /// <summary>Formats as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c> into at least 24 bytes.</summary>
    public static int Format(DateTimeOffset value, Span<byte> destination)
    {
        value.UtcDateTime.TryFormat(destination, out var written, WireFormat, CultureInfo.InvariantCulture);
        return written;
    }

    /// <summary>Formats as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>.</summary>
    public static string Format(DateTimeOffset value) =>
        value.UtcDateTime.ToString(WireFormat, CultureInfo.InvariantCulture);

    private static bool TryDigits(ReadOnlySpan<char> text, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            var c = text[i];
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return true;
    }
}
