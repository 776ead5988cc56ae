namespace Gpuckpt.Simulator.Workloads;

internal enum BoKind : uint
{
    Kfd = 1,
    Render = 2,
}

/// <summary>
/// A BO by the identity that survives checkpoint/restore: KFD BO = user gpu id + GPU VA; render BO = user gpu id of
/// its node + GEM handle. Never an actual gpu id, a minor or an mmap offset.
/// </summary>
internal readonly record struct BoRef(BoKind Kind, uint UserGpuId, ulong Key)
{
    public override string ToString() => Kind == BoKind.Kfd
        ? $"KFD BO at 0x{Key:x} on user gpu 0x{UserGpuId:x}"
        : $"render BO handle {Key} on the node of user gpu 0x{UserGpuId:x}";
}

/// <summary>One line of the workload program: the target is mixed with each input, in order, every step.</summary>
internal sealed record ProgramLink(BoRef Target, IReadOnlyList<BoRef> Inputs);
