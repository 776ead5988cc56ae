using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// One frame of an image streamed between nodes: a piece of one image file at a 64-bit file offset, with the xxHash64
/// of its bytes, so the receiver checks every frame on arrival. The frame travels as a plain byte array: over a
/// node's migration data port, or through remoting (Akka's byte-array serializer). A piece that is all zeros travels without its bytes (<see cref="Zero"/>). A check frame
/// (<see cref="Check"/>) carries no bytes either: it asks a target that restarted whether the piece it confirmed before
/// is still on its disk with that checksum.
/// Layout, little-endian: magic "GPTF", u64 seq, i64 file size, i64 offset, i32 length, u8 flags (1: zero, 2: check),
/// u64 xxh64, u16 name length, name (UTF-8), then the payload.
/// </summary>
public sealed record TransferFrame(long Seq, string FileName, long FileSize, long Offset, int Length, bool Zero, ulong Xxh64, bool Check = false)
{
    public const uint Magic = 0x46545047;
    private const int FixedHeader = 4 + 8 + 8 + 8 + 4 + 1 + 8 + 2;
    private const byte ZeroFlag = 1, CheckFlag = 2;

    /// <summary>Header bytes a frame for <paramref name="fileName"/> needs before its payload.</summary>
    public static int HeaderSize(string fileName) => FixedHeader + Encoding.UTF8.GetByteCount(fileName);

    /// <summary>Builds the frame bytes for <paramref name="payload"/> (all-zero payloads are sent as a zero frame).</summary>
    public static byte[] Encode(long seq, string fileName, long fileSize, long offset, ReadOnlySpan<byte> payload)
    {
        var zero = payload.IndexOfAnyExcept((byte)0) < 0;
        var bytes = Header(seq, fileName, fileSize, offset, payload.Length, zero ? ZeroFlag : (byte)0, XxHash64.HashToUInt64(payload),
            zero ? 0 : payload.Length, out var payloadAt);
        if (!zero) payload.CopyTo(bytes.AsSpan(payloadAt));
        return bytes;
    }

    /// <summary>
    /// Builds a frame around a payload already in place: <paramref name="buffer"/> holds <paramref name="length"/> payload
    /// bytes at <see cref="HeaderSize"/>(<paramref name="fileName"/>), and gets the header in front of them (no copy of
    /// the payload). Returns the frame: <paramref name="buffer"/> itself, or for an all-zero payload a new header-only
    /// zero frame (the buffer is then free again). <paramref name="xxh64"/> is the payload's checksum.
    /// </summary>
    public static byte[] EncodeAround(byte[] buffer, long seq, string fileName, long fileSize, long offset, int length, out ulong xxh64)
    {
        var payloadAt = HeaderSize(fileName);
        if (buffer.Length != payloadAt + length) throw new ArgumentException($"{fileName}: a frame of {length} payload bytes is {payloadAt + length} bytes, not {buffer.Length}");
        var payload = buffer.AsSpan(payloadAt, length);
        xxh64 = XxHash64.HashToUInt64(payload);
        if (payload.IndexOfAnyExcept((byte)0) < 0) return Header(seq, fileName, fileSize, offset, length, ZeroFlag, xxh64, 0, out _);
        WriteHeader(buffer, seq, fileName, fileSize, offset, length, 0, xxh64);
        return buffer;
    }

    /// <summary>The check frame for a frame confirmed before: same seq, file, range and checksum, no payload.</summary>
    public static byte[] EncodeCheck(TransferFrame confirmed) =>
        Header(confirmed.Seq, confirmed.FileName, confirmed.FileSize, confirmed.Offset, confirmed.Length, CheckFlag, confirmed.Xxh64, 0, out _);

    private static byte[] Header(long seq, string fileName, long fileSize, long offset, int length, byte flags, ulong xxh64, int carried, out int payloadAt)
    {
        payloadAt = HeaderSize(fileName);
        var bytes = new byte[payloadAt + carried];
        WriteHeader(bytes, seq, fileName, fileSize, offset, length, flags, xxh64);
        return bytes;
    }

    private static void WriteHeader(Span<byte> span, long seq, string fileName, long fileSize, long offset, int length, byte flags, ulong xxh64)
    {
        var name = Encoding.UTF8.GetBytes(fileName);
        if (name.Length > ushort.MaxValue) throw new ArgumentException($"{fileName}: name too long for a frame");
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteInt64LittleEndian(span[4..], seq);
        BinaryPrimitives.WriteInt64LittleEndian(span[12..], fileSize);
        BinaryPrimitives.WriteInt64LittleEndian(span[20..], offset);
        BinaryPrimitives.WriteInt32LittleEndian(span[28..], length);
        span[32] = flags;
        BinaryPrimitives.WriteUInt64LittleEndian(span[33..], xxh64);
        BinaryPrimitives.WriteUInt16LittleEndian(span[41..], (ushort)name.Length);
        name.CopyTo(span[FixedHeader..]);
    }

