using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Gpuckpt.Simulator.Protocol;

/// <summary>Builds a frame payload: little-endian integers, length-prefixed blobs and strings.</summary>
internal sealed class WireWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public ReadOnlySpan<byte> Written => _buffer.WrittenSpan;

    public WireWriter U32(uint v)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.GetSpan(4), v);
        _buffer.Advance(4);
        return this;
    }

    public WireWriter I32(int v) => U32(unchecked((uint)v));

    public WireWriter U64(ulong v)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.GetSpan(8), v);
        _buffer.Advance(8);
        return this;
    }

    public WireWriter Blob(ReadOnlySpan<byte> bytes)
    {
        U32((uint)bytes.Length);
        _buffer.Write(bytes);
        return this;
    }

    public WireWriter String(string s) => Blob(Encoding.UTF8.GetBytes(s));
}
