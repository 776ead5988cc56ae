using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary>
/// <c>union drm_amdgpu_wait_cs</c>: <c>in</c> names the submission (handle, ring, context) and an absolute timeout;
/// <c>out.status</c> (offset 0, over handle) is 0 once it completed, 1 while it is still busy.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuWaitCs
{
    public ulong handle;
    public ulong timeout;
    public uint ip_type;
    public uint ip_instance;
    public uint ring;
    public uint ctx_id;

    /// <summary><c>out.status</c>.</summary>
    public readonly ulong Status => handle;
}
