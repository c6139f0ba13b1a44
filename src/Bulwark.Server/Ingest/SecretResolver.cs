using System.Diagnostics.CodeAnalysis;
using Bulwark.Ingest;

namespace Bulwark.Server.Ingest;

/// <summary>Resolves secret references to their values on this node. Values are never logged, stored or echoed.</summary>
public interface ISecretResolver
{
    /// <summary>Resolves a reference.</summary>
    /// <param name="reference">The reference.</param>
    /// <param name="value">Its value.</param>
    /// <param name="reason">Why it could not be resolved (never contains the value).</param>
    /// <returns>Whether it was resolved.</returns>
    bool TryResolve(SecretReference reference, [NotNullWhen(true)] out string? value, out string reason);
}

/// <summary>
/// The default resolver: <c>env:NAME</c> reads the server's environment; <c>file:PATH</c> reads the file (at most
/// 64 KiB; one trailing line break removed), so that a secret rotated by rewriting the file is picked up.
/// </summary>
public sealed class EnvironmentSecretResolver : ISecretResolver
{
    private const int MaxFileBytes = 64 * 1024;

    /// <inheritdoc />
    public bool TryResolve(SecretReference reference, [NotNullWhen(true)] out string? value, out string reason)
    {
        ArgumentNullException.ThrowIfNull(reference);
        value = null;
        reason = string.Empty;
        if (reference.Scheme == "env")
        {
            value = Environment.GetEnvironmentVariable(reference.Target);
            if (string.IsNullOrEmpty(value))
            {
                reason = $"environment variable {reference.Target} is not set on this server";
                value = null;
                return false;
            }

            return true;
        }

        try
        {
            var info = new FileInfo(reference.Target);
            if (!info.Exists)
            {
                reason = $"file {reference.Target} does not exist on this server";
                return false;
            }

            // A device, a pipe or a /proc file reports no size (and /dev/zero never ends, a pipe blocks until a writer
            // comes): only a regular file with something in it is read, and at most the limit even if it grows meanwhile.
            if (info.Length == 0)
            {
                reason = $"file {reference.Target} is empty or not a regular file";
                return false;
            }

            if (info.Length > MaxFileBytes)
            {
                reason = $"file {reference.Target} is larger than 64 KiB";
                return false;
            }

            var bytes = new byte[MaxFileBytes + 1];
            int length;
            using (var stream = new FileStream(reference.Target, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1))
            {
                length = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            }

            if (length > MaxFileBytes)
            {
                reason = $"file {reference.Target} is larger than 64 KiB";
                return false;
            }

            var text = new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetString(bytes, 0, length).TrimStart('\uFEFF');
            Array.Clear(bytes);
            text = text.EndsWith("\r\n", StringComparison.Ordinal) ? text[..^2] : text.EndsWith('\n') ? text[..^1] : text;
            if (text.Length == 0)
            {
                reason = $"file {reference.Target} is empty";
                return false;
            }

            value = text;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = $"file {reference.Target} cannot be read ({e.GetType().Name})";
            return false;
        }
    }
}
