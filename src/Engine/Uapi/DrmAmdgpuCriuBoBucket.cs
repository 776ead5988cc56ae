using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_criu_bo_bucket</c> (CRIU_BO_INFO v9): 32 bytes, where mainline's list entry has 40.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuBoBucket
{
    public ulong size;
    public ulong alloc_flags;
    public uint preferred_domains;
    public uint flags;
    public uint gem_handle;
    public uint padding;
}
