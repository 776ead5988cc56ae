using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_gem_close</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmGemClose
{
    public uint handle;
    public uint pad;
}

/// <summary><c>struct drm_gem_change_handle</c>: moves a GEM object to a chosen handle (restore keeps original handles).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmGemChangeHandle
{
    public uint handle;
    public uint new_handle;
}

/// <summary><c>struct drm_prime_handle</c> (PRIME_HANDLE_TO_FD / PRIME_FD_TO_HANDLE).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmPrimeHandle
{
    public uint handle;
    public uint flags;
    public int fd;
}

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

/// <summary><c>struct drm_amdgpu_gem_va</c>.</summary>
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
}

/// <summary><c>struct drm_amdgpu_gem_op</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuGemOp
{
    public uint handle;
    public uint op;
    public ulong value;
}

public static class AmdgpuGem
{
    public const uint DomainCpu = 0x1, DomainGtt = 0x2, DomainVram = 0x4, DomainGds = 0x8, DomainGws = 0x10, DomainOa = 0x20;
    public const uint VaOpMap = 1, VaOpUnmap = 2, VaOpClear = 3, VaOpReplace = 4;
    public const uint VmPageReadable = 1u << 1, VmPageWriteable = 1u << 2, VmPageExecutable = 1u << 3, VmPagePrt = 1u << 4;
    public const uint GemOpGetGemCreateInfo = 0, GemOpSetPlacement = 1;
    public const ulong GpuPageSize = 4096;
    public const uint DrmCloexec = 0x80000, DrmRdwr = 0x2;
}
