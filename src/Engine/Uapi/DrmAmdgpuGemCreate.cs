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
