using Gpuckpt.Simulator.Memory;

namespace Gpuckpt.Simulator.Model;

/// <summary>A GEM handle on a render node: created there, or imported from a dmabuf (sharing the exporter's memory).</summary>
internal sealed class RenderBo(uint handle, SimBuffer buffer, bool isImport)
{
    public uint Handle { get; set; } = handle;
    public SimBuffer Buffer { get; } = buffer;
    public bool IsImport { get; } = isImport;
    public List<VmMapping> Mappings { get; } = [];
}
