using System.Buffers.Binary;

namespace Gpuckpt.Engine.Bridge;

/// <summary>struct bridge_result: a request's errno (0: done), the slot of a file it opened or took, its buffers.</summary>
public sealed record BridgeResult(int Error, int Slot, byte[] Body)
{
    public const int HeaderSize = 16;

    public byte[] Encode()
    {
        var b = new byte[HeaderSize + Body.Length];
        BinaryPrimitives.WriteInt32LittleEndian(b, Error);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), Slot);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), (ulong)Body.Length);
        Body.CopyTo(b.AsSpan(HeaderSize));
        return b;
    }

    public static BridgeResult Decode(ReadOnlySpan<byte> b)
    {
        if (b.Length < HeaderSize) throw new BridgeProtocolException($"result of {b.Length} bytes, shorter than its {HeaderSize}-byte header");
        var length = BinaryPrimitives.ReadUInt64LittleEndian(b[8..]);
        if (length != (ulong)(b.Length - HeaderSize)) throw new BridgeProtocolException($"result with a {length}-byte body in {b.Length - HeaderSize} bytes");
        return new BridgeResult(BinaryPrimitives.ReadInt32LittleEndian(b), BinaryPrimitives.ReadInt32LittleEndian(b[4..]), b[HeaderSize..].ToArray());
    }
}
