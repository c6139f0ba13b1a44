using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Bulwark.Json;

/// <summary>
/// Writes small JSON documents compactly (no white space, non-ASCII text left unescaped) through one buffer and writer
/// kept per thread, and copies out only the bytes written. A fresh <see cref="Utf8JsonWriter"/> over a fresh buffer
/// asks for at least 4 KiB on its first write, so on the ingest path (every delivery's headers, every event) the scratch
/// space, not the document, was most of what was allocated.
/// </summary>
public static class CompactJson
{
    /// <summary>The options every document written here uses.</summary>
    public static readonly JsonWriterOptions Options = new()
    {
        Indented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    // Scratch space larger than this after a write is let go, so one huge document does not stay pinned to a thread.
    private const int KeepBytes = 64 * 1024;

    [ThreadStatic]
    private static Scratch? _scratch;

    /// <summary>Writes a document with <paramref name="write"/> and returns its UTF-8 bytes.</summary>
    /// <typeparam name="TState">What <paramref name="write"/> writes from.</typeparam>
    /// <param name="state">Passed to <paramref name="write"/>.</param>
    /// <param name="write">Writes exactly one JSON value.</param>
    /// <returns>The bytes written.</returns>
    public static byte[] ToUtf8Bytes<TState>(TState state, Action<TState, Utf8JsonWriter> write) =>
        Write(state, write, static bytes => bytes.ToArray());

    /// <summary>Writes a document with <paramref name="write"/> into the scratch space and returns only its length in bytes.</summary>
    /// <typeparam name="TState">What <paramref name="write"/> writes from.</typeparam>
    /// <param name="state">Passed to <paramref name="write"/>.</param>
    /// <param name="write">Writes exactly one JSON value.</param>
    /// <returns>How many bytes it takes.</returns>
    public static int Measure<TState>(TState state, Action<TState, Utf8JsonWriter> write) =>
        Write(state, write, static bytes => bytes.Length);

    /// <summary>Writes a document with <paramref name="write"/> and returns it as text.</summary>
    /// <typeparam name="TState">What <paramref name="write"/> writes from.</typeparam>
    /// <param name="state">Passed to <paramref name="write"/>.</param>
    /// <param name="write">Writes exactly one JSON value.</param>
    /// <returns>The text written.</returns>
    public static string ToText<TState>(TState state, Action<TState, Utf8JsonWriter> write) =>
        Write(state, write, static bytes => Encoding.UTF8.GetString(bytes));

    private static TResult Write<TState, TResult>(TState state, Action<TState, Utf8JsonWriter> write, Func<ReadOnlySpan<byte>, TResult> copy)
    {
        ArgumentNullException.ThrowIfNull(write);

        // Taken off the thread while in use: a writer that writes another document inside its own gets fresh scratch.
        var scratch = _scratch ?? new Scratch();
        _scratch = null;
        try
        {
            scratch.Writer.Reset(scratch.Buffer);
            write(state, scratch.Writer);
            scratch.Writer.Flush();
            return copy(scratch.Buffer.WrittenSpan);
        }
        finally
        {
            if (scratch.Buffer.Capacity <= KeepBytes)
            {
                scratch.Buffer.ResetWrittenCount();
                _scratch = scratch;
            }
        }
    }

    private sealed class Scratch
    {
        public Scratch() => Writer = new Utf8JsonWriter(Buffer, Options);

        public ArrayBufferWriter<byte> Buffer { get; } = new(4096);

        public Utf8JsonWriter Writer { get; }
    }
}
