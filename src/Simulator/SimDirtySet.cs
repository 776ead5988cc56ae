namespace Gpuckpt.Simulator;

/// <summary>
/// What a process's workload wrote since a tick of the simulator's write clock, read without pausing the process (the
/// dirty tracking pre-copy needs). A BO's memory counts once however many handles share it: imports are not listed.
/// </summary>
/// <param name="Clock">The write clock when the set was taken: the <c>since</c> of the next round.</param>
/// <param name="Bos">The BOs with contents written after <c>since</c> (every BO for <c>since</c> 0).</param>
/// <param name="DirtyBytes">Their bytes.</param>
/// <param name="TotalBytes">The bytes of all the process's BOs with memory.</param>
public sealed record SimDirtySet(ulong Clock, IReadOnlyList<SimDirtyBo> Bos, ulong DirtyBytes, ulong TotalBytes);
