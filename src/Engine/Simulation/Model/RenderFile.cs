namespace Gpuckpt.Engine.Simulation.Model;

/// <summary>A process's open render node: its GEM handle table and its GPU VM.</summary>
internal sealed class RenderFile(SimGpu gpu)
{
    public SimGpu Gpu { get; } = gpu;
    public SortedDictionary<uint, RenderBo> Handles { get; } = new();

    /// <summary>The lowest free handle, as the kernel's idr hands them out.</summary>
    public uint NextHandle()
    {
        uint h = 1;
        while (Handles.ContainsKey(h)) h++;
        return h;
    }

    public RenderBo? Overlapping(VmMapping m) =>
        Handles.Values.FirstOrDefault(bo => bo.Mappings.Any(x => x.Overlaps(m)));
}
