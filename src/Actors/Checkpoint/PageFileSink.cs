using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Actors.Checkpoint;

/// <summary>A page file of the image as the destination of checkpointed chunks.</summary>
internal sealed class PageFileSink(PageFile file) : IChunkSink
{
    public ulong Write(long offset, ReadOnlySpan<byte> data) => file.Write(offset, data);
}
