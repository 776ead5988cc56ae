using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Tests.Images;
using Gpuckpt.Engine.Transfer;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Transfer;

/// <summary>
/// The chunks a checkpoint writes into a migrating image, kept in memory for the sender: a piece taken from there
/// travels as exactly the frames a read back from the page file would make; a place written again is sent only with
/// its latest bytes; a full budget holds the writer until the sender takes a piece, but a sender that takes nothing
/// for the patience lets the writers go (those pieces are then read back from the image).
/// </summary>
public sealed class CapturedPiecesSpecs : IDisposable
{
    private const int FrameSize = 64 << 10;
    private readonly SampleImage _image = new(TestSeed.Fresh(), commit: false);
    private readonly List<CapturedPieces> _open = [];

    public void Dispose()
    {
        foreach (var pieces in _open) pieces.Dispose();
        _image.Writer.Dispose();
        Directory.Delete(_image.Directory, true);
    }

    private CapturedPieces Open(long budget, TimeSpan patience)
    {
        var pieces = CapturedPieces.Open(_image.Directory, budget, FrameSize, patience);
        _open.Add(pieces);
        return pieces;
    }

    private (PageFile File, IChunkSink Sink) Pages(CapturedPieces pieces, long length)
    {
        var file = _image.Writer.OpenPages(ImageFileName.KfdPages(9, _image.Gpus[0].GpuId), length);
        return (file, pieces.Around(file));
    }

    /// <summary>The piece the checkpoint reports for a chunk written at <paramref name="offset"/> (the length prefix counts in the file).</summary>
    private static TransferPiece Piece(PageFile file, long offset, int length, ulong xxh64) =>
        new(file.FileName, LengthPrefix.Size + file.Length, LengthPrefix.Size + offset, length, xxh64);

