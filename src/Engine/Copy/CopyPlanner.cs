namespace Gpuckpt.Engine.Copy;

public static class CopyPlanner
{
    /// <summary>
    /// Splits the extents into chunks of at most <paramref name="chunkSize"/> bytes. BOs that fit in what is left of the
    /// current chunk join it whole; a BO that does not starts a chunk of its own, and one larger than a chunk is cut into
    /// chunk-size slices, its last slice alone. So every BO lies wholly in one chunk or owns all of its chunks. Extents
    /// must be in file order and contiguous where a chunk is to span them; a gap in the file starts a new chunk.
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
            if (chunkLength > 0 && (chunkStart + chunkLength != bo.FileOffset || bo.Size > (ulong)(chunkSize - chunkLength))) Flush();
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
            if (bo.Size > (ulong)chunkSize) Flush();
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
