using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary>amdgpu GEM constants from drm/amdgpu_drm.h and drm/drm.h.</summary>
public static class AmdgpuGem
{
    public const uint DomainCpu = 0x1, DomainGtt = 0x2, DomainVram = 0x4, DomainGds = 0x8, DomainGws = 0x10, DomainOa = 0x20;
    public const uint VaOpMap = 1, VaOpUnmap = 2, VaOpClear = 3, VaOpReplace = 4;
    public const uint VmPageReadable = 1u << 1, VmPageWriteable = 1u << 2, VmPageExecutable = 1u << 3, VmPagePrt = 1u << 4;
    public const uint GemOpGetGemCreateInfo = 0, GemOpSetPlacement = 1, GemOpGetMappingInfo = 2;

    /// <summary>
    /// GEM_CREATE's alignment (bytes) for the alignment GEM_LIST_HANDLES reported (the BO's page_alignment: pages of the
    /// kernel's PAGE_SIZE, this machine's page size).
    /// </summary>
    public static ulong AlignmentBytes(ulong pages, string bo)
    {
        var page = (ulong)Environment.SystemPageSize;
        return pages <= ulong.MaxValue / page
            ? pages * page
            : throw new Devices.DriverException(Devices.Errno.EINVAL, "GEM_CREATE", bo, $"alignment {pages} pages", "the image's alignment overflows 64 bits in bytes");
    }
    /// <summary>GEM_CREATE domain_flags: AMDGPU_GEM_CREATE_CPU_ACCESS_REQUIRED and AMDGPU_GEM_CREATE_NO_CPU_ACCESS (no CPU mapping: mmap and GEM_MMAP get EPERM).</summary>
    public const ulong CreateCpuAccessRequired = 1UL << 0, CreateNoCpuAccess = 1UL << 1;
    public const uint ListHandlesFlagIsImport = 1u << 0;
    public const ulong GpuPageSize = 4096;
    public const uint DrmCloexec = 0x80000, DrmRdwr = 0x2;
}
