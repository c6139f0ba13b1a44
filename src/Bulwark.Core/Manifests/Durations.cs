using System.Globalization;
using System.Text;

namespace Bulwark.Manifests;

/// <summary>
/// Durations as manifests and API bodies write them: one or more whole numbers with a unit, largest first — <c>1d</c>,
/// <c>1h30m</c>, <c>90s</c>, <c>250ms</c>. Units: <c>d</c>, <c>h</c>, <c>m</c>, <c>s</c>, <c>ms</c>.
/// </summary>
public static class Durations
{
    private static readonly (string Unit, TimeSpan Size)[] Units =
        [("d", TimeSpan.FromDays(1)), ("h", TimeSpan.FromHours(1)), ("m", TimeSpan.FromMinutes(1)), ("s", TimeSpan.FromSeconds(1)), ("ms", TimeSpan.FromMilliseconds(1))];

    /// <summary>Reads a duration.</summary>
    /// <param name="text">For example <c>1h30m</c>.</param>
    /// <param name="value">The duration.</param>
    /// <returns>Whether <paramref name="text"/> is a valid, positive duration.</returns>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text) || text.Length > 64)
        {
            return false;
        }

        var span = text.AsSpan();
        var lastUnit = -1;
        long ticks = 0;
        while (!span.IsEmpty)
        {
            var digits = 0;
            while (digits < span.Length && char.IsAsciiDigit(span[digits]))
            {
                digits++;
            }

            if (digits == 0 || digits > 9 || !long.TryParse(span[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            span = span[digits..];
            var unit = -1;
            for (var i = 0; i < Units.Length; i++)
            {
                // "ms" before "m": a longer unit that matches wins.
                if (span.StartsWith(Units[i].Unit, StringComparison.Ordinal) &&
                    (unit < 0 || Units[i].Unit.Length > Units[unit].Unit.Length))
                {
                    unit = i;
                }
            }

            if (unit <= lastUnit)
            {
                return false;
            }

            lastUnit = unit;
            span = span[Units[unit].Unit.Length..];
            ticks += number * Units[unit].Size.Ticks;
        }

        if (ticks <= 0)
        {
            return false;
        }

        value = TimeSpan.FromTicks(ticks);
        return true;
    }

    /// <summary>Writes a duration the way <see cref="TryParse"/> reads it, largest units first (<c>1h30m</c>).</summary>
    /// <param name="value">A positive duration; sub-millisecond parts are dropped.</param>
    /// <returns>The text.</returns>
    public static string Format(TimeSpan value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
        var builder = new StringBuilder();
        var left = value.Ticks;
        foreach (var (unit, size) in Units)
        {
            var count = left / size.Ticks;
            if (count > 0)
            {
                builder.Append(count.ToString(CultureInfo.InvariantCulture)).Append(unit);
                left -= count * size.Ticks;
            }
        }

        return builder.Length == 0 ? "1ms" : builder.ToString();
    }
}
