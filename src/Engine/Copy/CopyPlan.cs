namespace Gpuckpt.Engine.Copy;

/// <summary>One BO's contents as laid out in a page file: <paramref name="FileOffset"/> is where its bytes start.</summary>
public sealed record BoExtent(int BoIndex, ulong Size, long FileOffset);

/// <summary>A piece of one BO inside a chunk: BO bytes [BoOffset, BoOffset+Length) go to chunk bytes [ChunkOffset, ...).</summary>
public readonly record struct BoPiece(int BoIndex, ulong BoOffset, int Length, int ChunkOffset);

/// <summary>
/// One unit of copy work: a contiguous range of a page file and the BO pieces that fill it.
/// A large BO yields many chunks (spread across workers); consecutive small BOs share one chunk (one write).
/// </summary>
public sealed record CopyChunk(long FileOffset, int Length, IReadOnlyList<BoPiece> Pieces, int FileIndex = 0);

public static class CopyPlanner
{
    /// <summary>
    /// Splits the extents into chunks of at most <paramref name="chunkSize"/> bytes. Extents must be in file order and
    /// contiguous where a chunk is to span them; a gap in the file starts a new chunk.
    /// </summary>
    public static IReadOnlyList<CopyChunk> Plan(IEnumerable<BoExtent> extents, int chunkSize, int fileIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(chunkSize, 0);
        var chunks = new List<CopyChunk>();
        var pieces = new List<BoPiece>();
        long chunkStart = 0;
        var chunkLength = 0;

        void Flush()
        {
            if (chunkLength == 0) return;
            chunks.Add(new CopyChunk(chunkStart, chunkLength, pieces.ToArray(), fileIndex));
            pieces.Clear();
            chunkLength = 0;
        }

        foreach (var bo in extents)
        {
            if (bo.Size == 0) continue;
            if (chunkLength > 0 && chunkStart + chunkLength != bo.FileOffset) Flush();
            ulong done = 0;
            while (done < bo.Size)
            {
                if (chunkLength == 0) chunkStart = bo.FileOffset + (long)done;
                var room = chunkSize - chunkLength;
                var take = (int)Math.Min((ulong)room, bo.Size - done);
                pieces.Add(new BoPiece(bo.BoIndex, done, take, chunkLength));
                chunkLength += take;
                done += (ulong)take;
                if (chunkLength == chunkSize) Flush();
            }
        }
        Flush();
        return chunks;
    }

    /// <summary>Lays BOs out back to back from <paramref name="start"/>, in the given order (the page file's bucket order).</summary>
    public static IReadOnlyList<BoExtent> Layout(IEnumerable<(int BoIndex, ulong Size)> bos, long start = 0)
    {
        var offset = start;
        var result = new List<BoExtent>();
        foreach (var (index, size) in bos)
        {
            result.Add(new BoExtent(index, size, offset));
            offset = checked(offset + (long)size);
        }
        return result;
    }
}
