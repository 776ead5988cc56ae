using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>union drm_amdgpu_gem_mmap</c>: in.handle, out.addr_ptr (the fake mmap offset).</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct DrmAmdgpuGemMmap
{
    [FieldOffset(0)] public uint handle;
    [FieldOffset(4)] public uint _pad;
    [FieldOffset(0)] public ulong addr_ptr;
}
