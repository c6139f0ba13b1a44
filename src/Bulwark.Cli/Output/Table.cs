using System.Text;

namespace Bulwark.Cli.Output;

/// <summary>Prints rows as a plain, aligned table for people (scripts use <c>--json</c>).</summary>
internal static class Table
{
    public static void Write(TextWriter output, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string?>> rows)
    {
        var all = rows.Select(r => r.Select(c => c ?? "-").ToArray()).ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[i].Length))).ToArray();
        output.WriteLine(Line(headers, widths));
        foreach (var row in all)
        {
            output.WriteLine(Line(row, widths));
        }
    }

    /// <summary>Prints one object as aligned <c>field  value</c> lines, for a single item that is too wide for a row.</summary>
    public static void WritePairs(TextWriter output, IReadOnlyList<(string Field, string? Value)> pairs)
    {
        var width = pairs.Count == 0 ? 0 : pairs.Max(p => p.Field.Length);
        foreach (var (field, value) in pairs)
        {
            output.WriteLine(Line([field, value ?? "-"], [width]));
        }
    }

    private static string Line(IReadOnlyList<string> cells, int[] widths)
    {
        var line = new StringBuilder();
        for (var i = 0; i < cells.Count; i++)
        {
            line.Append(i == cells.Count - 1 ? cells[i] : cells[i].PadRight(widths[i] + 2));
        }

        return line.ToString().TrimEnd();
    }
}
