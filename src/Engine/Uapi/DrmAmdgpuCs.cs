using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary>
/// <c>union drm_amdgpu_cs</c>: <c>in</c> names the context and points at an array of chunk pointers; <c>out.handle</c>
/// (the submission's sequence number, offset 0) is what WAIT_CS waits on.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCs
{
    public uint ctx_id;
    public uint bo_list_handle;
    public uint num_chunks;
    public uint flags;
    public ulong chunks;

    /// <summary><c>out.handle</c>, over ctx_id and bo_list_handle.</summary>
    public readonly ulong Handle => ctx_id | (ulong)bo_list_handle << 32;
}
