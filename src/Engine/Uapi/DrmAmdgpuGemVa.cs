using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

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
