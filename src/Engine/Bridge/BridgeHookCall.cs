using System.Buffers.Binary;
using System.Text;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// struct bridge_hook: one call of a hook. <paramref name="Addr"/> and <paramref name="PageOffset"/> are UPDATE_VMA_MAP's
/// address and old page offset (HANDLE_DEVICE_VMA: the device's st_rdev and st_ino); <paramref name="Path"/> is
/// UPDATE_VMA_MAP's path; <paramref name="Stage"/> and <paramref name="Ret"/> are init's and exit's.
/// </summary>
public sealed record BridgeHookCall(BridgeHook Hook, int Pid, int Id, int Stage, int Ret, ulong Addr, ulong PageOffset, string Path)
{
    public const int HeaderSize = 40;

    public byte[] Encode()
    {
        var path = Encoding.UTF8.GetBytes(Path);
        var b = new byte[HeaderSize + path.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)Hook);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), Pid);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), Id);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(12), Stage);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(16), Ret);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(20), (uint)path.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(24), Addr);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(32), PageOffset);
        path.CopyTo(b.AsSpan(HeaderSize));
        return b;
    }

    public static BridgeHookCall Decode(ReadOnlySpan<byte> b)
    {
        if (b.Length < HeaderSize) throw new BridgeProtocolException($"hook of {b.Length} bytes, shorter than its {HeaderSize}-byte header");
        var pathLength = BinaryPrimitives.ReadUInt32LittleEndian(b[20..]);
        if (pathLength != (uint)(b.Length - HeaderSize))
            throw new BridgeProtocolException($"hook with a {pathLength}-byte path in {b.Length - HeaderSize} bytes");
        return new BridgeHookCall((BridgeHook)BinaryPrimitives.ReadUInt32LittleEndian(b), BinaryPrimitives.ReadInt32LittleEndian(b[4..]),
            BinaryPrimitives.ReadInt32LittleEndian(b[8..]), BinaryPrimitives.ReadInt32LittleEndian(b[12..]), BinaryPrimitives.ReadInt32LittleEndian(b[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(b[24..]), BinaryPrimitives.ReadUInt64LittleEndian(b[32..]), Encoding.UTF8.GetString(b[HeaderSize..]));
    }
}
