namespace Bulwark.TestUtils;

/// <summary>
/// Infrastructure tests may skip on a laptop without a tool, never on CI: with <c>CI</c> set, a missing tool fails the
/// test (Npgsql's IgnoreExceptOnBuildServer pattern).
/// </summary>
public static class Infrastructure
{
    public static bool OnCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    /// <summary>Returns the full path of <paramref name="tool"/> on PATH, or skips (locally) / fails (CI) the test.</summary>
    public static string RequireTool(string tool)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(directory, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        var message = $"'{tool}' is not installed; ./test.sh installs it.";
        if (OnCi)
        {
            throw new InvalidOperationException(message + " CI must not skip infrastructure tests.");
        }

        Assert.Skip(message);
        return string.Empty;
    }
}
