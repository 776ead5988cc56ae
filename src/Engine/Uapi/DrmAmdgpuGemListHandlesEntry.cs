using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

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
