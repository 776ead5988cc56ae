using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

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
