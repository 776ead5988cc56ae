using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_cs_chunk_ib</c>: an indirect buffer at a GPU VA of the submitting file's VM, for one ring.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCsChunkIb
{
    public uint _pad;
    public uint flags;
    public ulong va_start;
    public uint ib_bytes;
    public uint ip_type;
    public uint ip_instance;
    public uint ring;
}
