using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>union drm_amdgpu_gem_create</c>: the in part, with the out handle overlaid on its start.</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public struct DrmAmdgpuGemCreate
{
    [FieldOffset(0)] public ulong bo_size;
    [FieldOffset(8)] public ulong alignment;
    [FieldOffset(16)] public ulong domains;
    [FieldOffset(24)] public ulong domain_flags;
    /// <summary>out.handle</summary>
    [FieldOffset(0)] public uint handle;
}

/// <summary><c>union drm_amdgpu_gem_mmap</c>: in.handle, out.addr_ptr (the fake mmap offset).</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct DrmAmdgpuGemMmap
{
    [FieldOffset(0)] public uint handle;
    [FieldOffset(4)] public uint _pad;
    [FieldOffset(0)] public ulong addr_ptr;
}

/// <summary>
/// <c>struct drm_amdgpu_gem_va</c> as mainline has it: grown by a VM timeline syncobj and input fences. Older kernels
/// read only the first 40 bytes (DRM zero-extends or truncates by the size in the request number).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuGemVa
{
    public uint handle;
    public uint _pad;
    public uint operation;
    public uint flags;
    public ulong va_address;
    public ulong offset_in_bo;
    public ulong map_size;
    public ulong vm_timeline_point;
    public uint vm_timeline_syncobj_out;
    public uint num_syncobj_handles;
    public ulong input_fence_syncobj_handles;
}

/// <summary>
/// <c>struct drm_amdgpu_gem_op</c> as mainline has it. For AMDGPU_GEM_OP_GET_MAPPING_INFO, value points to an array of
/// <see cref="DrmAmdgpuGemVmEntry"/>; num_entries in: its length, out: the BO's mapping count (retry when larger).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuGemOp
{
    public uint handle;
    public uint op;
    public ulong value;
    public uint num_entries;
    public uint padding;
}

/// <summary><c>struct drm_amdgpu_gem_vm_entry</c>: one VM mapping of a BO, address and size in bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuGemVmEntry
{
    public ulong addr;
    public ulong size;
    public ulong offset;
    public ulong flags;
}

/// <summary>
/// <c>struct drm_amdgpu_gem_list_handles</c> (DRM_AMDGPU_GEM_LIST_HANDLES): entries points to an array of
/// <see cref="DrmAmdgpuGemListHandlesEntry"/>; num_entries in: its length, out: the file's handle count (retry when larger).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuGemListHandles
{
    public ulong entries;
    public uint num_entries;
    public uint padding;
}

/// <summary><c>struct drm_amdgpu_gem_list_handles_entry</c>: one GEM handle of the file, with what GEM_CREATE needs to remake it.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuGemListHandlesEntry
{
    public uint gem_handle;
    /// <summary>AMDGPU_GEM_LIST_HANDLES_FLAG_IS_IMPORT.</summary>
    public uint flags;
    public ulong size;
    public ulong preferred_domains;
    public ulong alloc_flags;
    /// <summary>The kernel's page_alignment of the BO (in pages, as the kernel keeps it).</summary>
    public ulong alignment;
}

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
    public const uint ListHandlesFlagIsImport = 1u << 0;
    public const ulong GpuPageSize = 4096;
    public const uint DrmCloexec = 0x80000, DrmRdwr = 0x2;
}
