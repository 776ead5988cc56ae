using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gpuckpt.Simulator.Workloads;

/// <summary>A KFD BO: domain vram, gtt, userptr, doorbell or mmio; writable BOs with memory are mixed by the program.</summary>
public sealed record KfdBoSpec
{
    public int Gpu { get; init; }
    public string Domain { get; init; } = "vram";
    public ulong Size { get; init; } = 4096;
    public bool Writable { get; init; } = true;
    public bool Executable { get; init; }

    /// <summary>
    /// A VRAM BO the CPU may map (KFD_IOC_ALLOC_MEM_FLAGS_PUBLIC); without it KFD allocates the BO with
    /// AMDGPU_GEM_CREATE_NO_CPU_ACCESS and only the GPU (its copy engine) reaches its bytes.
    /// </summary>
    public bool Public { get; init; } = true;
}
