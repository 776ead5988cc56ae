namespace Gpuckpt.Engine.Images;

/// <summary>What an image holds, for people (a table) and machines (JSON). Built by <see cref="ImageInspector"/>.</summary>
/// <param name="PackedBytes">Contents this image holds packed with LZ4 (<c>checkpoint --compress</c>), and <paramref name="PackedStoredBytes"/> the blocks they are held in.</param>
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
    long ReferencedBytes = 0,
    long PackedBytes = 0,
    long PackedStoredBytes = 0);
