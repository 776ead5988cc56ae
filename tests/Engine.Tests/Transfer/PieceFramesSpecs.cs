using System.IO.Hashing;
using Gpuckpt.Engine.Transfer;
using Gpuckpt.Tests.Support;
using Xunit;

namespace Gpuckpt.Engine.Tests.Transfer;

/// <summary>
/// A piece of an image file read back into frames from a real file: the frames carry exactly the piece's bytes, each
/// says where they go, and bytes that changed since they were checksummed are refused naming the file and the offset.
/// </summary>
public sealed class PieceFramesSpecs : IDisposable
{
    private const string Name = "amdgpu-pages-1-1234.img";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"gpuckpt-frames-{Guid.NewGuid():N}");

    public PieceFramesSpecs() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A file of random bytes with a run of zeros, and a piece of it that does not start at 0 or end at its end.</summary>
    private (byte[] File, TransferPiece Piece, int FrameSize) Setup(Random random)
    {
        var file = new byte[random.Next(1 << 20, 3 << 20)];
        random.NextBytes(file);
        var frameSize = random.Next(FramePoolMin, 256 << 10);
        var zeros = random.Next(4096, file.Length - frameSize * 2 - 4096);
        Array.Clear(file, zeros, frameSize * 2);
        File.WriteAllBytes(Path.Combine(_dir, Name), file);
        var offset = random.Next(0, 4096);
        var length = file.Length - offset - random.Next(0, 4096);
        var piece = new TransferPiece(Name, file.Length, offset, length, XxHash64.HashToUInt64(file.AsSpan(offset, length)));
        return (file, piece, frameSize);
    }

    private const int FramePoolMin = FramePool.MinLength;

    [Fact]
    public void The_frames_of_a_piece_concatenate_to_its_bytes_each_naming_its_file_offset_length_and_number()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var (file, piece, frameSize) = Setup(random);
        var first = random.NextInt64(0, 1L << 40);

        var frames = PieceFrames.Read(_dir, piece, first, frameSize);

        Assert.Equal((piece.Length + frameSize - 1) / frameSize, frames.Count);
        var joined = new MemoryStream();
        var zero = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            var header = TransferFrame.Decode(frames[i].Frame, out var payload);
            Assert.Equal(first + i, frames[i].Seq);
            Assert.Equal((first + i, Name, (long)file.Length, piece.Offset + (long)i * frameSize), (header.Seq, header.FileName, header.FileSize, header.Offset));
            Assert.Equal((int)Math.Min(frameSize, piece.Length - (long)i * frameSize), header.Length);
            if (header.Zero) zero++;
            joined.Write(payload.Span);
        }
        Assert.True(joined.ToArray().AsSpan().SequenceEqual(file.AsSpan((int)piece.Offset, (int)piece.Length)), $"seed {seed}: the frames do not hold the piece's bytes");
        // Two frames' worth of zeros hold at least one whole frame: it goes as a header alone.
        Assert.True(zero >= 1, $"seed {seed}: no zero frame");
    }

    [Fact]
    public void An_empty_piece_is_one_empty_frame()
    {
        File.WriteAllBytes(Path.Combine(_dir, Name), new byte[100]);
        var frames = PieceFrames.Read(_dir, new TransferPiece(Name, 100, 40, 0, XxHash64.HashToUInt64([])), 7, FramePoolMin);

        var header = TransferFrame.Decode(Assert.Single(frames).Frame, out var payload);
        Assert.Equal((7L, Name, 40L, 0), (header.Seq, header.FileName, header.Offset, header.Length));
        Assert.True(payload.IsEmpty);
    }

    [Fact]
    public void A_piece_whose_bytes_no_longer_match_its_checksum_is_refused_naming_the_file_and_its_offset()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var (file, piece, frameSize) = Setup(random);
        var at = piece.Offset + random.NextInt64(piece.Length);
        file[at] ^= 0x01;
        File.WriteAllBytes(Path.Combine(_dir, Name), file);

        var e = Assert.Throws<InvalidDataException>(() => PieceFrames.Read(_dir, piece, 0, frameSize));
        Assert.StartsWith($"{Name}: offset {piece.Offset}: source chunk checksum mismatch", e.Message);
    }

    [Fact]
    public void A_lost_frame_is_read_again_as_it_was_sent_and_refused_once_its_bytes_changed()
    {
        var seed = TestSeed.Fresh();
        var random = new Random(seed);
        var (file, piece, frameSize) = Setup(random);
        var frames = PieceFrames.Read(_dir, piece, 100, frameSize);
        var (seq, sent) = frames[random.Next(frames.Count)];
        var lost = TransferFrame.ReadHeader(sent);
        var sentBytes = sent.ToArray();

        var again = PieceFrames.ReadAgain(_dir, lost);
        Assert.True(again.AsSpan().SequenceEqual(sentBytes), $"seed {seed}: frame {seq} read again differs from the one sent");

        var at = lost.Offset + random.Next(Math.Max(1, lost.Length));
        file[at] ^= 0x80;
        File.WriteAllBytes(Path.Combine(_dir, Name), file);
        var e = Assert.Throws<InvalidDataException>(() => PieceFrames.ReadAgain(_dir, lost));
        Assert.StartsWith($"{Name}: offset {lost.Offset}: source bytes changed since they were sent", e.Message);
    }
}
