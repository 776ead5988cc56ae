using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_criu_bo_bucket</c> as declared in seed 000 (single restore ioctl design).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuOpBoBucket
{
    public ulong addr;
    public ulong size;
    public ulong offset;
    public ulong restored_offset;
    public ulong alloc_flags;
    public uint preferred_domains;
    public uint dmabuf_fd;
    public uint flags;
}
