using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// One frame of an image streamed between nodes: a piece of one image file at a 64-bit file offset, with the xxHash64
/// of its bytes, so the receiver checks every frame on arrival. The frame travels as a plain byte array (Akka's
/// byte-array serializer). A piece that is all zeros travels without its bytes (<see cref="Zero"/>).
/// Layout, little-endian: magic "GPTF", u64 seq, i64 file size, i64 offset, i32 length, u8 flags, u64 xxh64,
/// u16 name length, name (UTF-8), then the payload.
/// </summary>
public sealed record TransferFrame(long Seq, string FileName, long FileSize, long Offset, int Length, bool Zero, ulong Xxh64)
{
    public const uint Magic = 0x46545047;
    private const int FixedHeader = 4 + 8 + 8 + 8 + 4 + 1 + 8 + 2;

    /// <summary>Header bytes a frame for <paramref name="fileName"/> needs before its payload.</summary>
    public static int HeaderSize(string fileName) => FixedHeader + Encoding.UTF8.GetByteCount(fileName);

    /// <summary>Builds the frame bytes for <paramref name="payload"/> (all-zero payloads are sent as a zero frame).</summary>
    public static byte[] Encode(long seq, string fileName, long fileSize, long offset, ReadOnlySpan<byte> payload)
    {
        var zero = payload.IndexOfAnyExcept((byte)0) < 0;
        var name = Encoding.UTF8.GetBytes(fileName);
        if (name.Length > ushort.MaxValue) throw new ArgumentException($"{fileName}: name too long for a frame");
        var bytes = new byte[FixedHeader + name.Length + (zero ? 0 : payload.Length)];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteInt64LittleEndian(span[4..], seq);
        BinaryPrimitives.WriteInt64LittleEndian(span[12..], fileSize);
        BinaryPrimitives.WriteInt64LittleEndian(span[20..], offset);
        BinaryPrimitives.WriteInt32LittleEndian(span[28..], payload.Length);
        span[32] = zero ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt64LittleEndian(span[33..], XxHash64.HashToUInt64(payload));
        BinaryPrimitives.WriteUInt16LittleEndian(span[41..], (ushort)name.Length);
        name.CopyTo(span[FixedHeader..]);
        if (!zero) payload.CopyTo(span[(FixedHeader + name.Length)..]);
        return bytes;
    }

    /// <summary>The sequence number of a frame whose bytes may not pass <see cref="Decode"/>; -1 when not even that is there.</summary>
    public static long PeekSeq(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 12 && BinaryPrimitives.ReadUInt32LittleEndian(bytes) == Magic ? BinaryPrimitives.ReadInt64LittleEndian(bytes[4..]) : -1;

    /// <summary>
    /// Decodes a frame and checks it: its layout, its bounds and the checksum of its payload. The payload is written to
    /// <paramref name="payload"/> (resized to the frame's length; zeros for a zero frame). Throws naming the file and offset.
    /// </summary>
    public static TransferFrame Decode(ReadOnlySpan<byte> bytes, out byte[] payload)
    {
        if (bytes.Length < FixedHeader || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
            throw new InvalidDataException($"not an image transfer frame ({bytes.Length} bytes)");
        var seq = BinaryPrimitives.ReadInt64LittleEndian(bytes[4..]);
        var fileSize = BinaryPrimitives.ReadInt64LittleEndian(bytes[12..]);
        var offset = BinaryPrimitives.ReadInt64LittleEndian(bytes[20..]);
        var length = BinaryPrimitives.ReadInt32LittleEndian(bytes[28..]);
        var zero = bytes[32] == 1;
        var xxh = BinaryPrimitives.ReadUInt64LittleEndian(bytes[33..]);
        var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[41..]);
        if (bytes.Length < FixedHeader + nameLength) throw new InvalidDataException($"frame {seq}: truncated name");
        var name = Encoding.UTF8.GetString(bytes.Slice(FixedHeader, nameLength));
        var body = bytes[(FixedHeader + nameLength)..];
        if (length < 0 || offset < 0 || fileSize < 0 || offset > fileSize - length)
            throw new InvalidDataException($"{name}: frame {seq} piece [{offset}, {offset + length}) lies outside the file of {fileSize} bytes");
        if (body.Length != (zero ? 0 : length))
            throw new InvalidDataException($"{name}: offset {offset}: frame {seq} carries {body.Length} bytes, its header says {(zero ? 0 : length)}");
        payload = new byte[length];
        if (!zero) body.CopyTo(payload);
        var actual = XxHash64.HashToUInt64(payload);
        if (actual != xxh)
            throw new InvalidDataException($"{name}: offset {offset}: frame {seq} checksum mismatch (sent {xxh:x16}, arrived {actual:x16})");
        return new TransferFrame(seq, name, fileSize, offset, length, zero, xxh);
    }
}
