using System.Collections.Concurrent;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Engine.Transfer;

/// <summary>
/// The chunks a checkpoint has just written into an image that a migration streams, kept in memory as the frames they
/// will travel as (payload in place, header to come): the sender takes a piece's frames from here instead of reading
/// the piece back from the image on disk. Bounded: a chunk that would take the held bytes over the budget is not kept,
/// and the sender reads that piece from the image as before. A chunk that finds the budget full waits for the sender
/// to take pieces, so the checkpoint goes at the transfer's pace and every piece travels from memory; when the sender
/// takes nothing for the patience given, chunks stop waiting (and are read back when their turn comes) until it
/// takes one again. A place written again (a live copy's later round, a
/// retried write) replaces what was kept there; a piece is taken only with the checksum it was written with.
/// A checkpoint finds the instance of its image directory with <see cref="Of"/>; it is there from <see cref="Open"/>
/// until <see cref="Dispose"/>.
/// </summary>
public sealed class CapturedPieces : IDisposable
{
    private static readonly ConcurrentDictionary<string, CapturedPieces> Registry = new();
    private readonly Dictionary<(string File, long Offset), Kept> _kept = [];
    private readonly object _gate = new();
    private readonly string _dir;
    private readonly long _budget;
    private readonly int _frameSize;
    private readonly TimeSpan _patience;
    private long _bytes;
    private bool _disposed, _stalled;

    private CapturedPieces(string dir, long budget, int frameSize, TimeSpan patience)
    {
        _dir = dir;
        _budget = budget;
        _frameSize = frameSize;
        _patience = patience;
    }

    /// <summary>
    /// Keeps the chunks written into <paramref name="imagesDir"/> from now on, at most <paramref name="budget"/> payload
    /// bytes at once, cut into frames of <paramref name="frameSize"/>; a chunk waits at most <paramref name="patience"/> for room.
    /// </summary>
    public static CapturedPieces Open(string imagesDir, long budget, int frameSize, TimeSpan patience)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frameSize);
        var pieces = new CapturedPieces(Path.GetFullPath(imagesDir), budget, frameSize, patience);
        if (!Registry.TryAdd(pieces._dir, pieces)) throw new InvalidOperationException($"{pieces._dir}: its written chunks are kept already");
        return pieces;
    }

    /// <summary>The instance that keeps what is written into <paramref name="imagesDir"/>, or null when nothing streams it.</summary>
    public static CapturedPieces? Of(string imagesDir) => Registry.GetValueOrDefault(Path.GetFullPath(imagesDir));

    /// <summary>Payload bytes held now.</summary>
    public long Bytes
    {
        get
        {
            lock (_gate) return _bytes;
        }
    }

    /// <summary>
    /// A chunk was written: <paramref name="bytes"/> at payload offset <paramref name="payloadOffset"/> of page file
    /// <paramref name="fileName"/>, checksum <paramref name="xxh64"/>. Copied into frame arrays when the budget allows
    /// (false when not); whatever the place held before is let go.
    /// </summary>
    public bool Keep(string fileName, long payloadOffset, ReadOnlySpan<byte> bytes, ulong xxh64)
    {
        var key = (fileName, LengthPrefix.Size + payloadOffset);
        lock (_gate)
        {
            if (_kept.Remove(key, out var stale)) Release(stale);
            var waitUntil = Environment.TickCount64 + (long)_patience.TotalMilliseconds;
            while (!_disposed && !_stalled && bytes.Length <= _budget && _bytes + bytes.Length > _budget)
            {
                var left = waitUntil - Environment.TickCount64;
                if (left <= 0) _stalled = true;
                else Monitor.Wait(_gate, TimeSpan.FromMilliseconds(left));
            }
            if (_disposed || _bytes + bytes.Length > _budget) return false;
            _bytes += bytes.Length;
        }
        var payloadAt = TransferFrame.HeaderSize(fileName);
        var frames = new byte[Math.Max(1, (bytes.Length + _frameSize - 1) / _frameSize)][];
        for (var i = 0; i < frames.Length; i++)
        {
            var part = bytes.Slice(i * _frameSize, Math.Min(_frameSize, bytes.Length - i * _frameSize));
            frames[i] = FramePool.Shared.Rent(payloadAt + part.Length);
            part.CopyTo(frames[i].AsSpan(payloadAt));
        }
        var kept = new Kept(frames, bytes.Length, xxh64);
        lock (_gate)
        {
            // Written again meanwhile, or let go: the newer write or the disposal wins.
            if (_disposed || _kept.ContainsKey(key))
            {
                Release(kept);
                return false;
            }
            _kept[key] = kept;
        }
        return true;
    }

    /// <summary>
    /// The frames of <paramref name="piece"/>, numbered from <paramref name="firstSeq"/>, when it is held with the very
    /// bytes it was written with (same length and checksum); null otherwise (read it from the image). Taken: no longer held.
    /// </summary>
    public IReadOnlyList<(long Seq, byte[] Frame)>? Take(TransferPiece piece, long firstSeq)
    {
        Kept? kept;
        lock (_gate)
        {
            if (!_kept.TryGetValue((piece.FileName, piece.Offset), out kept) || kept.Length != piece.Length || kept.Xxh64 != piece.Xxh64) return null;
            _kept.Remove((piece.FileName, piece.Offset));
            _bytes -= kept.Length;
            _stalled = false;
            Monitor.PulseAll(_gate);
        }
        var frames = new List<(long, byte[])>(kept.Frames.Length);
        long at = 0;
        for (var i = 0; i < kept.Frames.Length; i++)
        {
            var buffer = kept.Frames[i];
            var length = (int)Math.Min(_frameSize, piece.Length - at);
            var frame = TransferFrame.EncodeAround(buffer, firstSeq + i, piece.FileName, piece.FileSize, piece.Offset + at, length, out _);
            if (frame != buffer) FramePool.Shared.Return(buffer);
            frames.Add((firstSeq + i, frame));
            at += length;
        }
        return frames;
    }

    /// <summary>Lets go of what is kept at a place no piece will ask for (a live round found its bytes unchanged).</summary>
    public void Drop(string fileName, long payloadOffset)
    {
        lock (_gate)
            if (_kept.Remove((fileName, LengthPrefix.Size + payloadOffset), out var kept)) Release(kept);
    }

    /// <summary>The page file as a sink whose every chunk, once written, is also kept here.</summary>
    public Copy.IChunkSink Around(PageFile file) => new KeepingSink(file, this);

    /// <summary>Lets go of everything held; the directory's chunks are no longer kept.</summary>
    public void Dispose()
    {
        Registry.TryRemove(new KeyValuePair<string, CapturedPieces>(_dir, this));
        lock (_gate)
        {
            _disposed = true;
            foreach (var kept in _kept.Values) Release(kept);
            _kept.Clear();
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Under the lock: the frames go back to the pool and their bytes off the count.</summary>
    private void Release(Kept kept)
    {
        _bytes -= kept.Length;
        foreach (var frame in kept.Frames) FramePool.Shared.Return(frame);
        Monitor.PulseAll(_gate);
    }

    private sealed class KeepingSink(PageFile file, CapturedPieces pieces) : Copy.IChunkSink
    {
        public ulong Write(long offset, ReadOnlySpan<byte> data)
        {
            var xxh64 = file.Write(offset, data);
            pieces.Keep(file.FileName, offset, data, xxh64);
            return xxh64;
        }
    }

    private sealed record Kept(byte[][] Frames, long Length, ulong Xxh64);
}
