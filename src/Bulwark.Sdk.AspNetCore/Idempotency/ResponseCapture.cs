using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Bulwark.Sdk.AspNetCore.Idempotency;

/// <summary>
/// Stands in for the response body while the handler runs: every write goes straight on to the client (nothing is
/// delayed or buffered for it) and is also copied, up to a limit, so the response can be stored. Past the limit the copy
/// is dropped and the response is only passed through.
/// </summary>
internal sealed class ResponseCapture(IHttpResponseBodyFeature inner, long limit) : Stream, IHttpResponseBodyFeature
{
    private MemoryStream? _copy = new();
    private PipeWriter? _writer;

    /// <summary>The bytes written, or <see langword="null"/> when they passed the limit.</summary>
    public byte[]? Captured => _copy?.ToArray();

    Stream IHttpResponseBodyFeature.Stream => this;

    // Created on first use, like StreamResponseBodyFeature's, so that pipe writes are copied too.
    PipeWriter IHttpResponseBodyFeature.Writer => _writer ??= PipeWriter.Create(this, new StreamPipeWriterOptions(leaveOpen: true));

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Sends on what the handler left in the pipe writer; called once the handler has returned.</summary>
    public async Task CompleteWriterAsync()
    {
        if (_writer is not null)
        {
            await _writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task FlushPendingAsync(CancellationToken cancellationToken)
    {
        if (_writer is not null)
        {
            await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    void IHttpResponseBodyFeature.DisableBuffering() => inner.DisableBuffering();

    async Task IHttpResponseBodyFeature.StartAsync(CancellationToken cancellationToken)
    {
        await FlushPendingAsync(cancellationToken).ConfigureAwait(false);
        await inner.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    async Task IHttpResponseBodyFeature.SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken)
    {
        await FlushPendingAsync(cancellationToken).ConfigureAwait(false);
        await SendFileFallback.SendFileAsync(this, path, offset, count, cancellationToken).ConfigureAwait(false);
    }

    async Task IHttpResponseBodyFeature.CompleteAsync()
    {
        await FlushPendingAsync(CancellationToken.None).ConfigureAwait(false);
        await inner.CompleteAsync().ConfigureAwait(false);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        inner.Stream.Write(buffer);
        Copy(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.Stream.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        Copy(buffer.Span);
    }

    public override void Flush() => inner.Stream.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.Stream.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _copy?.Dispose();
            _copy = null;
        }

        base.Dispose(disposing);
    }

    private void Copy(ReadOnlySpan<byte> bytes)
    {
        if (_copy is null)
        {
            return;
        }

        if (_copy.Length + bytes.Length > limit)
        {
            _copy.Dispose();
            _copy = null;
            return;
        }

        _copy.Write(bytes);
    }
}
