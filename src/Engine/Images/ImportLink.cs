using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Images;

/// <summary>
/// Render BO <see cref="GemHandle"/> of the render node whose image id is <see cref="RenderNodeId"/> (its
/// <c>amdgpu-renderD-&lt;id&gt;.img</c>) was imported from a dmabuf another BO exported. For a KFD exporter
/// <see cref="ExporterAddr"/> is set; for a render exporter <see cref="ExporterRenderNodeId"/> and
/// <see cref="ExporterHandle"/> are.
/// </summary>
public sealed record ImportLink(
    int RenderNodeId,
    uint GemHandle,
    ExporterKind ExporterKind,
    uint ExporterGpuId,
    ulong? ExporterAddr = null,
    int? ExporterRenderNodeId = null,
    uint? ExporterHandle = null) : ImageLink
{
    public static ImportLink FromKfd(int renderNodeId, uint gemHandle, uint exporterGpuId, ulong exporterAddr) =>
        new(renderNodeId, gemHandle, ExporterKind.Kfd, exporterGpuId, ExporterAddr: exporterAddr);

    public static ImportLink FromRender(int renderNodeId, uint gemHandle, uint exporterGpuId, int exporterRenderNodeId, uint exporterHandle) =>
        new(renderNodeId, gemHandle, ExporterKind.Render, exporterGpuId, ExporterRenderNodeId: exporterRenderNodeId, ExporterHandle: exporterHandle);
}
