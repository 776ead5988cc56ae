using System.Buffers.Binary;
using System.Text;

namespace Gpuckpt.Engine.Bridge;

/// <summary>
/// struct bridge_reply: what a hook returns to CRIU (0, -ENOTSUP for "not mine", or a negative errno), a line for CRIU's
/// log, and UPDATE_VMA_MAP's new page offset and the slot of the file CRIU maps.
/// </summary>
public sealed record BridgeReply(int Rc, string Message = "", ulong Value = 0, int Slot = -1)
{
    public const int HeaderSize = 24;

    public byte[] Encode()
    {
        var message = Encoding.UTF8.GetBytes(Message);
        var b = new byte[HeaderSize + message.Length];
        BinaryPrimitives.WriteInt32LittleEndian(b, Rc);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), Slot);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), Value);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), (uint)message.Length);
        message.CopyTo(b.AsSpan(HeaderSize));
        return b;
    }

    public static BridgeReply Decode(ReadOnlySpan<byte> b)
    {
        if (b.Length < HeaderSize) throw new BridgeProtocolException($"reply of {b.Length} bytes, shorter than its {HeaderSize}-byte header");
        var length = BinaryPrimitives.ReadUInt32LittleEndian(b[16..]);
        if (length != (uint)(b.Length - HeaderSize)) throw new BridgeProtocolException($"reply with a {length}-byte message in {b.Length - HeaderSize} bytes");
        return new BridgeReply(BinaryPrimitives.ReadInt32LittleEndian(b), Encoding.UTF8.GetString(b[HeaderSize..]),
            BinaryPrimitives.ReadUInt64LittleEndian(b[8..]), BinaryPrimitives.ReadInt32LittleEndian(b[4..]));
    }
}
