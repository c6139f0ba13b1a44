using System.Globalization;

namespace Bulwark.Detection.Anomaly;

/// <summary>One row of a NAB CSV: its timestamp as written, the timestamp parsed (UTC; NAB's times carry no zone) and the selected columns.</summary>
/// <param name="Timestamp">The timestamp text.</param>
/// <param name="Time">The timestamp, read as UTC.</param>
/// <param name="Text">The selected columns' text, in the order asked for.</param>
public sealed record NabCsvRow(string Timestamp, DateTimeOffset Time, string[] Text)
{
    /// <summary>Column <paramref name="index"/> (of the selected columns) as a number.</summary>
    /// <param name="index">The selected column's position.</param>
    /// <returns>The value.</returns>
    public double Number(int index) => double.Parse(Text[index], NumberStyles.Float, CultureInfo.InvariantCulture);
}

/// <summary>Reads NAB's CSV files (series <c>timestamp,value</c>; results <c>timestamp,…,anomaly_score,label</c>) row by row.</summary>
public static class NabCsv
{
    private static readonly string[] TimeFormats = ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF"];

    /// <summary>Reads the rows of a NAB CSV lazily, in file order, selecting columns by header name.</summary>
    /// <param name="csv">The file's content; the caller owns the stream.</param>
    /// <param name="columns">The header names of the columns to return besides <c>timestamp</c>.</param>
    /// <returns>The rows, read as they are enumerated (no look-ahead).</returns>
    /// <exception cref="FormatException">A column is missing or a row is malformed.</exception>
    public static IEnumerable<NabCsvRow> Read(Stream csv, params string[] columns)
    {
        ArgumentNullException.ThrowIfNull(csv);
        ArgumentNullException.ThrowIfNull(columns);
        return ReadCore(csv, columns);
    }

    private static IEnumerable<NabCsvRow> ReadCore(Stream csv, string[] columns)
    {
        using var reader = new StreamReader(csv, leaveOpen: true);
        var header = reader.ReadLine()?.Split(',') ?? throw new FormatException("the CSV is empty");
        var timeColumn = Array.IndexOf(header, "timestamp");
        var indices = columns.Select(c => Array.IndexOf(header, c)).ToArray();
        if (timeColumn < 0 || indices.Any(i => i < 0))
        {
            throw new FormatException($"the CSV header '{string.Join(',', header)}' lacks one of timestamp, {string.Join(", ", columns)}");
        }

        var line = 1;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (text.Length == 0)
            {
                continue;
            }

            var fields = text.Split(',');
            if (fields.Length != header.Length
                || !DateTime.TryParseExact(fields[timeColumn], TimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
            {
                throw new FormatException($"line {line}: expected {header.Length} fields with a 'YYYY-MM-DD HH:MM:SS' timestamp");
            }

            var selected = new string[indices.Length];
            for (var i = 0; i < indices.Length; i++)
            {
                selected[i] = fields[indices[i]];
            }

            yield return new NabCsvRow(fields[timeColumn], new DateTimeOffset(time, TimeSpan.Zero), selected);
        }
    }
}
