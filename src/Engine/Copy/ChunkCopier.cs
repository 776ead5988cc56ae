namespace Gpuckpt.Engine.Copy;

/// <summary>Where checkpointed chunks go: a page file's positional, checksummed writer.</summary>
public interface IChunkSink
{
    /// <summary>Writes the chunk and returns its checksum (xxHash64), which the job journals.</summary>
    ulong Write(long offset, ReadOnlySpan<byte> data);
}

/// <summary>Where restored chunks come from: a page file's positional reader that checks checksums as it streams.</summary>
public interface IChunkSource
{
    void ReadVerified(long offset, Span<byte> destination);
}

/// <summary>Moves one chunk between BO mappings and a page file through one pooled buffer.</summary>
public static class ChunkCopier
{
    public static async Task<ulong> SaveAsync(CopyChunk chunk, BoMappingTable mappings, IReadOnlyList<IChunkSink> files, ChunkPool pool, CancellationToken ct = default)
    {
        using var lease = await pool.RentAsync(ct).ConfigureAwait(false);
        try
        {
            return Save(chunk, mappings, files[chunk.FileIndex], lease.Buffer);
        }
        finally
        {
            mappings.Release(chunk);
        }
    }

    public static async Task<ulong> RestoreAsync(CopyChunk chunk, BoMappingTable mappings, IReadOnlyList<IChunkSource> files, ChunkPool pool, CancellationToken ct = default)
    {
        using var lease = await pool.RentAsync(ct).ConfigureAwait(false);
        try
        {
            Restore(chunk, mappings, files[chunk.FileIndex], lease.Buffer);
            return 0;
        }
        finally
        {
            mappings.Release(chunk);
        }
    }

    private static ulong Save(CopyChunk chunk, BoMappingTable mappings, IChunkSink sink, byte[] buffer)
    {
        var span = buffer.AsSpan(0, chunk.Length);
        foreach (var piece in chunk.Pieces)
            mappings.Get(piece.BoIndex).Read(piece.BoOffset, span.Slice(piece.ChunkOffset, piece.Length));
        return sink.Write(chunk.FileOffset, span);
    }

    private static void Restore(CopyChunk chunk, BoMappingTable mappings, IChunkSource source, byte[] buffer)
    {
        var span = buffer.AsSpan(0, chunk.Length);
        source.ReadVerified(chunk.FileOffset, span);
        foreach (var piece in chunk.Pieces)
            mappings.Get(piece.BoIndex).Write(piece.BoOffset, span.Slice(piece.ChunkOffset, piece.Length));
    }
}
