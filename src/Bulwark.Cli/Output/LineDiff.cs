namespace Bulwark.Cli.Output;

/// <summary>A line diff (longest common subsequence) printed with <c>-</c>/<c>+</c>/space prefixes; manifests are small.</summary>
internal static class LineDiff
{
    public static IEnumerable<string> Unified(IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        var common = new int[before.Count + 1, after.Count + 1];
        for (var i = before.Count - 1; i >= 0; i--)
        {
            for (var j = after.Count - 1; j >= 0; j--)
            {
                common[i, j] = before[i] == after[j] ? common[i + 1, j + 1] + 1 : Math.Max(common[i + 1, j], common[i, j + 1]);
            }
        }

        int x = 0, y = 0;
        while (x < before.Count || y < after.Count)
        {
            if (x < before.Count && y < after.Count && before[x] == after[y])
            {
                yield return "  " + before[x++];
                y++;
            }
            else if (y < after.Count && (x == before.Count || common[x, y + 1] >= common[x + 1, y]))
            {
                yield return "+ " + after[y++];
            }
            else
            {
                yield return "- " + before[x++];
            }
        }
    }
}
