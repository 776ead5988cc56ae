using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Bridge;

/// <summary>The engine's requests to the bridge, encoded as bridge_protocol.h lays them out.</summary>
public static class BridgeRequests
{
    /// <summary>struct bridge_kfd_op before its buffers: slot, pad, kfd_ioctl_criu_args (56 bytes), three 64-bit lengths.</summary>
    public const int KfdOpHeaderSize = 8 + KfdArgsSize + 24;
    public const int KfdArgsSize = 56;

    public static byte[] Open(string path, int flags)
    {
        var p = Encoding.UTF8.GetBytes(path);
        var b = new byte[8 + p.Length];
        BinaryPrimitives.WriteInt32LittleEndian(b, flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)p.Length);
        p.CopyTo(b.AsSpan(8));
        return b;
    }

    public static byte[] Take(int pid, int fd)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(b, pid);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), fd);
        return b;
    }

    public static byte[] Close(int slot)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(b, slot);
        return b;
    }

    /// <summary>An AMDKFD_IOC_CRIU_OP on <paramref name="slot"/>'s file: the args (their pointers are the bridge's to set) and the buffers they point to.</summary>
    public static byte[] KfdOp(int slot, in KfdIoctlCriuArgs args, ReadOnlySpan<KfdCriuDeviceBucket> devices, ReadOnlySpan<KfdCriuBoBucket> bos, ReadOnlySpan<byte> priv)
    {
        var d = MemoryMarshal.AsBytes(devices);
        var o = MemoryMarshal.AsBytes(bos);
        var b = new byte[KfdOpHeaderSize + d.Length + o.Length + priv.Length];
        BinaryPrimitives.WriteInt32LittleEndian(b, slot);
        var wire = args with { devices = 0, bos = 0, priv_data = 0 };
        MemoryMarshal.Write(b.AsSpan(8, KfdArgsSize), in wire);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8 + KfdArgsSize), (ulong)d.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16 + KfdArgsSize), (ulong)o.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(24 + KfdArgsSize), (ulong)priv.Length);
        d.CopyTo(b.AsSpan(KfdOpHeaderSize));
        o.CopyTo(b.AsSpan(KfdOpHeaderSize + d.Length));
        priv.CopyTo(b.AsSpan(KfdOpHeaderSize + d.Length + o.Length));
        return b;
    }

    /// <summary>A KFD op's result body: the args as the kernel left them, then the buffers, copied back into the spans.</summary>
    public static void ReadKfdOpResult(ReadOnlySpan<byte> body, ref KfdIoctlCriuArgs args, Span<KfdCriuDeviceBucket> devices, Span<KfdCriuBoBucket> bos, Span<byte> priv)
    {
        var d = MemoryMarshal.AsBytes(devices);
        var o = MemoryMarshal.AsBytes(bos);
        if (body.Length != KfdArgsSize + d.Length + o.Length + priv.Length)
            throw new BridgeProtocolException($"KFD op result of {body.Length} bytes, not {KfdArgsSize + d.Length + o.Length + priv.Length}");
        var (devicesPtr, bosPtr, privPtr) = (args.devices, args.bos, args.priv_data);
        args = MemoryMarshal.Read<KfdIoctlCriuArgs>(body[..KfdArgsSize]);
        (args.devices, args.bos, args.priv_data) = (devicesPtr, bosPtr, privPtr);
        body.Slice(KfdArgsSize, d.Length).CopyTo(d);
        body.Slice(KfdArgsSize + d.Length, o.Length).CopyTo(o);
        body.Slice(KfdArgsSize + d.Length + o.Length, priv.Length).CopyTo(priv);
    }
}
