using System.Buffers.Binary;

namespace Gpuckpt.Engine.Images;

/// <summary>Every .img file starts with its payload's length as 8 little-endian bytes, as the plugin writes it.</summary>
public static class LengthPrefix
{
    public const int Size = 8;

    public static void Write(Span<byte> dest, long payloadLength) => BinaryPrimitives.WriteInt64LittleEndian(dest, payloadLength);

    public static long Read(ReadOnlySpan<byte> source) => BinaryPrimitives.ReadInt64LittleEndian(source);
}
