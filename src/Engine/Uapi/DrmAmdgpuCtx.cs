using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary>
/// <c>union drm_amdgpu_ctx</c>: <c>in</c> (op, flags, ctx_id, priority) and, over it, <c>out.alloc.ctx_id</c> at offset 0
/// (the id ALLOC_CTX answers comes back in <see cref="op"/>'s place).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCtx
{
    public uint op;
    public uint flags;
    public uint ctx_id;
    public int priority;

    /// <summary><c>out.alloc.ctx_id</c>, the context ALLOC_CTX made.</summary>
    public readonly uint AllocatedCtxId => op;
}
