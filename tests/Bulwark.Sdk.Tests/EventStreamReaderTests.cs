using System.Text;

namespace Bulwark.Sdk.Tests;

public sealed class EventStreamReaderTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Hands out at most <paramref name="chunk"/> bytes per read, as a network does when it splits frames.</summary>
    private sealed class ChunkedStream(byte[] content, int chunk) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, chunk), content.Length - _position);
            Array.Copy(content, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush() => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static async Task<List<(string Type, string Data)>> ReadAllAsync(string text, int chunk, int maxBlockBytes = EventStreamReader.DefaultMaxBlockBytes)
    {
        var reader = new EventStreamReader(new ChunkedStream(Encoding.UTF8.GetBytes(text), chunk), maxBlockBytes);
        var blocks = new List<(string, string)>();
        while (await reader.ReadBlockAsync(Ct))
        {
            blocks.Add((Encoding.UTF8.GetString(reader.EventType), Encoding.UTF8.GetString(reader.Data.Span)));
        }

        return blocks;
    }

    public static TheoryData<int> Chunks => [1, 2, 7, 4096];

    [Theory]
    [MemberData(nameof(Chunks))]
    public async Task Blocks_AreReadWhateverTheReadSizes_CommentsAndUnknownFieldsSkipped(int chunk)
    {
        const string Text = "retry: 1000\n: connected\n\nid: 5\nevent: flag\ndata: {\"key\":\"a\"}\n\n: heartbeat\n\nevent: flag\nid: 6\ndata:{\"key\":\"é\"}\n\n";

        var blocks = await ReadAllAsync(Text, chunk);

        blocks.ShouldBe([("", ""), ("flag", """{"key":"a"}"""), ("", ""), ("flag", """{"key":"é"}""")]);
    }

    [Fact]
    public async Task CrLfLineEnds_MultiLineData_AndFieldsWithoutAColon_FollowTheSseRules()
    {
        const string Text = "event: flag\r\ndata: line one\r\ndata\r\ndata:  two spaces\r\nevent\r\n\r\n";

        var blocks = await ReadAllAsync(Text, 3);

        // "data" alone is an empty data line; only one space after the colon is removed; "event" alone clears the type.
        blocks.ShouldBe([("", "line one\n\n two spaces")]);
    }

    [Fact]
    public async Task AStreamThatEndsInsideABlock_EndsWithoutHandingOutTheHalfBlock()
    {
        var reader = new EventStreamReader(new MemoryStream(Encoding.UTF8.GetBytes("event: flag\ndata: {\"key\":\"a\"}\n\nevent: flag\ndata: {\"ke")));

        (await reader.ReadBlockAsync(Ct)).ShouldBeTrue();
        Encoding.UTF8.GetString(reader.Data.Span).ShouldBe("""{"key":"a"}""");
        (await reader.ReadBlockAsync(Ct)).ShouldBeFalse();
    }

    [Fact]
    public async Task ABlockLargerThanTheLimit_IsRefused_WhetherItIsOneLineOrMany()
    {
        var oneLine = "data: " + new string('x', 5000) + "\n\n";
        var manyLines = string.Concat(Enumerable.Repeat("data: " + new string('y', 100) + "\n", 60)) + "\n";

        await Should.ThrowAsync<InvalidDataException>(() => ReadAllAsync(oneLine, 512, maxBlockBytes: 4096));
        await Should.ThrowAsync<InvalidDataException>(() => ReadAllAsync(manyLines, 512, maxBlockBytes: 4096));
        (await ReadAllAsync(manyLines, 512, maxBlockBytes: 8192)).ShouldHaveSingleItem().Data.Length.ShouldBe((60 * 101) - 1);
    }

    [Fact]
    public async Task AnEventTypeLongerThanItsBuffer_MatchesNoTypeTheClientHandles()
    {
        var blocks = await ReadAllAsync("event: flag" + new string('g', 200) + "\ndata: x\n\n", 4096);

        blocks.ShouldHaveSingleItem().Type.ShouldNotBe("flag");
        blocks[0].Type.ShouldStartWith("flag");
    }
}
