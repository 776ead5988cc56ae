using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gpuckpt.Simulator.Workloads;

/// <summary>A render-node BO: created (domain vram or gtt, size) or an import of "kfd:N" / "render:N".</summary>
public sealed record RenderBoSpec
{
    public int Gpu { get; init; }
    public string Domain { get; init; } = "vram";
    public ulong Size { get; init; } = 4096;
    public string? Import { get; init; }

    /// <summary>
    /// Which of the process's render files of that GPU holds the BO: 0, the file KFD uses, or 1, 2, … for files it opened
    /// besides (each its own GEM handles and VM, so handles repeat between them).
    /// </summary>
    public int File { get; init; }

    /// <summary>Created with AMDGPU_GEM_CREATE_NO_CPU_ACCESS (VRAM only): the CPU may not map it, only the copy engine reaches it.</summary>
    public bool NoCpuAccess { get; init; }

    /// <summary>The GEM_CREATE alignment in bytes (0: none asked).</summary>
    public ulong Alignment { get; init; }

    public List<MappingSpec> Mappings { get; init; } = [];
}
