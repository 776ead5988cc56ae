using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// One checksummed piece of a file: bytes [Offset, Offset+Length) of the file (the 8-byte prefix counts) hash to
/// Xxh64. Zero marks a piece that was all zeros when written and so was left as a hole.
/// </summary>
public sealed record Segment(
    long Offset,
    long Length,
    [property: JsonConverter(typeof(HexUInt64Converter))] ulong Xxh64,
    bool Zero = false)
{
    public long End => Offset + Length;
}
