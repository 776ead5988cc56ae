using System.IO.Hashing;
using K4os.Compression.LZ4;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// A page file's piece packed with LZ4 (image format 4, <c>checkpoint --compress</c>): the LZ4 block at the piece's
/// offset, then zeros up to its end, which a pre-sized file holds as a hole. The piece keeps its place in the file, so a
/// BO's bytes are still found at their own offset, and its checksums cover the bytes as the file holds them.
/// </summary>
public static class PackedSegment
{
    /// <summary>The first image format whose segments may be packed.</summary>
    public const int FirstFormat = 4;

    /// <summary>The longest piece that may be packed (the largest chunk is far shorter).</summary>
    public const long MaxLength = 1L << 30;

    /// <summary>Pieces shorter than this are written as they are: packing them would save a few blocks at most.</summary>
    public const int MinLength = 64 << 10;

    /// <summary>
    /// Packs <paramref name="data"/> into <paramref name="into"/> (as long as the data): the LZ4 block, then zeros to the
    /// end, as the file will hold it. Returns the block's length, or 0 when packing does not pay: the block would not
    /// save an eighth of the piece.
    /// </summary>
    public static int TryPack(ReadOnlySpan<byte> data, Span<byte> into)
    {
        if (data.Length < MinLength || into.Length < data.Length || !Promising(data, into)) return 0;
        var limit = data.Length - data.Length / 8;
        var stored = LZ4Codec.Encode(data, into[..limit], LZ4Level.L00_FAST);
        if (stored <= 0) return 0;
        into[stored..data.Length].Clear();
        return stored;
    }

    private const int Sample = 64 << 10;

    /// <summary>
    /// Whether a piece is worth packing, from four samples of 64 KiB spread over it: together they must pack to seven
    /// eighths or less. Noise-like contents then cost a sixteenth of a 4 MiB chunk's packing, not all of it; a piece
    /// in part full and in part empty still passes. Pieces under 1 MiB are tried whole.
    /// </summary>
    private static bool Promising(ReadOnlySpan<byte> data, Span<byte> scratch)
    {
        if (data.Length < 16 * Sample) return true;
        var packed = 0;
        for (var k = 0; k < 4; k++)
        {
            var n = LZ4Codec.Encode(data.Slice((int)((long)data.Length * k / 4), Sample), scratch, LZ4Level.L00_FAST);
            packed += n > 0 ? n : Sample;
        }
        return packed <= 4 * Sample - 4 * Sample / 8;
    }

    /// <summary>
    /// Checks <paramref name="held"/>, the bytes the file holds for a packed <paramref name="segment"/> (its whole range),
    /// against the segment's checksum, and decodes its block into <paramref name="raw"/>, the piece's length: a block
    /// that is damaged or decodes to another length is an error naming the file and the segment's offset. With
    /// <paramref name="leafHash"/>, returns the segment's leaves (<see cref="FileDigest"/>), taken from the same bytes.
    /// </summary>
    public static byte[]? CheckAndUnpack(string file, Segment segment, ReadOnlySpan<byte> held, Span<byte> raw, LeafHash? leafHash)
    {
        SegmentIo.Check(file, segment, XxHash64.HashToUInt64(held));
        var leaves = leafHash is null ? null : FileDigest.Leaves(held, leafHash);
        if (segment.Lz4 <= 0 || segment.Lz4 > held.Length || raw.Length != segment.Length)
            throw new ImageException(file, segment.Offset, $"packed segment [{segment.Offset}, {segment.End}) claims an LZ4 block of {segment.Lz4} bytes");
        var decoded = LZ4Codec.Decode(held[..(int)segment.Lz4], raw);
        if (decoded != segment.Length)
            throw new ImageException(file, segment.Offset, decoded < 0
                ? $"the LZ4 block of segment [{segment.Offset}, {segment.End}) does not decode (damaged)"
                : $"the LZ4 block of segment [{segment.Offset}, {segment.End}) decodes to {decoded} bytes, not {segment.Length}");
        return leaves;
    }
}
