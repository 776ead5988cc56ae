using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// A raw-contents file being written: pre-sized to its final length, written in pieces at any 64-bit offset from any
/// number of threads at once. Every piece's xxHash64 is recorded as a segment of the manifest. A piece that is all
/// zeros is not written (the file stays sparse there) but its segment is still recorded.
/// Offsets given to <see cref="Write"/> count from the start of the payload, after the 8-byte length prefix.
/// </summary>
public sealed partial class PageFile : Copy.IChunkSink
{
    private readonly string _path;
    private readonly Lock _creates;
    private SafeFileHandle? _handle;
    private readonly Dictionary<long, Segment> _segments = [];
    private readonly Lock _gate = new();
    private bool _closed;
    private bool _dirty = true; // a reopened file holds a dead writer's bytes, durable only after an fsync
    private readonly bool _reused; // ... and no range of it is known to be a hole
    private readonly ParentImage? _parent; // an incremental image's: equal chunks are referenced there, not written
    private readonly Dictionary<long, byte[]>? _digests; // each segment's leaves (FileDigest), by offset, as its piece was written or adopted; null: no digest kept
    private readonly bool _pack; // pieces packed with LZ4 where that pays

    /// <summary>
    /// The file is opened (created, pre-sized, its length prefix written) by its first write, adoption or sync, not
    /// here: an image of thousands of page files creates them while the copy runs, not before it starts.
    /// <paramref name="creates"/> is held while a file is created: creations in one directory take its lock in the
    /// kernel one at a time anyway, and a thread that waits here sleeps instead of spinning there.
    /// </summary>
    /// <param name="pack">Pack each piece with LZ4 where that pays (<see cref="PackedSegment"/>).</param>
    /// <param name="digests">Keep the leaves of the file's digest as pieces are written (<see cref="Digest"/>, what a signed commit signs).</param>
    internal PageFile(string dir, string fileName, long length, bool reuse, Lock creates, bool directIo = false, ParentImage? parent = null, bool pack = false,
        bool digests = true)
    {
        _parent = parent;
        _pack = pack;
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        FileName = fileName;
        Length = length;
        _path = Path.Combine(dir, fileName);
        _creates = creates;
        _reused = reuse;
        // A reopened file keeps the buffered path: its pieces are adopted from what is on disk, not deposited here.
        _wantDirect = directIo && !reuse && length >= DirectMinLength;
        Span<byte> prefix = stackalloc byte[LengthPrefix.Size];
        LengthPrefix.Write(prefix, length);
        _segments[0] = new Segment(0, LengthPrefix.Size, XxHash64.HashToUInt64(prefix));
        if (digests) _digests = new Dictionary<long, byte[]> { [0] = FileDigest.Leaves(prefix, LeafHash.Current) };
    }

