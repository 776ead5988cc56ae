using System.Buffers;
using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// Reads a raw-contents file of a committed image, checking the checksum of every segment a read touches.
/// Offsets count from the start of the payload (after the 8-byte prefix), as in <see cref="PageFile.Write"/>;
/// errors name the file offset of the bad segment.
/// </summary>
public sealed class PageFileReader : Copy.IChunkSource, IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly SafeFileHandle? _direct;
    private readonly SegmentCover _cover;
    private readonly PageFileReader? _parent;
    private long _bytesRead;
    private byte[]?[]? _digests; // each segment's leaves (FileDigest) as it was read, once RecordDigests is called
    private readonly LeafHash _leafHash;
    private readonly bool _dropBehind;

    /// <param name="directIo">Read segments of <see cref="DirectMinSegment"/> and more with O_DIRECT, past the page cache, where the filesystem allows.</param>
    /// <param name="parent">The parent image's file of the same name, where segments marked in_parent are read.</param>
    /// <param name="leafHash">The leaves' hash of the image's format, for <see cref="Digest"/>.</param>
    /// <param name="dropBehind">Drop each segment of <see cref="DirectMinSegment"/> and more read through the page cache from it once checked.</param>
    internal PageFileReader(string dir, ManifestFile entry, SegmentCover cover, LeafHash leafHash, bool directIo = false, PageFileReader? parent = null,
        bool dropBehind = false)
    {
        _parent = parent;
        _dropBehind = dropBehind;
        _leafHash = leafHash;
        FileName = entry.Name;
        Length = entry.Size - LengthPrefix.Size;
        _cover = cover;
        _handle = ImageFiles.OpenRead(dir, entry.Name);
        SegmentIo.CheckPrefix(_handle, FileName, RandomAccess.GetLength(_handle));
        _bytesRead = LengthPrefix.Size;
        if (directIo && Length >= PageFile.DirectMinLength) _direct = DirectIo.Reopen(_handle, FileName, write: false);
    }

    /// <summary>Segments shorter than this are read through the page cache.</summary>
    public const int DirectMinSegment = 64 << 10;

    /// <summary>True when large segments are read with O_DIRECT.</summary>
    public bool Direct => _direct is not null;

    /// <summary>Bytes read from the file so far, the length prefix included: what "each byte read once" is counted by.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead) + (_parent is null ? 0 : _parent.BytesRead - LengthPrefix.Size);

    public string FileName { get; }

    /// <summary>Payload length in bytes.</summary>
    public long Length { get; }

    /// <summary>Fills <paramref name="dest"/> from payload offset <paramref name="offset"/>, verifying every segment it covers.</summary>
    public void ReadVerified(long offset, Span<byte> dest)
    {
        if (dest.IsEmpty) return;
        if (offset < 0 || offset > Length - dest.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset,
                $"{FileName}: range [{offset}, {offset + dest.Length}) lies outside the payload of {Length} bytes");
        var start = LengthPrefix.Size + offset;
        var end = start + dest.Length;
        for (var i = _cover.IndexOf(start); i < _cover.Segments.Count && _cover.Segments[i].Offset < end; i++)
        {
            var s = _cover.Segments[i];
            if (s.InParent)
            {
                // The parent's file has the equal segment at the same offset, and checks it as it reads it.
                var from = Math.Max(s.Offset, start);
                var to = Math.Min(s.End, end);
                Parent.ReadVerified(from - LengthPrefix.Size, dest.Slice((int)(from - start), (int)(to - from)));
            }
            else if (s.Offset >= start && s.End <= end)
                ReadWhole(s, dest.Slice((int)(s.Offset - start), (int)s.Length));
            else
                ReadPart(s, start, end, dest);
        }
    }

    /// <summary>
    /// A range that is one whole segment of <see cref="DirectMinSegment"/> or more goes from the O_DIRECT staging buffer
    /// straight to <paramref name="consume"/>, hashed on its way, and the segment's checksum is checked after its last
    /// piece: one copy fewer than through <paramref name="buffer"/>. Any other range is read into the buffer first.
    /// </summary>
    public void ReadVerified(long offset, Span<byte> buffer, Copy.ChunkConsumer consume)
    {
        if (_parent is not null && WholeParentSegment(offset, buffer.Length))
        {
            _parent.ReadVerified(offset, buffer, consume);
            return;
        }
        if (WholeDirectSegment(offset, buffer.Length) is not { } s)
        {
            ReadVerified(offset, buffer);
            consume(0, buffer);
            return;
        }
        var hash = new XxHash64();
        using var leaves = _digests is null ? null : new LeafHasher(s.Length, _leafHash);
        var stage = DirectIo.Rent();
        try
        {
            for (var at = DirectIo.AlignDown(s.Offset); at < s.End; at += DirectIo.StageSize)
            {
                var part = ReadStage(stage, at, s.Offset, s.End);
                hash.Append(part);
                leaves?.Append(part);
                consume((int)(Math.Max(at, s.Offset) - s.Offset), part);
            }
        }
        finally
        {
            DirectIo.Return(stage);
        }
        SegmentIo.Check(FileName, s, hash.GetCurrentHashAsUInt64());
        if (leaves is not null) Recorded(s, leaves.Finish());
    }

    /// <summary>
    /// From now on, keeps each segment's leaves as it is read and checked, so that <see cref="Digest"/> takes the file's
    /// digest from the reads a restore makes anyway: a signed image's contents are read once, not once more to verify.
    /// </summary>
    public void RecordDigests() => _digests ??= new byte[_cover.Segments.Count][];

    /// <summary>
    /// The file's digest (<see cref="FileDigest"/>) from the segments' leaves recorded as they were read; a segment no
    /// read reached (the length prefix, a range no BO covers) is read now.
    /// </summary>
    public string Digest()
    {
        var digests = _digests ?? new byte[_cover.Segments.Count][];
        return FileDigest.Combine(_cover.Segments, i => digests[i] ??= FileDigest.OfSegment(_handle, FileName, _cover.Segments[i], _leafHash));
    }

    private void Recorded(Segment s, byte[] digest)
    {
        if (_digests is { } digests) digests[_cover.IndexOf(s.Offset)] = digest;
    }

    private PageFileReader Parent => _parent ?? throw new ImageException(FileName, null, "a segment is marked in_parent, but no parent file was opened");

    /// <summary>True when [offset, offset + length) of the payload is exactly one segment marked in_parent.</summary>
    private bool WholeParentSegment(long offset, int length)
    {
        if (length == 0 || offset < 0 || offset > Length - length) return false;
        var s = _cover.Segments[_cover.IndexOf(LengthPrefix.Size + offset)];
        return s.InParent && s.Offset == LengthPrefix.Size + offset && s.Length == length;
    }

    /// <summary>The segment that is exactly [offset, offset + length) of the payload, when it is read with O_DIRECT; else null.</summary>
    private Segment? WholeDirectSegment(long offset, int length)
    {
        if (_direct is null || length < DirectMinSegment || offset < 0 || offset > Length - length) return null;
        var s = _cover.Segments[_cover.IndexOf(LengthPrefix.Size + offset)];
        if (s.Offset != LengthPrefix.Size + offset || s.Length != length || s.InParent || s.Packed) return null;
        return s.Zero && FileSync.IsHole(_handle, s.Offset, s.Length) ? null : s;
    }

    public void Dispose()
    {
        _parent?.Dispose();
        // The pages no single range covered whole (a large folio across two chunks), and any the kernel read ahead
        // into a range already dropped, go with the file: a hint, whose failure loses nothing read.
        if (_dropBehind && !_handle.IsClosed)
        {
            try
            {
                FileSync.DropCached(_handle, FileName, 0, 0);
            }
            catch (IOException)
            {
            }
        }
        _handle.Dispose();
        _direct?.Dispose();
    }

    private void ReadWhole(Segment s, Span<byte> part)
    {
        if (s.Packed)
        {
            ReadPacked(s, part);
            return;
        }
        if (s.Zero && FileSync.IsHole(_handle, s.Offset, s.Length))
        {
            part.Clear();
            SegmentIo.Check(FileName, s, PageFile.ZeroHash(part.Length));
            if (_digests is not null) Recorded(s, FileDigest.Zeros(part.Length, _leafHash));
            return;
        }
        if (_direct is not null && part.Length >= DirectMinSegment)
        {
            ReadDirect(s.Offset, part);
        }
        else
        {
            SegmentIo.ReadExactly(_handle, FileName, part, s.Offset);
            Interlocked.Add(ref _bytesRead, part.Length);
            DropBehind(s.Offset, part.Length);
        }
        SegmentIo.Check(FileName, s, XxHash64.HashToUInt64(part));
        if (_digests is not null) Recorded(s, FileDigest.Leaves(part, _leafHash));
    }

    /// <summary>A large range read through the page cache leaves it (the bytes are in the caller's buffer now).</summary>
    private void DropBehind(long offset, long length)
    {
        if (_dropBehind && length >= DirectMinSegment) FileSync.DropCached(_handle, FileName, offset, length);
    }

    /// <summary>
    /// Reads [offset, offset + dest.Length) of the file with O_DIRECT: the aligned blocks around it into a staging
    /// buffer, then the bytes asked for out of it.
    /// </summary>
    private void ReadDirect(long offset, Span<byte> dest)
    {
        var end = offset + dest.Length;
        var stage = DirectIo.Rent();
        try
        {
            for (var at = DirectIo.AlignDown(offset); at < end; at += DirectIo.StageSize)
                ReadStage(stage, at, offset, end).CopyTo(dest[(int)(Math.Max(at, offset) - offset)..]);
        }
        finally
        {
            DirectIo.Return(stage);
        }
    }

    /// <summary>
    /// One stage of an O_DIRECT read of [offset, end): the aligned blocks from <paramref name="at"/> on, up to
    /// <see cref="DirectIo.StageSize"/>, into <paramref name="stage"/>; returns the bytes of the range among them.
    /// Counts the blocks read, neighbours' bytes included.
    /// </summary>
    private Span<byte> ReadStage(nint stage, long at, long offset, long end)
    {
        var want = (int)Math.Min(DirectIo.StageSize, DirectIo.AlignUp(end) - at);
        var block = DirectIo.Span(stage, want);
        var got = DirectIo.Read(_direct!, FileName, block, at);
        Interlocked.Add(ref _bytesRead, got);
        var from = Math.Max(at, offset);
        var upTo = Math.Min(at + want, end);
        if (at + got < upTo) throw new ImageException(FileName, at + got, "file ends early (truncated)");
        return block[(int)(from - at)..(int)(upTo - at)];
    }

    /// <summary>
    /// A packed segment: the file's bytes for it (the LZ4 block and the zeros after it, read whole: the zeros are a hole,
    /// which costs no disk) are checked against its checksum, then the block is decoded into <paramref name="raw"/>.
    /// </summary>
    private void ReadPacked(Segment s, Span<byte> raw)
    {
        var held = ArrayPool<byte>.Shared.Rent((int)s.Length);
        try
        {
            var bytes = held.AsSpan(0, (int)s.Length);
            if (_direct is not null && bytes.Length >= DirectMinSegment) ReadDirect(s.Offset, bytes);
            else
            {
                SegmentIo.ReadExactly(_handle, FileName, bytes, s.Offset);
                Interlocked.Add(ref _bytesRead, bytes.Length);
                DropBehind(s.Offset, bytes.Length);
            }
            if (PackedSegment.CheckAndUnpack(FileName, s, bytes, raw, _digests is not null ? _leafHash : null) is { } leaves) Recorded(s, leaves);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(held);
        }
    }

    /// <summary>A read that covers only part of a segment still checks all of it, then copies the part asked for.</summary>
    private void ReadPart(Segment s, long start, long end, Span<byte> dest)
    {
        if (s.Packed)
        {
            var raw = ArrayPool<byte>.Shared.Rent((int)s.Length);
            try
            {
                ReadPacked(s, raw.AsSpan(0, (int)s.Length));
                var first = Math.Max(s.Offset, start);
                var last = Math.Min(s.End, end);
                raw.AsSpan((int)(first - s.Offset), (int)(last - first)).CopyTo(dest[(int)(first - start)..]);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(raw);
            }
            return;
        }
        Interlocked.Add(ref _bytesRead, SegmentIo.Verify(_handle, FileName, s, _digests is not null ? _leafHash : null, out var leaves));
        if (leaves is not null) Recorded(s, leaves);
        var from = Math.Max(s.Offset, start);
        var to = Math.Min(s.End, end);
        SegmentIo.ReadExactly(_handle, FileName, dest.Slice((int)(from - start), (int)(to - from)), from);
        Interlocked.Add(ref _bytesRead, to - from);
    }
}
