using System.Buffers.Binary;

namespace Gpuckpt.Engine.Bridge;

/// <summary>struct bridge_hello: the first message of a bridge, before its init hook.</summary>
public sealed record BridgeHello(uint Protocol, BridgeStage Stage, int CriuPid, ulong Hooks)
{
    public const uint CurrentProtocol = 1;
    public const int Size = 24;

    /// <summary>Whether this bridge build registered <paramref name="hook"/> (CRIU calls only what a plugin registers).</summary>
    public bool Registers(BridgeHook hook) => (uint)hook < 64 && (Hooks & (1UL << (int)hook)) != 0;

    public byte[] Encode()
    {
        var b = new byte[Size];
        BinaryPrimitives.WriteUInt32LittleEndian(b, Protocol);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)Stage);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), CriuPid);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), Hooks);
        return b;
    }

    public static BridgeHello Decode(ReadOnlySpan<byte> b)
    {
        if (b.Length != Size) throw new BridgeProtocolException($"hello of {b.Length} bytes, not {Size}");
        return new BridgeHello(BinaryPrimitives.ReadUInt32LittleEndian(b), (BridgeStage)BinaryPrimitives.ReadUInt32LittleEndian(b[4..]),
            BinaryPrimitives.ReadInt32LittleEndian(b[8..]), BinaryPrimitives.ReadUInt64LittleEndian(b[16..]));
    }
}