    private static byte[] _zeros = [];

    /// <summary>The payload of a zero frame: a shared array of zeros that nobody writes.</summary>
    private static ReadOnlyMemory<byte> Zeros(int length)
    {
        var zeros = Volatile.Read(ref _zeros);
        if (zeros.Length < length) Volatile.Write(ref _zeros, zeros = new byte[length]);
        return zeros.AsMemory(0, length);
    }

    /// <summary>The sequence number of a frame whose bytes may not pass <see cref="Decode"/>; -1 when not even that is there.</summary>
    public static long PeekSeq(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 12 && BinaryPrimitives.ReadUInt32LittleEndian(bytes) == Magic ? BinaryPrimitives.ReadInt64LittleEndian(bytes[4..]) : -1;

    /// <summary>The header of a frame this side built (no checks beyond its magic): what the sender keeps of a confirmed frame.</summary>
    public static TransferFrame ReadHeader(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < FixedHeader || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
            throw new InvalidDataException($"not an image transfer frame ({bytes.Length} bytes)");
        var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[41..]);
        return new TransferFrame(
            BinaryPrimitives.ReadInt64LittleEndian(bytes[4..]),
            Encoding.UTF8.GetString(bytes.Slice(FixedHeader, nameLength)),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[12..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[20..]),
            BinaryPrimitives.ReadInt32LittleEndian(bytes[28..]),
            bytes[32] == ZeroFlag,
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[33..]),
            bytes[32] == CheckFlag);
    }

    /// <summary>
    /// Decodes a frame and checks it: its layout, its bounds and the checksum of its payload. <paramref name="payload"/>
    /// is the payload within <paramref name="frame"/> (not copied; zeros for a zero frame; empty for a check frame, whose
    /// checksum is the one to compare with what the target holds). Throws naming the file and offset.
    /// </summary>
    public static TransferFrame Decode(byte[] frame, out ReadOnlyMemory<byte> payload)
    {
        ReadOnlySpan<byte> bytes = frame;
        if (bytes.Length < FixedHeader || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
            throw new InvalidDataException($"not an image transfer frame ({bytes.Length} bytes)");
        var seq = BinaryPrimitives.ReadInt64LittleEndian(bytes[4..]);
        var fileSize = BinaryPrimitives.ReadInt64LittleEndian(bytes[12..]);
        var offset = BinaryPrimitives.ReadInt64LittleEndian(bytes[20..]);
        var length = BinaryPrimitives.ReadInt32LittleEndian(bytes[28..]);
        var flags = bytes[32];
        if ((flags & ~(ZeroFlag | CheckFlag)) != 0 || flags == (ZeroFlag | CheckFlag))
            throw new InvalidDataException($"frame {seq}: unknown flags 0x{flags:x2}");
        var (zero, check) = (flags == ZeroFlag, flags == CheckFlag);
        var xxh = BinaryPrimitives.ReadUInt64LittleEndian(bytes[33..]);
        var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[41..]);
        if (bytes.Length < FixedHeader + nameLength) throw new InvalidDataException($"frame {seq}: truncated name");
        var name = Encoding.UTF8.GetString(bytes.Slice(FixedHeader, nameLength));
        var body = bytes[(FixedHeader + nameLength)..];
        if (length < 0 || offset < 0 || fileSize < 0 || offset > fileSize - length)
            throw new InvalidDataException($"{name}: frame {seq} piece [{offset}, {offset + length}) lies outside the file of {fileSize} bytes");
        var carried = zero || check ? 0 : length;
        if (body.Length != carried)
            throw new InvalidDataException($"{name}: offset {offset}: frame {seq} carries {body.Length} bytes, its header says {carried}");
        if (check)
        {
            payload = ReadOnlyMemory<byte>.Empty;
            return new TransferFrame(seq, name, fileSize, offset, length, false, xxh, Check: true);
        }
        payload = zero ? Zeros(length) : frame.AsMemory(FixedHeader + nameLength, length);
        var actual = XxHash64.HashToUInt64(payload.Span);
        if (actual != xxh)
            throw new InvalidDataException($"{name}: offset {offset}: frame {seq} checksum mismatch (sent {xxh:x16}, arrived {actual:x16})");
        return new TransferFrame(seq, name, fileSize, offset, length, zero, xxh);
    }
}
