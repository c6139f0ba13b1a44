using System.Text;

namespace Bulwark.TestUtils;

/// <summary>One server-sent event, or a comment line block.</summary>
public sealed record SseMessage(string? Id, string? Event, string? Data, string? Comment);

/// <summary>Reads server-sent events from a response stream, written here from the SSE grammar so tests trust no server code.</summary>
public sealed class SseReader(Stream stream) : IDisposable
{
    private readonly StreamReader _reader = new(stream, Encoding.UTF8);

    /// <summary>Reads up to the next blank line and returns what it held.</summary>
    public async Task<SseMessage> ReadAsync(CancellationToken cancellationToken)
    {
        string? id = null, type = null, comment = null;
        StringBuilder? data = null;
        while (true)
        {
            var line = await _reader.ReadLineAsync(cancellationToken) ?? throw new EndOfStreamException("the stream ended");
            if (line.Length == 0)
            {
                if (id is null && type is null && data is null && comment is null)
                {
                    continue;
                }

                return new SseMessage(id, type, data?.ToString(), comment);
            }

            if (line.StartsWith(':'))
            {
                comment = line[1..].Trim();
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? string.Empty : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id":
                    id = value;
                    break;
                case "event":
                    type = value;
                    break;
                case "data":
                    data = data is null ? new StringBuilder(value) : data.Append('\n').Append(value);
                    break;
            }
        }
    }

    /// <summary>Reads messages until one is an event (skipping comments).</summary>
    public async Task<SseMessage> ReadEventAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var message = await ReadAsync(cancellationToken);
            if (message.Event is not null || message.Data is not null)
            {
                return message;
            }
        }
    }

    public void Dispose() => _reader.Dispose();
}
