using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Bulwark.Ingest;

/// <summary>
/// Where a secret lives: <c>env:NAME</c> (an environment variable of the server process) or <c>file:PATH</c> (an
/// absolute path; the file's content with one trailing line break removed). Manifests, the store and every API answer
/// carry only the reference, never the value; the server resolves it when it needs the value.
/// </summary>
/// <param name="Scheme"><c>env</c> or <c>file</c>.</param>
/// <param name="Target">The variable name or the path.</param>
public sealed partial record SecretReference(string Scheme, string Target)
{
    /// <summary>The reference as written: <c>env:NAME</c> or <c>file:PATH</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Scheme + ":" + Target;

    /// <summary>Parses a reference.</summary>
    /// <param name="text">The text.</param>
    /// <param name="reference">The reference.</param>
    /// <param name="error">Why it is not one.</param>
    /// <returns>Whether <paramref name="text"/> is a reference.</returns>
    public static bool TryParse(string? text, [NotNullWhen(true)] out SecretReference? reference, out string error)
    {
        reference = null;
        error = "must be a reference, env:NAME or file:/absolute/path — secret values are never written into manifests";
        if (text is null)
        {
            return false;
        }

        if (text.StartsWith("env:", StringComparison.Ordinal) && EnvironmentName().IsMatch(text.AsSpan(4)))
        {
            reference = new SecretReference("env", text[4..]);
            return true;
        }

        if (text.StartsWith("file:/", StringComparison.Ordinal) && text.Length > 6 && text.Length <= 1024 && !text.Contains('\0', StringComparison.Ordinal))
        {
            reference = new SecretReference("file", text[5..]);
            return true;
        }

        return false;
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    private static partial Regex EnvironmentName();
}
