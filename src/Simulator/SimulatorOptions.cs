using Gpuckpt.Engine.Topology;

namespace Gpuckpt.Simulator;

/// <summary>
/// How to host a simulated driver: its socket, its GPUs (a topology, or <see cref="Gpus"/> generated from
/// <see cref="IdSeed"/>) and where BO memory files live (default: a fresh directory under /dev/shm).
/// </summary>
public sealed record SimulatorOptions(string SocketPath)
{
    public GpuTopology? Topology { get; init; }
    public int Gpus { get; init; } = 2;
    public uint IdSeed { get; init; }
    public string? MemoryDir { get; init; }

    /// <summary>
    /// Every GPU has a small BAR: its frame buffer heap is FB_PRIVATE (vram_public 0), so the CPU reaches only a window
    /// of VRAM and a checkpoint moves every VRAM BO with the copy engine. Default: large BAR (FB_PUBLIC).
    /// </summary>
    public bool SmallBar { get; init; }

    /// <summary>
    /// Bytes of each GPU's VRAM made resident at start (zeros written in the background; at most
    /// <see cref="Memory.GpuMemory.ResidentCap"/>), as a GPU's VRAM is present from power-on: the first BOs placed there
    /// take no fresh memory. Default 0: VRAM is fresh memory until a BO first frees it.
    /// </summary>
    public ulong ResidentVram { get; init; }

    /// <summary>The most <see cref="ResidentVram"/> a GPU takes (the most freed VRAM it keeps resident).</summary>
    public const ulong MaxResidentVram = Memory.GpuMemory.ResidentCap;
}
