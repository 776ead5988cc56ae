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
}
