using Gpuckpt.Engine.Copy;
using Gpuckpt.Engine.Images.Proto;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>Everything a checkpoint learned from the driver before copying contents: the image's metadata and copy plan.</summary>
public sealed record CapturedProcess(
    uint Pid,
    IReadOnlyList<GpuNode> Gpus,
    CriuKfd Kfd,
    IReadOnlyList<CriuRenderNode> RenderNodes,
    IReadOnlyList<ResolvedImport> Links,
    IReadOnlyList<DeviceContents> Devices)
{
    public long ContentBytes => Devices.Sum(d => d.Bytes);
    public int BoCount => Kfd.BoEntries.Count + RenderNodes.Sum(n => n.BoEntries.Count);
}