    private static byte[] Bytes(Random random, int length, bool zero = false)
    {
        var bytes = new byte[length];
        if (!zero) random.NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public void A_chunk_written_through_it_travels_as_the_very_frames_a_read_back_of_the_page_file_makes()
    {
        var random = _image.Random;
        var pieces = Open(64L << 20, TimeSpan.FromMinutes(1));
        Assert.Same(pieces, CapturedPieces.Of(_image.Directory));
        var lengths = Enumerable.Range(0, 6).Select(_ => random.Next(1, 5) * FrameSize - random.Next(0, 2) * random.Next(1, 4096)).ToList();
        var (file, sink) = Pages(pieces, lengths.Sum(l => (long)l));
        var written = new List<TransferPiece>();
        long at = 0;
        foreach (var (length, i) in lengths.Select((l, i) => (l, i)))
        {
            // One chunk of zeros: its frames go as headers alone, from memory as from the disk.
            var bytes = Bytes(random, length, zero: i == 2);
            written.Add(Piece(file, at, length, sink.Write(at, bytes)));
            at += length;
        }
        Assert.Equal(at, pieces.Bytes);

        long seq = random.NextInt64(0, 1L << 40);
        foreach (var piece in written)
        {
            var fromMemory = pieces.Take(piece, seq);
            var readBack = PieceFrames.Read(_image.Directory, piece, seq, FrameSize);
            Assert.NotNull(fromMemory);
            Assert.Equal(readBack.Select(f => f.Seq), fromMemory.Select(f => f.Seq));
            for (var f = 0; f < readBack.Count; f++)
                Assert.True(readBack[f].Frame.AsSpan().SequenceEqual(fromMemory[f].Frame), $"seed {_image.Seed}: frame {readBack[f].Seq} of {piece.Key} differs from its read back");
            // Taken: the piece is no longer held, and a second ask goes to the disk.
            Assert.Null(pieces.Take(piece, seq));
            seq += readBack.Count;
        }
        Assert.Equal(0, pieces.Bytes);
    }

    [Fact]
    public void A_place_written_again_is_taken_only_with_the_bytes_written_last()
    {
        var random = _image.Random;
        var pieces = Open(64L << 20, TimeSpan.FromMinutes(1));
        var (file, sink) = Pages(pieces, 2 * FrameSize);
        var first = Bytes(random, 2 * FrameSize);
        var second = Bytes(random, 2 * FrameSize);
        var before = Piece(file, 0, first.Length, sink.Write(0, first));
        var after = Piece(file, 0, second.Length, sink.Write(0, second));

        Assert.Null(pieces.Take(before, 0));
        var frames = pieces.Take(after, 0);
        Assert.NotNull(frames);
        var joined = frames.SelectMany(f =>
        {
            TransferFrame.Decode(f.Frame, out var payload);
            return payload.ToArray();
        }).ToArray();
        Assert.True(joined.AsSpan().SequenceEqual(second), $"seed {_image.Seed}: the place was sent with bytes it no longer holds");
        Assert.Equal(0, pieces.Bytes);
    }

    [Fact]
    public void A_full_budget_holds_the_writer_until_the_sender_takes_a_piece()
    {
        var random = _image.Random;
        var pieces = Open(FrameSize, TimeSpan.FromMinutes(10));
        var (file, sink) = Pages(pieces, 2 * FrameSize);
        var one = Bytes(random, FrameSize);
        var first = Piece(file, 0, FrameSize, sink.Write(0, one));
        var two = Bytes(random, FrameSize);
        var writing = Writer.Start(() => sink.Write(FrameSize, two));

        // Whatever the timing, the second chunk cannot be done before the first is taken: the budget holds one.
        Assert.False(writing.Done(TimeSpan.FromMilliseconds(300)), "the writer went on while the budget was full");
        Assert.NotNull(pieces.Take(first, 0));
        Assert.True(writing.Done(TimeSpan.FromSeconds(30)), "taking a piece did not let the waiting writer go on");
        Assert.NotNull(pieces.Take(Piece(file, FrameSize, FrameSize, writing.Checksum), 1));
    }

    [Fact]
    public void A_sender_that_takes_nothing_for_the_patience_lets_the_writers_go_and_their_pieces_are_read_back()
    {
        var random = _image.Random;
        var pieces = Open(FrameSize, TimeSpan.FromMilliseconds(200));
        var (file, sink) = Pages(pieces, 4 * FrameSize);
        var chunks = Enumerable.Range(0, 4).Select(_ => Bytes(random, FrameSize)).ToList();
        var first = Piece(file, 0, FrameSize, sink.Write(0, chunks[0]));
        // Nobody takes the first: the second waits out the patience, then goes to the disk alone; the third does not wait.
        var second = Piece(file, FrameSize, FrameSize, sink.Write(FrameSize, chunks[1]));
        var third = Piece(file, 2 * FrameSize, FrameSize, sink.Write(2 * FrameSize, chunks[2]));

        Assert.Null(pieces.Take(second, 1));
        Assert.Null(pieces.Take(third, 2));
        var readBack = PieceFrames.Read(_image.Directory, second, 1, FrameSize);
        TransferFrame.Decode(Assert.Single(readBack).Frame, out var payload);
        Assert.True(payload.Span.SequenceEqual(chunks[1]), $"seed {_image.Seed}: a chunk not kept is not in the image either");
        // The sender takes one again: room, and chunks are kept again.
        Assert.NotNull(pieces.Take(first, 0));
        var fourth = Piece(file, 3 * FrameSize, FrameSize, sink.Write(3 * FrameSize, chunks[3]));
        Assert.NotNull(pieces.Take(fourth, 3));
    }

    [Fact]
    public void Closing_it_lets_a_waiting_writer_go_and_keeps_nothing_more()
    {
        var random = _image.Random;
        var pieces = Open(FrameSize, TimeSpan.FromMinutes(10));
        var (file, sink) = Pages(pieces, 2 * FrameSize);
        var first = Piece(file, 0, FrameSize, sink.Write(0, Bytes(random, FrameSize)));
        var second = Bytes(random, FrameSize);
        var writing = Writer.Start(() => sink.Write(FrameSize, second));
        Assert.False(writing.Done(TimeSpan.FromMilliseconds(300)), "the writer went on while the budget was full");

        pieces.Dispose();

        Assert.True(writing.Done(TimeSpan.FromSeconds(30)), "closing did not let the waiting writer go on");
        Assert.Null(CapturedPieces.Of(_image.Directory));
        Assert.Null(pieces.Take(first, 0));
        Assert.Equal(0, pieces.Bytes);
        // The directory may be kept again, by a new instance.
        _open.Add(CapturedPieces.Open(_image.Directory, FrameSize, FrameSize, TimeSpan.Zero));
    }

    /// <summary>A chunk's write on a thread of its own, as an I/O thread of the checkpoint runs it.</summary>
    private sealed class Writer
    {
        private readonly Thread _thread;

        private Writer(Func<ulong> write) => _thread = new Thread(() => Checksum = write());

        public ulong Checksum { get; private set; }

        public static Writer Start(Func<ulong> write)
        {
            var writer = new Writer(write);
            writer._thread.Start();
            return writer;
        }

        public bool Done(TimeSpan within) => _thread.Join(within);
    }
}
