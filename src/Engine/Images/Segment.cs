using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// One checksummed piece of a file: bytes [Offset, Offset+Length) of the file (the 8-byte prefix counts) hash to
/// Xxh64. Zero marks a piece that was all zeros when written and so was left as a hole. InParent marks a piece not
/// written in this image: its bytes are those at the same offset of the same file in the parent image (<see cref="ImageParent"/>),
/// whose manifest has a segment equal to this one; the file holds a hole there. Lz4, when not 0, marks a piece packed
/// with LZ4 (<see cref="PackedSegment"/>): the file holds the LZ4 block's Lz4 bytes at Offset and zeros up to End, and
/// Xxh64 covers those bytes as they are in the file; the block decodes to the piece's Length bytes.
/// </summary>
public sealed record Segment(
    long Offset,
    long Length,
    [property: JsonConverter(typeof(HexUInt64Converter))] ulong Xxh64,
    bool Zero = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool InParent = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long Lz4 = 0)
{
    public long End => Offset + Length;

    /// <summary>True when the file holds the piece packed with LZ4.</summary>
    [JsonIgnore]
    public bool Packed => Lz4 != 0;
}