    private SafeFileHandle Handle
    {
        get
        {
            if (Volatile.Read(ref _handle) is { } open) return open;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_closed, this);
                if (_handle is null) Volatile.Write(ref _handle, Open());
                return _handle!;
            }
        }
    }

    private SafeFileHandle Open()
    {
        SafeFileHandle handle;
        if (_reused)
        {
            // Reopened after a crash: keep what the dead writer wrote, for Adopt to check piece by piece.
            handle = ImageFiles.OpenWrite(_path, FileMode.Open, FileAccess.ReadWrite);
        }
        else
        {
            lock (_creates) handle = ImageFiles.OpenWrite(_path, FileMode.CreateNew, FileAccess.ReadWrite);
        }
        try
        {
            // Pre-sizing makes every unwritten range a hole: zero pieces cost no disk.
            if (!_reused || RandomAccess.GetLength(handle) != LengthPrefix.Size + Length)
                RandomAccess.SetLength(handle, LengthPrefix.Size + Length);
            Span<byte> prefix = stackalloc byte[LengthPrefix.Size];
            LengthPrefix.Write(prefix, Length);
            if (_wantDirect) _direct = DirectIo.Reopen(handle, FileName, write: true);
            // The prefix shares the first block with the first piece: through the page cache, as a piece's ends go.
            RandomAccess.Write(handle, prefix, 0);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates the file now, if its first write has not (one thread creating a render node's thousands of files ahead
    /// of the writers, instead of each writer waiting its turn in the directory). False once the image closed it.
    /// </summary>
    public bool Create()
    {
        lock (_gate)
        {
            if (_closed) return false;
        }
        _ = Handle;
        return true;
    }

    public string FileName { get; }

    /// <summary>Payload length in bytes; the file is 8 bytes longer.</summary>
    public long Length { get; }

    /// <summary>
    /// Writes <paramref name="data"/> at payload offset <paramref name="offset"/> and records its checksum, which it
    /// returns (the engine may journal it to <see cref="Adopt"/> the piece after a crash). Thread-safe.
    /// </summary>
    public ulong Write(long offset, ReadOnlySpan<byte> data) => Write(offset, data, checkedXxh64: null);

    /// <summary>
    /// <see cref="Write(long, ReadOnlySpan{byte})"/>; bytes the caller has just checked against their xxHash64 (a
    /// migration's frame, checked on arrival) come with <paramref name="checkedXxh64"/>, recorded as it is rather than
    /// hashed a second time.
    /// </summary>
    public ulong Write(long offset, ReadOnlySpan<byte> data, ulong? checkedXxh64)
    {
        if (data.IsEmpty) return XxHash64.HashToUInt64(data);
        if (offset < 0 || offset > Length - data.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset,
                $"{FileName}: piece [{offset}, {offset + data.Length}) lies outside the payload of {Length} bytes");
        var zero = data.IndexOfAnyExcept((byte)0) < 0;
        byte[]? packed = null;
        try
        {
            var stored = 0;
            if (_pack && !zero)
            {
                packed = System.Buffers.ArrayPool<byte>.Shared.Rent(data.Length);
                stored = PackedSegment.TryPack(data, packed.AsSpan(0, data.Length));
            }
            // What the file holds for the piece: the bytes themselves, or the LZ4 block and zeros up to the piece's end.
            return stored > 0 ? Write(offset, packed.AsSpan(0, data.Length), stored, zero: false, null)
                : Write(offset, data, 0, zero, checkedXxh64);
        }
        finally
        {
            if (packed is not null) System.Buffers.ArrayPool<byte>.Shared.Return(packed);
        }
    }

    /// <param name="held">The piece as the file holds it (packed: the LZ4 block of <paramref name="stored"/> bytes, then zeros).</param>
    private ulong Write(long offset, ReadOnlySpan<byte> held, int stored, bool zero, ulong? checkedXxh64)
    {
        var fileOffset = LengthPrefix.Size + offset;
        var segment = new Segment(fileOffset, held.Length, zero ? ZeroHash(held.Length) : checkedXxh64 ?? XxHash64.HashToUInt64(held), zero, Lz4: stored);
        // The bytes were read to hash them (no dirty bits on a GPU); equal to the parent's, they are referenced, not written.
        if (!zero && _parent is not null && _parent.Holds(FileName, fileOffset, held.Length, segment.Xxh64, stored))
        {
            // Not written: the file reads zeros there, and its digest says so.
            Record(segment with { InParent = true }, ZeroLeaves(held.Length));
            return segment.Xxh64;
        }
        bool rewrite;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            rewrite = _segments.TryGetValue(fileOffset, out var before);
            // The same bytes at the same place (a live copy's last round reading a chunk that did not change): nothing to write.
            if (before is { InParent: false } h && h.Length == segment.Length && h.Xxh64 == segment.Xxh64 && h.Zero == segment.Zero && h.Lz4 == segment.Lz4)
                return segment.Xxh64;
        }
        // Hashed here, on the thread that writes the piece: a file's digest needs no pass of its own, on any one thread.
        var digest = zero ? ZeroLeaves(held.Length) : LeavesOf(held);
        // A retried piece must overwrite what the first attempt left, even with zeros; so must any piece of a file a dead
        // writer left, since a range it did not adopt may hold anything. A packed piece written to a fresh range leaves
        // its zeros to the hole the pre-sized file holds there.
        if (!segment.Zero || rewrite || _reused)
        {
            var bytes = stored > 0 && !rewrite && !_reused ? held[..stored] : held;
            var handle = Handle;
            if (_direct is not null)
            {
                WriteDirect(handle, fileOffset, bytes);
            }
            else
            {
                RandomAccess.Write(handle, bytes, fileOffset);
                FileSync.StartWriteback(handle, FileName, fileOffset, bytes.Length);
            }
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            _segments[fileOffset] = segment;
            if (digest is not null) _digests![fileOffset] = digest;
            _dirty = true;
        }
        return segment.Xxh64;
    }

    /// <summary>
    /// In a reopened image, takes over a piece the previous writer wrote: reads payload [offset, offset+length) back
    /// and records it as a segment if it still hashes to <paramref name="xxh64"/> (what <see cref="Write"/> returned).
    /// False means the piece did not survive: write it again. Thread-safe.
    /// </summary>
    public bool Adopt(long offset, int length, ulong xxh64)
    {
        if (offset < 0 || length <= 0 || offset > Length - length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset,
                $"{FileName}: piece [{offset}, {offset + length}) lies outside the payload of {Length} bytes");
        // The journal does not say whether a dead writer packed the piece, so a packing file writes every piece again.
        if (_pack) return false;
        var fileOffset = LengthPrefix.Size + offset;
        if (_parent is not null && _parent.Holds(FileName, fileOffset, length, xxh64, 0))
        {
            Record(new Segment(fileOffset, length, xxh64, InParent: true), ZeroLeaves(length));
            return true;
        }
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var piece = buffer.AsSpan(0, length);
            SegmentIo.ReadExactly(Handle, FileName, piece, fileOffset);
            if (XxHash64.HashToUInt64(piece) != xxh64) return false;
            Record(new Segment(fileOffset, length, xxh64, piece.IndexOfAnyExcept((byte)0) < 0), LeavesOf(piece));
            return true;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The leaves of a piece's bytes, or null when this file keeps no digest.</summary>
    private byte[]? LeavesOf(ReadOnlySpan<byte> bytes) => _digests is null ? null : FileDigest.Leaves(bytes, LeafHash.Current);

    private byte[]? ZeroLeaves(int length) => _digests is null ? null : FileDigest.Zeros(length, LeafHash.Current);

    private void Record(Segment segment, byte[]? digest)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            _segments[segment.Offset] = segment;
            if (digest is not null) _digests![segment.Offset] = digest;
        }
    }

    /// <summary>The hash of n zero bytes depends on n alone; chunks repeat few sizes, so sparse BOs cost no hashing.</summary>
    internal static ulong ZeroHash(int length) =>
        ZeroHashes.GetOrAdd(length, static n => XxHash64.HashToUInt64(new byte[n]));

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, ulong> ZeroHashes = new();

    /// <summary>fsyncs the file (commit fsyncs many at once, before closing them one by one).</summary>
    internal void Sync()
    {
        lock (_gate)
        {
            if (_closed || !_dirty) return;
            FileSync.File(Handle, FileName); // a file no piece reached (all zeros) is created now
            _dirty = false;
        }
    }

    /// <summary>
    /// The file's digest (<see cref="FileDigest"/>), from its pieces' leaves as they were written or adopted, once it is
    /// closed: a signed commit reads nothing back.
    /// </summary>
    internal string? Digest { get; private set; }

    /// <summary>fsyncs and closes the file; returns its manifest entry once its segments cover it exactly.</summary>
    internal ManifestFile Close()
    {
        Segment[] segments;
        lock (_gate)
        {
            if (!_closed)
            {
                var handle = Handle;
                if (_dirty) FileSync.File(handle, FileName);
                handle.Dispose();
                ReleaseDirect();
                _closed = true;
            }
            segments = [.. _segments.Values];
        }
        var cover = SegmentCover.Build(FileName, LengthPrefix.Size + Length, segments);
        // Every segment of the cover was recorded with its digest, under the same lock.
        if (_digests is { } digests) Digest ??= FileDigest.Combine(cover.Segments, i => digests[cover.Segments[i].Offset]);
        return new ManifestFile(FileName, LengthPrefix.Size + Length, cover.Segments);
    }

    /// <summary>Closes without checking the cover (the image is being abandoned).</summary>
    internal ManifestFile CloseUnchecked()
    {
        lock (_gate)
        {
            if (!_closed)
            {
                _handle?.Dispose();
                ReleaseDirect();
                _closed = true;
            }
            return new ManifestFile(FileName, LengthPrefix.Size + Length, [.. _segments.Values.OrderBy(s => s.Offset)]);
        }
    }
}
