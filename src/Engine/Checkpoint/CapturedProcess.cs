using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>
/// Everything a checkpoint learned from the driver before copying contents: the image's metadata and copy plan, and
/// the process's render files, held open until the copy is done (a BO maps only through the file holding its handle).
/// </summary>
public sealed record CapturedProcess(
    uint Pid,
    IReadOnlyList<GpuNode> Gpus,
    CriuKfd Kfd,
    IReadOnlyList<CriuRenderNode> RenderNodes,
    IReadOnlyList<ResolvedImport> Links,
    IReadOnlyList<DeviceContents> Devices,
    IReadOnlyList<IRenderNode> OpenRenderFiles) : IDisposable
{
    /// <summary>The dmabuf fds of the BOs the copy engine moves, closed with the render files.</summary>
    public HeldFds? HeldDmabufs { get; init; }

    public long ContentBytes => Devices.Sum(d => d.Bytes);

    /// <summary>The manifest's list of the BOs the copy engine moved (<see cref="ManifestExtra.CopyEngineBos"/>), in copy-plan order.</summary>
    public string CopyEngineKeys() =>
        string.Join(",", Devices.SelectMany(d => d.Bos).Where(b => b.Path == BoCopyPath.CopyEngine).Select(b => b.ImageKey).Distinct());
    public int BoCount => Kfd.BoEntries.Count + RenderNodes.Sum(n => n.BoEntries.Count);

    /// <summary>The import links as manifest.json records them, by render node image id and GEM handle.</summary>
    public IReadOnlyList<ImageLink> ImageLinks() =>
    [
        .. Links.Select(link => link.Exporter switch
        {
            Exporter.Kfd k => (ImageLink)ImportLink.FromKfd(ImageIds.RenderNode(link.NodeIndex), link.Handle, k.GpuId, k.Addr),
            Exporter.Render r => ImportLink.FromRender(ImageIds.RenderNode(link.NodeIndex), link.Handle, r.GpuId, ImageIds.RenderNode(r.NodeIndex), r.Handle),
            _ => throw new InvalidOperationException($"unknown exporter {link.Exporter}"),
        }),
    ];

    /// <summary>Closes the render files once no chunk is copied any more.</summary>
    public void Dispose()
    {
        foreach (var file in OpenRenderFiles) file.Dispose();
        HeldDmabufs?.Dispose();
    }
}
