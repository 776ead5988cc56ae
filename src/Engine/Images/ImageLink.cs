using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Images;

/// <summary>A relation between objects in different files of an image, recorded by the engine at checkpoint.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(ImportLink), "import")]
public abstract record ImageLink;

/// <summary>Which side exported the dmabuf that a render-node BO imports.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ExporterKind>))]
public enum ExporterKind
{
    /// <summary>A KFD BO, found by its GPU and its GPU virtual address.</summary>
    [JsonStringEnumMemberName("kfd")]
    Kfd,

    /// <summary>A render-node BO, found by its render node's image id and its GEM handle.</summary>
    [JsonStringEnumMemberName("render")]
    Render,
}

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
