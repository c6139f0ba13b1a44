using System.Diagnostics;

namespace Bulwark.TestUtils;

/// <summary>Runs the official npm peer clients in <c>tests/interop</c> (installed by test.sh) against a live server.</summary>
public static class NodeInterop
{
    /// <summary>Runs <c>node tests/interop/SCRIPT args…</c> and returns its standard output; fails on a non-zero exit.</summary>
    public static async Task<string> RunAsync(string script, IEnumerable<string> args, CancellationToken cancellationToken)
    {
        var node = Infrastructure.RequireTool("node");
        var directory = InteropDirectory();
        if (!Directory.Exists(Path.Combine(directory, "node_modules")))
        {
            var message = "tests/interop/node_modules is missing; ./test.sh installs it (npm ci --prefix tests/interop).";
            if (Infrastructure.OnCi)
            {
                throw new InvalidOperationException(message);
            }

            Assert.Skip(message);
        }

        var start = new ProcessStartInfo(node) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"node {script} exited with {process.ExitCode}:\n{await error}\n{await output}");
        }

        return await output;
    }

    private static string InteropDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "interop");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/interop not found above the test output");
    }
}
