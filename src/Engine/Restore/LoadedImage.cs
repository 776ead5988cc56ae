using Gpuckpt.Engine.Checkpoint;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Restore;

/// <summary>A committed, verified image's metadata, as the restore needs it.</summary>
public sealed record LoadedImage(ImageReader Reader, CriuKfd Kfd, IReadOnlyList<CriuRenderNode> RenderNodes, IReadOnlyList<ImportLink> Imports)
{
    public string Directory => Reader.Directory;

    /// <summary>The device entries of the image's GPUs (the CPU nodes' entries left out).</summary>
    public IReadOnlyList<KfdDeviceEntry> GpuEntries => [.. Kfd.DeviceEntries.Where(e => !e.IsCpu())];

    /// <summary>The image's GPUs, each under the gpu id the process knows it by.</summary>
    public IReadOnlyList<GpuNode> Gpus => [.. GpuEntries.Select(DeviceEntries.ToGpuNode)];

    public static LoadedImage Load(ImageReader reader)
    {
        var kfdFile = ImageFileName.Kfd(ImageIds.Kfd);
        if (!reader.Contains(kfdFile)) throw new ImageException(kfdFile, null, "missing from the image");
        var kfd = reader.Read(kfdFile, CriuKfd.Parser);
        var nodes = reader.FilesOf(ImageFileKind.RenderNode)
            .Select(f => (File: f, Node: reader.Read(f, CriuRenderNode.Parser)))
            .OrderBy(n => n.Node.Id)
            .ToList();
        var dmabufs = reader.FilesOf(ImageFileKind.Dmabuf).Select(f => (f, reader.Read(f, CriuDmabufNode.Parser))).ToList();
        // A reader opened from a verify holds the very messages that verify checked these rules on.
        if (!reader.Verified) ImageConsistency.Check(reader.Manifest, kfd, nodes, dmabufs);
        var imports = reader.Manifest.Links.OfType<ImportLink>().ToList();
        return new LoadedImage(reader, kfd, [.. nodes.Select(n => n.Node)], imports);
    }
}
