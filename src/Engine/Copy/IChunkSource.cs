namespace Gpuckpt.Engine.Copy;

/// <summary>Where restored chunks come from: a page file's positional reader that checks checksums as it streams.</summary>
public interface IChunkSource
{
    void ReadVerified(long offset, Span<byte> destination);

    /// <summary>
    /// Reads <paramref name="buffer"/>.Length bytes at <paramref name="offset"/> and hands them to
    /// <paramref name="consume"/> in order. A source may hand over pieces straight from where it read them, skipping
    /// <paramref name="buffer"/>, before the checksum of their segment is known: until this returns, what
    /// <paramref name="consume"/> got is unverified, and an exception means it must not be used.
    /// </summary>
    void ReadVerified(long offset, Span<byte> buffer, ChunkConsumer consume)
    {
        ReadVerified(offset, buffer);
        consume(0, buffer);
    }

    /// <summary>Bytes read from the file so far (a restore reads each content byte once).</summary>
    long BytesRead { get; }
}
