using System.Buffers;
using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>Positional reads that fail with the file and offset, and segment checks with bounded memory.</summary>
public static class SegmentIo
{
    public const int BufferSize = 1 << 20;

    /// <summary>Fills <paramref name="dest"/> from <paramref name="offset"/>; a short file is an error, not a short read.</summary>
    public static void ReadExactly(SafeFileHandle handle, string file, Span<byte> dest, long offset)
    {
        var done = 0;
        while (done < dest.Length)
        {
            var n = RandomAccess.Read(handle, dest[done..], offset + done);
            if (n == 0) throw new ImageException(file, offset + done, "file ends early (truncated)");
            done += n;
        }
    }

    /// <summary>
    /// Checks one segment, reading it through a pooled buffer; a hole stands for a zero segment unread. Returns the
    /// bytes read.
    /// </summary>
    /// <param name="sha256">Also fed every byte of the segment (zeros for a hole), when the image's signature is checked.</param>
    public static long Verify(SafeFileHandle handle, string file, Segment segment, System.Security.Cryptography.IncrementalHash? sha256 = null)
    {
        var hole = segment.Zero && FileSync.IsHole(handle, segment.Offset, segment.Length);
        if (hole && sha256 is null) return 0;
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(BufferSize, segment.Length));
        try
        {
            if (hole)
            {
                buffer.AsSpan().Clear();
                for (long pos = 0; pos < segment.Length; pos += buffer.Length)
                    sha256!.AppendData(buffer, 0, (int)Math.Min(buffer.Length, segment.Length - pos));
                return 0;
            }
            var hash = new XxHash64();
            for (long pos = 0; pos < segment.Length;)
            {
                var n = (int)Math.Min(buffer.Length, segment.Length - pos);
                ReadExactly(handle, file, buffer.AsSpan(0, n), segment.Offset + pos);
                hash.Append(buffer.AsSpan(0, n));
                sha256?.AppendData(buffer, 0, n);
                pos += n;
            }
            Check(file, segment, hash.GetCurrentHashAsUInt64());
            return segment.Length;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Feeds the bytes of a segment as the file holds them (zeros for a hole) to <paramref name="sha256"/>, checking nothing.</summary>
    public static void Digest(SafeFileHandle handle, string file, Segment segment, System.Security.Cryptography.IncrementalHash? sha256)
    {
        if (sha256 is null) return;
        var hole = FileSync.IsHole(handle, segment.Offset, segment.Length);
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(BufferSize, segment.Length));
        try
        {
            if (hole) buffer.AsSpan().Clear();
            for (long pos = 0; pos < segment.Length;)
            {
                var n = (int)Math.Min(buffer.Length, segment.Length - pos);
                if (!hole) ReadExactly(handle, file, buffer.AsSpan(0, n), segment.Offset + pos);
                sha256.AppendData(buffer, 0, n);
                pos += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public static void Check(string file, Segment segment, ulong actual)
    {
        if (actual != segment.Xxh64)
            throw new ImageException(file, segment.Offset,
                $"checksum mismatch in segment [{segment.Offset}, {segment.End}): recorded {segment.Xxh64:x16}, read {actual:x16}");
    }

    /// <summary>The 8-byte prefix must equal the payload length the file actually holds.</summary>
    public static void CheckPrefix(SafeFileHandle handle, string file, long fileSize)
    {
        if (fileSize < LengthPrefix.Size) throw new ImageException(file, fileSize, $"only {fileSize} bytes, shorter than the 8-byte length prefix");
        Span<byte> prefix = stackalloc byte[LengthPrefix.Size];
        ReadExactly(handle, file, prefix, 0);
        var length = LengthPrefix.Read(prefix);
        if (length != fileSize - LengthPrefix.Size)
            throw new ImageException(file, 0, $"length prefix says {length} payload bytes, the file holds {fileSize - LengthPrefix.Size}");
    }
}
