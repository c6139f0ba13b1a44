using System.Buffers;
using System.Runtime.CompilerServices;

namespace Bulwark.Sdk;

/// <summary>
/// Reads <c>text/event-stream</c> as UTF-8 bytes, one event block at a time, without a string per line: the data of a
/// block is handed out as bytes that stay valid until the next read. Lines end with LF or CRLF (a lone CR, which the
/// Bulwark server never sends, is not treated as a line end). Comment lines and fields other than <c>event</c> and
/// <c>data</c> are skipped, but every block — a heartbeat comment included — counts as contact.
/// </summary>
internal sealed class EventStreamReader(Stream stream, int maxBlockBytes = EventStreamReader.DefaultMaxBlockBytes)
{
    /// <summary>The largest event block accepted (a stream that sends more is cut as malformed).</summary>
    public const int DefaultMaxBlockBytes = 4 * 1024 * 1024;

    private readonly ArrayBufferWriter<byte> _data = new(4096);
    private readonly byte[] _eventType = new byte[64];
    private byte[] _buffer = new byte[8192];
    private int _start;
    private int _end;
    private int _eventTypeLength;
    private bool _dataSeen;

    /// <summary>The <c>event</c> field of the block just read (empty when absent).</summary>
    public ReadOnlySpan<byte> EventType => _eventType.AsSpan(0, _eventTypeLength);

    /// <summary>The <c>data</c> lines of the block just read, joined by LF.</summary>
    public ReadOnlyMemory<byte> Data => _data.WrittenMemory;

    /// <summary>Reads up to the end of the next block (a blank line).</summary>
    /// <param name="cancellationToken">Stops reading.</param>
    /// <returns><see langword="false"/> when the stream ended first.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReadBlockAsync(CancellationToken cancellationToken)
    {
        _data.ResetWrittenCount();
        _eventTypeLength = 0;
        _dataSeen = false;
        while (true)
        {
            while (TryReadLine(out var line))
            {
                if (line.IsEmpty)
                {
                    return true;
                }

                Field(line);
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return false;
            }

            _end += read;
            if (_end - _start + _data.WrittenCount > maxBlockBytes)
            {
                throw new InvalidDataException($"event stream block larger than {maxBlockBytes} bytes");
            }
        }
    }

    private bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        var pending = _buffer.AsSpan(_start, _end - _start);
        var end = pending.IndexOf((byte)'\n');
        if (end < 0)
        {
            line = default;
            return false;
        }

        line = pending[..end];
        if (line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        _start += end + 1;
        return true;
    }

    private void Field(ReadOnlySpan<byte> line)
    {
        if (line[0] == (byte)':')
        {
            return;
        }

        var colon = line.IndexOf((byte)':');
        var name = colon < 0 ? line : line[..colon];
        var value = colon < 0 ? [] : line[(colon + 1)..];
        if (value.Length > 0 && value[0] == (byte)' ')
        {
            value = value[1..];
        }

        if (name.SequenceEqual("data"u8))
        {
            if (_dataSeen)
            {
                _data.Write("\n"u8);
            }

            _data.Write(value);
            _dataSeen = true;
        }
        else if (name.SequenceEqual("event"u8))
        {
            // Event types longer than the buffer are not ones this client handles: keep a prefix that matches none.
            _eventTypeLength = Math.Min(value.Length, _eventType.Length);
            value[.._eventTypeLength].CopyTo(_eventType);
        }
    }
}
