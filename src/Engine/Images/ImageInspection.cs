namespace Gpuckpt.Engine.Images;

/// <summary>What an image holds, for people (a table) and machines (JSON). Built by <see cref="ImageInspector"/>.</summary>
public sealed record ImageInspection(
    string Directory,
    string ImageId,
    string State,
    string? FailureReason,
    int FormatVersion,
    string ToolVersion,
    DateTimeOffset Created,
    DateTimeOffset? Finished,
    ImageSource Source,
    IReadOnlyList<InspectedDevice> Devices,
    IReadOnlyList<InspectedKfdBo> KfdBos,
    IReadOnlyList<InspectedRenderNode> RenderNodes,
    IReadOnlyList<InspectedDmabuf> Dmabufs,
    IReadOnlyList<ImageLink> Links,
    IReadOnlyList<InspectedFile> Files,
    IReadOnlyDictionary<string, string> Extra,
    IReadOnlyList<string> Problems,
    ImageParent? Parent = null,
    long ReferencedBytes = 0);

/// <summary>One GPU of the source, with how many KFD BOs the image holds for it and how many bytes of contents.</summary>
public sealed record InspectedDevice(
    uint GpuId, uint NodeId, uint VendorId, uint DeviceId, uint RenderMinor, ulong HiveId, uint SimdCount, ulong VramSize,
    int KfdBos, ulong ContentBytes, string? PagesFile);

/// <summary>One KFD BO; PagesOffset is where its contents start in its GPU's pages file (null: no contents).</summary>
public sealed record InspectedKfdBo(
    int Index, uint GpuId, string Domain, ulong Addr, ulong Size, ulong Offset, uint Handle, uint AllocFlags, long? PagesOffset);

public sealed record InspectedRenderNode(int Id, uint GpuId, uint Minor, string File, IReadOnlyList<InspectedRenderBo> Bos);

/// <summary>One render-node BO with its GPU VA mappings, its contents file or, for an import, where it came from.</summary>
public sealed record InspectedRenderBo(
    int Index, uint Handle, string Domains, ulong Addr, ulong Size, ulong AllocFlags, ulong Alignment, bool IsImport,
    IReadOnlyList<InspectedMapping> Mappings, string? PagesFile, string? ImportedFrom);

public sealed record InspectedMapping(ulong Addr, ulong Size, ulong Offset, ulong Flags);

public sealed record InspectedDmabuf(int Id, uint GemHandle, string File);

public sealed record InspectedFile(string Name, string Kind, long Size, int Segments, bool Present);
