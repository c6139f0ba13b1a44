namespace Bulwark.Detection.Anomaly;

/// <summary>A labelled anomaly window of one series, as row indices inclusive at both ends.</summary>
/// <param name="Start">The window's first row.</param>
/// <param name="End">The window's last row (inclusive).</param>
public readonly record struct NabWindow(int Start, int End)
{
    /// <summary>The window's row count.</summary>
    public int Length => End - Start + 1;

    /// <summary>Whether <paramref name="row"/> lies in the window.</summary>
    /// <param name="row">A row index.</param>
    /// <returns><see langword="true"/> when <c>Start ≤ row ≤ End</c>.</returns>
    public bool Contains(int row) => row >= Start && row <= End;
}
