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
    public static long Verify(SafeFileHandle handle, string file, Segment segment) => Verify(handle, file, segment, null, out _);

    /// <summary>
    /// As <see cref="Verify(SafeFileHandle, string, Segment)"/>; with <paramref name="digest"/>, also the segment's
    /// leaves by that hash (<see cref="FileDigest"/>): a signed image's check.
    /// </summary>
    public static long Verify(SafeFileHandle handle, string file, Segment segment, LeafHash? digest, out byte[]? leaves)
    {
        leaves = null;
        if (segment.Zero && FileSync.IsHole(handle, segment.Offset, segment.Length))
        {
            if (digest is not null) leaves = FileDigest.Zeros(segment.Length, digest);
            return 0;
        }
        if (segment.Packed) return VerifyPacked(handle, file, segment, digest, out leaves);
        using var hasher = digest is not null ? new LeafHasher(segment.Length, digest) : null;
        var hash = new XxHash64();
        ReadThrough(handle, file, segment, (hash, hasher), static (bytes, to) =>
        {
            to.hash.Append(bytes);
            to.hasher?.Append(bytes);
        });
        Check(file, segment, hash.GetCurrentHashAsUInt64());
        leaves = hasher?.Finish();
        return segment.Length;
    }

    /// <summary>
    /// A packed segment is read whole, once: its checksum covers the block, and the block must also decode to the
    /// piece's length (<see cref="PackedSegment.CheckAndUnpack"/>).
    /// </summary>
    private static long VerifyPacked(SafeFileHandle handle, string file, Segment segment, LeafHash? digest, out byte[]? leaves)
    {
        var held = ArrayPool<byte>.Shared.Rent((int)segment.Length);
        var raw = ArrayPool<byte>.Shared.Rent((int)segment.Length);
        try
        {
            var bytes = held.AsSpan(0, (int)segment.Length);
            ReadExactly(handle, file, bytes, segment.Offset);
            leaves = PackedSegment.CheckAndUnpack(file, segment, bytes, raw.AsSpan(0, (int)segment.Length), digest);
            return segment.Length;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
            ArrayPool<byte>.Shared.Return(held);
        }
    }

    /// <summary>Reads a segment in order through a pooled buffer, handing each part read to <paramref name="consume"/>.</summary>
    public static void ReadThrough<TState>(SafeFileHandle handle, string file, Segment segment, TState state, ReadOnlySpanAction<byte, TState> consume)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(BufferSize, segment.Length));
        try
        {
            for (long pos = 0; pos < segment.Length;)
            {
                var n = (int)Math.Min(buffer.Length, segment.Length - pos);
                ReadExactly(handle, file, buffer.AsSpan(0, n), segment.Offset + pos);
                consume(buffer.AsSpan(0, n), state);
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
