using Gpuckpt.Simulator.Memory;
using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Simulator.Model;

/// <summary>One simulated GPU: its KFD properties, its memory file and the copy delay tests inject.</summary>
internal sealed class SimGpu(GpuNode node, GpuMemory memory) : IDisposable
{
    public GpuNode Node { get; } = node;
    public GpuMemory Memory { get; } = memory;
    public uint Id => Node.GpuId;
    public uint Minor => Node.DrmRenderMinor;

    /// <summary>Microseconds each MiB read or written through a mapping of this GPU's BOs takes.</summary>
    public uint CopyDelayMicrosPerMiB { get; set; }

    public override string ToString() => $"gpu 0x{Id:x} (renderD{Minor})";

    public void Dispose() => Memory.Dispose();
}
