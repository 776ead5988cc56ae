namespace Gpuckpt.Engine.Copy;

/// <summary>How a BO's bytes move: through a CPU mapping of its render node, or with the GPU's copy engine (SDMA).</summary>
public enum BoCopyPath
{
    /// <summary>A host-visible BO (GTT, or VRAM allocated PUBLIC on a large-BAR device): mmap of the render node.</summary>
    Cpu,

    /// <summary>VRAM the CPU may not or cannot reach well: SDMA copies it to and from system memory.</summary>
    CopyEngine,
}
