using Gpuckpt.Actors.Migration;
using Xunit;

namespace Gpuckpt.Actors.Tests.Cluster;

/// <summary>The data port's read-ahead under TLS: the bytes read are the bytes sent, whatever the sizes of the reads on either side.</summary>
public sealed class ReadAheadStreamSpecs
{
    [Fact]
    public async Task Reads_of_any_size_return_the_bytes_in_order_and_then_the_end()
    {
        var sent = new byte[3 * 4096 + 17];
        new Random(5).NextBytes(sent);
        await using var stream = new ReadAheadStream(new TrickleStream(sent, piece: 1000), size: 4096);
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
    public async Task Writes_go_straight_through()
    {
        var inner = new MemoryStream();
        await using var stream = new ReadAheadStream(inner, size: 4096);
        await stream.WriteAsync(new byte[] { 1, 2, 3 });
        Assert.Equal(new byte[] { 1, 2, 3 }, inner.ToArray());
    }

    /// <summary>A stream that hands out at most <paramref name="piece"/> bytes a read, as a socket does with what has arrived.</summary>
    private sealed class TrickleStream(byte[] bytes, int piece) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancel = default) =>
            base.ReadAsync(destination[..Math.Min(piece, destination.Length)], cancel);
    }
}
