using System.IO.Hashing;

namespace Gpuckpt.Engine.Images;

/// <summary>The checksum of a segment: xxHash64, seed 0, the value <see cref="PageFile.Write"/> records and returns.</summary>
public static class SegmentHash
{
    public static ulong Of(ReadOnlySpan<byte> data) => XxHash64.HashToUInt64(data);
}
