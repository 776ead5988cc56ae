namespace Gpuckpt.Engine.Copy;

/// <summary>Where checkpointed chunks go: a page file's positional, checksummed writer.</summary>
public interface IChunkSink
{
    /// <summary>Writes the chunk and returns its checksum (xxHash64), which the job journals.</summary>
    ulong Write(long offset, ReadOnlySpan<byte> data);
}
