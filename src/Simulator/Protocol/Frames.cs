using System.Buffers.Binary;

namespace Gpuckpt.Simulator.Protocol;

/// <summary>Length-prefixed frames on a stream: u32 length, then u32 opcode or i32 errno, then the payload.</summary>
internal static class Frames
{
    public const int MaxFrame = 1 << 30;

    public static void Write(Stream stream, uint head, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, checked((uint)(4 + payload.Length)));
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), head);
        payload.CopyTo(frame.AsSpan(8));
        stream.Write(frame);
        stream.Flush();
    }

    /// <summary>The head word and the payload, or null at a clean end of stream.</summary>
    public static (uint Head, byte[] Payload)? Read(Stream stream)
    {
        var prefix = new byte[8];
        var got = stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false);
        if (got == 0) return null;
        if (got < 8) throw new EndOfStreamException($"frame header cut short after {got} bytes");
        var length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        if (length < 4 || length > MaxFrame) throw new InvalidDataException($"bad frame length {length}");
        var payload = new byte[length - 4];
        stream.ReadExactly(payload);
        return (BinaryPrimitives.ReadUInt32LittleEndian(prefix.AsSpan(4)), payload);
    }
}
