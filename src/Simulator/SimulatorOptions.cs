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
}
