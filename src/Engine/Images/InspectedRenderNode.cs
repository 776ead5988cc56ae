namespace Gpuckpt.Engine.Images;

public sealed record InspectedRenderNode(int Id, uint GpuId, uint Minor, string File, IReadOnlyList<InspectedRenderBo> Bos);
