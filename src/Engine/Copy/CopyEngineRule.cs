using Gpuckpt.Engine.Topology;
using Gpuckpt.Engine.Uapi;

namespace Gpuckpt.Engine.Copy;

/// <summary>
/// Which BOs the GPU's copy engine moves: the CPU path only for VRAM the CPU may map (KFD's PUBLIC; a render BO created
/// without AMDGPU_GEM_CREATE_NO_CPU_ACCESS) on a device whose whole VRAM is host-visible (large BAR: its frame buffer
/// heap is FB_PUBLIC). Any other VRAM BO is refused to mmap (EPERM) or sits behind a small BAR window. GTT is system memory.
/// </summary>
public static class CopyEngineRule
{
    public static bool ForKfd(KfdAllocFlags flags, GpuNode gpu) =>
        (flags & KfdAllocFlags.Vram) != 0 && ((flags & KfdAllocFlags.Public) == 0 || gpu.VramPublic == 0);

    public static bool ForRender(ulong preferredDomains, ulong allocFlags, GpuNode gpu) =>
        (preferredDomains & AmdgpuGem.DomainVram) != 0 && ((allocFlags & AmdgpuGem.CreateNoCpuAccess) != 0 || gpu.VramPublic == 0);
}
