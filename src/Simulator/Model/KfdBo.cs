using Gpuckpt.Simulator.Memory;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Simulator.Model;

/// <summary>A BO allocated through KFD at a GPU virtual address. VRAM and GTT BOs have memory; the others do not.</summary>
internal sealed class KfdBo(SimGpu gpu, ulong addr, ulong size, KfdAllocFlags flags, SimBuffer? buffer, ulong offset)
{
    public SimGpu Gpu { get; } = gpu;
    public ulong Addr { get; } = addr;
    public ulong Size { get; } = size;
    public KfdAllocFlags Flags { get; } = flags;
    public SimBuffer? Buffer { get; } = buffer;

    /// <summary>The mmap offset: the buffer's place in the memory file, or a doorbell/MMIO/userptr cookie.</summary>
    public ulong Offset { get; } = buffer?.Offset ?? offset;

    public override string ToString() => $"KFD BO 0x{Addr:x} ({Size} bytes) on {Gpu}";
}
