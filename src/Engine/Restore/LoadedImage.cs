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
            .Select(f => reader.Read(f, CriuRenderNode.Parser))
            .OrderBy(n => n.Id)
            .ToList();
        var imports = reader.Manifest.Links.OfType<ImportLink>().ToList();
        Check(kfd, nodes, kfdFile);
        return new LoadedImage(reader, kfd, nodes, imports);
    }

    /// <summary>Cross-file consistency: every BO is on a GPU of the image, every render node on one of its GPUs.</summary>
    private static void Check(CriuKfd kfd, IReadOnlyList<CriuRenderNode> nodes, string kfdFile)
    {
        var gpus = kfd.DeviceEntries.Where(e => !e.IsCpu()).Select(d => d.GpuId).ToHashSet();
        if ((ulong)kfd.BoEntries.Count != kfd.NumOfBos)
            throw new ImageException(kfdFile, null, $"num_of_bos is {kfd.NumOfBos} but {kfd.BoEntries.Count} BO entries follow");
        for (var i = 0; i < kfd.BoEntries.Count; i++)
            if (!gpus.Contains(kfd.BoEntries[i].GpuId))
                throw new ImageException(kfdFile, null, $"BO #{i} is on GPU 0x{kfd.BoEntries[i].GpuId:x}, which the image has no device entry for");
        foreach (var node in nodes.Where(n => !gpus.Contains(n.GpuId)))
            throw new ImageException(ImageFileName.RenderNode((int)node.Id), null, $"render node of GPU 0x{node.GpuId:x}, which the image has no device entry for");
    }
}
