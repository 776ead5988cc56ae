namespace Gpuckpt.Engine.Copy;

/// <summary>Where restored chunks come from: a page file's positional reader that checks checksums as it streams.</summary>
public interface IChunkSource
{
    void ReadVerified(long offset, Span<byte> destination);

    /// <summary>Bytes read from the file so far (a restore reads each content byte once).</summary>
    long BytesRead { get; }
}
