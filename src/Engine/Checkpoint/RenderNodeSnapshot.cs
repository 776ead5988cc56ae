using Gpuckpt.Engine.Devices;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Checkpoint;

/// <summary>Every GEM object a process has on one render node.</summary>
public sealed record RenderNodeSnapshot(uint Minor, uint GpuId, IReadOnlyList<RenderBo> Bos);
