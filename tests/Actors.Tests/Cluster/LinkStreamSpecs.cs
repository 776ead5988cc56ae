using Gpuckpt.Actors.Migration;
using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>
/// The data port's buffers under TLS: the bytes read are the bytes sent, whatever the sizes of the reads on either
/// side; the bytes written arrive in order, held together once the handshake is over, and all of them by a flush.
/// </summary>
public sealed class LinkStreamSpecs
{
    [Fact]
    public async Task Reads_of_any_size_return_the_bytes_in_order_and_then_the_end()
    {
        var sent = new byte[3 * 4096 + 17];
        new Random(5).NextBytes(sent);
        await using var stream = new LinkStream(new TrickleStream(sent, piece: 1000), readAhead: 4096);
        var read = new List<byte>();
        var sizes = new[] { 1, 7, 4096, 5000, 300, 8192 };
        for (var i = 0; ; i++)
        {
            var buffer = new byte[sizes[i % sizes.Length]];
            var n = await stream.ReadAsync(buffer);
            if (n == 0) break;
            read.AddRange(buffer.AsSpan(0, n).ToArray());
        }
        Assert.Equal(sent, read.ToArray());
        Assert.Equal(0, await stream.ReadAsync(new byte[10]));
    }

    [Fact]
    public async Task Writes_go_straight_through_until_they_are_held()
    {
        var inner = new CountingStream();
        await using var stream = new LinkStream(inner, readAhead: 4096);
        await stream.WriteAsync(new byte[] { 1, 2, 3 });
        Assert.Equal(new byte[] { 1, 2, 3 }, inner.ToArray());
        Assert.Equal(1, inner.Writes);
    }

    [Fact]
    public async Task Held_writes_leave_together_when_the_buffer_fills_and_the_rest_on_a_flush()
    {
        var inner = new CountingStream();
        await using var stream = new LinkStream(inner, readAhead: 4096);
        stream.HoldWrites(1000);
        var sent = new byte[2500];
        new Random(7).NextBytes(sent);
        // Pieces the size of a frame's prefix and of TLS records, as the link writes them.
        foreach (var (start, length) in new[] { (0, 4), (4, 300), (304, 1200), (1504, 996) })
            await stream.WriteAsync(sent.AsMemory(start, length));
        Assert.Equal(2, inner.Writes);
        Assert.Equal(sent.AsSpan(0, 2000).ToArray(), inner.ToArray());
        await stream.FlushAsync();
        Assert.Equal(3, inner.Writes);
        Assert.Equal(sent, inner.ToArray());
        await stream.FlushAsync();
        Assert.Equal(3, inner.Writes);
    }

    /// <summary>Counts the writes that reach it: each would be a send on a socket.</summary>
    private sealed class CountingStream : MemoryStream
    {
        public int Writes { get; private set; }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancel = default)
        {
            Writes++;
            return base.WriteAsync(source, cancel);
        }
    }

    /// <summary>A stream that hands out at most <paramref name="piece"/> bytes a read, as a socket does with what has arrived.</summary>
    private sealed class TrickleStream(byte[] bytes, int piece) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancel = default) =>
            base.ReadAsync(destination[..Math.Min(piece, destination.Length)], cancel);
    }
}
