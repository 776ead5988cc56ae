using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Images;

/// <summary>What a writer knows before the first file: the image's id, its source and the source machine's GPUs.</summary>
/// <param name="Parent">The parent image whose equal chunks the new image references instead of writing; null: a whole image.</param>
public sealed record ImageHeader(string ImageId, ImageSource Source, IReadOnlyList<GpuNode> Topology, string? Parent = null)
{
    public static ImageHeader New(ImageSource source, IReadOnlyList<GpuNode> topology) =>
        new(Guid.NewGuid().ToString("N"), source, topology);
}
