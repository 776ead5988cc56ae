using System.Buffers.Binary;
using System.Text;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Simulator.Memory;

namespace Gpuckpt.Simulator.Protocol;

/// <summary>Reads what <see cref="WireWriter"/> wrote; a short or malformed payload is EINVAL.</summary>
internal sealed class WireReader(byte[] data, int start = 0)
{
    private int _at = start;

    /// <summary>True when every byte was read (an optional trailing field is absent).</summary>
    public bool AtEnd => _at >= data.Length;

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || data.Length - _at < n) throw new SimError(Errno.EINVAL, $"frame cut short at byte {_at}");
        var span = new ReadOnlySpan<byte>(data, _at, n);
        _at += n;
        return span;
    }

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
    public byte[] Blob() => Take(checked((int)U32())).ToArray();
    public string String() => Encoding.UTF8.GetString(Take(checked((int)U32())));
}
