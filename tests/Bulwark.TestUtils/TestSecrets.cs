using System.Diagnostics.CodeAnalysis;
using Bulwark.Ingest;
using Bulwark.Server.Ingest;

namespace Bulwark.TestUtils;

/// <summary>
/// Secrets for tests, without touching the process environment (tests run in parallel): <c>env:NAME</c> resolves from
/// this dictionary; <c>file:PATH</c> reads the file, as the server's own resolver does.
/// </summary>
public sealed class TestSecrets : ISecretResolver
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly EnvironmentSecretResolver _files = new();

    public string this[string name]
    {
        get => _values[name];
        set => _values[name] = value;
    }

    /// <summary>Unsets <c>env:NAME</c>, as if the variable were gone from the server's environment.</summary>
    public void Remove(string name) => _values.TryRemove(name, out _);

    public bool TryResolve(SecretReference reference, [NotNullWhen(true)] out string? value, out string reason)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Scheme == "file")
        {
            return _files.TryResolve(reference, out value, out reason);
        }

        reason = $"environment variable {reference.Target} is not set on this server";
        return _values.TryGetValue(reference.Target, out value);
    }
}
