using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Actors.Restore;

/// <summary>A page file of the image as the source of restored chunks, checksums checked as they stream.</summary>
internal sealed class PageFileSource(PageFileReader file) : IChunkSource
{
    public void ReadVerified(long offset, Span<byte> destination) => file.ReadVerified(offset, destination);
}
