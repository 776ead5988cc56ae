using Gpuckpt.Engine.Devices;

namespace Gpuckpt.Engine.Copy;

/// <summary>
/// The blocking work of one chunk, run on an I/O thread: a BO's piece between its mapping and the chunk's buffer, a
/// shared chunk's one checksummed write or verified read, and a chunk of one BO moved between its mapping and the page
/// file with no buffer between where the mapping allows. Each strikes its injected faults at the same points, in the same
/// order, with the same labels, whoever calls it; retrying, timing out and holding the buffer and the mapping are the caller's.
/// </summary>
public static class ChunkCopy
{
    /// <summary>A piece of a shared chunk: read from the BO into the chunk buffer (checkpoint) or written from it into the BO (restore).</summary>
    public static void Piece(IBoMapping bo, BoPiece piece, Span<byte> chunk, bool saving, ChunkFaultPoint faults, CancellationToken cancel)
    {
        var span = chunk.Slice(piece.ChunkOffset, piece.Length);
        if (saving)
        {
            faults.At(FaultSide.Bo, "read of the BO's mapping", cancel);
            bo.Read(piece.BoOffset, span);
        }
        else
        {
            faults.At(FaultSide.Bo, "write of the BO's mapping", cancel);
            bo.Write(piece.BoOffset, span);
        }
    }

    /// <summary>A shared chunk's one write to its page file, from the buffer its pieces filled; returns its checksum.</summary>
    public static ulong Write(IChunkSink sink, CopyChunk chunk, ReadOnlySpan<byte> buffer, ChunkFaultPoint faults, CancellationToken cancel) =>
        WriteFaulted(sink, chunk.FileOffset, buffer[..chunk.Length], faults, cancel);

    /// <summary>A shared chunk's one read from its page file into the buffer, every segment's checksum checked as it streams.</summary>
    public static void Read(IChunkSource source, CopyChunk chunk, Span<byte> buffer, ChunkFaultPoint faults, CancellationToken cancel)
    {
        faults.At(FaultSide.File, "read of the page file", cancel);
        source.ReadVerified(chunk.FileOffset, buffer[..chunk.Length]);
    }

    /// <summary>
    /// Checkpoint of a chunk of one BO: its bytes hashed and written to the page file straight from the mapping when it
    /// is memory (<see cref="IDirectBoMapping"/>), else read into <paramref name="buffer"/> first; returns the checksum.
    /// </summary>
    public static ulong Save(IBoMapping bo, CopyChunk chunk, Span<byte> buffer, IChunkSink sink, ChunkFaultPoint faults, CancellationToken cancel)
    {
        var piece = chunk.Pieces[0];
        var direct = bo as IDirectBoMapping;
        faults.At(FaultSide.Bo, "read of the BO's mapping", cancel);
        Span<byte> bytes;
        if (direct is not null)
        {
            direct.Prefetch(piece.BoOffset, piece.Length, write: false);
            bytes = direct.Span(piece.BoOffset, piece.Length);
        }
        else
        {
            bytes = buffer[..piece.Length];
            bo.Read(piece.BoOffset, bytes);
        }
        var checksum = WriteFaulted(sink, chunk.FileOffset, bytes, faults, cancel);
        direct?.Release(piece.BoOffset, piece.Length);
        return checksum;
    }

    /// <summary>
    /// Restore of a chunk of one BO: the page file read straight into the mapping when it is memory, verified before the
    /// call returns. A mapping that is not memory gets the bytes as they stream, before their segment's checksum is
    /// known: an exception then means the BO holds unverified bytes, and its process must never be resumed.
    /// </summary>
    public static void Restore(IBoMapping bo, CopyChunk chunk, Span<byte> buffer, IChunkSource source, ChunkFaultPoint faults, CancellationToken cancel)
    {
        var piece = chunk.Pieces[0];
        faults.At(FaultSide.File, "read of the page file", cancel);
        if (bo is IDirectBoMapping direct)
        {
            direct.Prefetch(piece.BoOffset, piece.Length, write: true);
            source.ReadVerified(chunk.FileOffset, direct.Span(piece.BoOffset, piece.Length));
            direct.Release(piece.BoOffset, piece.Length);
        }
        else
        {
            faults.At(FaultSide.Bo, "write of the BO's mapping", cancel);
            source.ReadVerified(chunk.FileOffset, buffer[..piece.Length], (at, bytes) => bo.Write(piece.BoOffset + (ulong)at, bytes));
        }
    }

    /// <summary>The page file's write with its file-side fault: a short write lands half the bytes before it fails.</summary>
    private static ulong WriteFaulted(IChunkSink sink, long offset, ReadOnlySpan<byte> bytes, ChunkFaultPoint faults, CancellationToken cancel)
    {
        if (faults.Due(FaultSide.File) is { } errno)
        {
            if (errno == ChunkIoException.ShortWrite) sink.Write(offset, bytes[..(bytes.Length / 2)]);
            ChunkFaults.Strike(errno, "write of the page file", cancel);
        }
        return sink.Write(offset, bytes);
    }
}
