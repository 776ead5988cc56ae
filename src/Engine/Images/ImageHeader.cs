using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Images;

/// <summary>What a writer knows before the first file: the image's id, its source and the source machine's GPUs.</summary>
public sealed record ImageHeader(string ImageId, ImageSource Source, IReadOnlyList<GpuNode> Topology)
{
    public static ImageHeader New(ImageSource source, IReadOnlyList<GpuNode> topology) =>
        new(Guid.NewGuid().ToString("N"), source, topology);
}
