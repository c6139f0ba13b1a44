using System.Text.Json;

namespace Bulwark.Detection.Anomaly;

/// <summary>
/// NAB's ground truth, <c>combined_windows.json</c>: for each series key (<c>category/name.csv</c>) its anomaly windows
/// as inclusive <c>[start, end]</c> timestamps (<c>YYYY-MM-DD HH:MM:SS.ffffff</c>). The keys are also the corpus' file list.
/// </summary>
public sealed class NabLabels
{
    private readonly Dictionary<string, (string Start, string End)[]> _windows;

    private NabLabels(Dictionary<string, (string Start, string End)[]> windows, IReadOnlyList<string> keys)
    {
        _windows = windows;
        Keys = keys;
    }

    /// <summary>The series keys in the file's order.</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>The total number of windows.</summary>
    public int WindowCount => _windows.Values.Sum(w => w.Length);

    /// <summary>Reads <c>combined_windows.json</c>.</summary>
    /// <param name="json">The file's content; the caller owns the stream.</param>
    /// <returns>The labels.</returns>
    /// <exception cref="FormatException">The file is not in NAB's shape.</exception>
    public static NabLabels Read(Stream json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("combined_windows.json must be an object of series keys");
        }

        var windows = new Dictionary<string, (string, string)[]>(StringComparer.Ordinal);
        var keys = new List<string>();
        foreach (var series in document.RootElement.EnumerateObject())
        {
            if (series.Value.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException($"{series.Name}: windows must be an array");
            }

            var list = new List<(string, string)>();
            foreach (var pair in series.Value.EnumerateArray())
            {
                if (pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2
                    || pair[0].ValueKind != JsonValueKind.String || pair[1].ValueKind != JsonValueKind.String)
                {
                    throw new FormatException($"{series.Name}: each window must be a [start, end] pair of timestamps");
                }

                list.Add((Trim(pair[0].GetString()!), Trim(pair[1].GetString()!)));
            }

            windows[series.Name] = [.. list];
            keys.Add(series.Name);
        }

        return new NabLabels(windows, keys);
    }

    /// <summary>The windows of <paramref name="key"/> as timestamp pairs (without the <c>.ffffff</c> suffix).</summary>
    /// <param name="key">A series key.</param>
    /// <returns>The windows in the file's order; empty for a series without anomalies.</returns>
    /// <exception cref="KeyNotFoundException">The key is not labelled.</exception>
    public IReadOnlyList<(string Start, string End)> WindowsOf(string key) => _windows[key];

    /// <summary>Locates the windows of <paramref name="key"/> in the series' rows.</summary>
    /// <param name="key">A series key.</param>
    /// <param name="timestamps">The series' timestamps as written in its CSV.</param>
    /// <returns>The windows as row indices, in time order.</returns>
    /// <exception cref="FormatException">A window bound is not one of the series' timestamps.</exception>
    public IReadOnlyList<NabWindow> Locate(string key, IReadOnlyList<string> timestamps)
    {
        ArgumentNullException.ThrowIfNull(timestamps);
        var rows = new Dictionary<string, int>(timestamps.Count, StringComparer.Ordinal);
        for (var i = 0; i < timestamps.Count; i++)
        {
            rows.TryAdd(Trim(timestamps[i]), i);
        }

        var located = new List<NabWindow>();
        foreach (var (start, end) in WindowsOf(key))
        {
            if (!rows.TryGetValue(start, out var first) || !rows.TryGetValue(end, out var last))
            {
                throw new FormatException($"{key}: window [{start}, {end}] does not start and end on rows of the series");
            }

            located.Add(new NabWindow(first, last));
        }

        located.Sort(static (a, b) => a.Start.CompareTo(b.Start));
        return located;
    }

    // NAB compares timestamps to the second: "2014-02-19 10:50:00.000000" is the row "2014-02-19 10:50:00".
    private static string Trim(string timestamp) => timestamp.Length > 19 ? timestamp[..19] : timestamp;
}
