using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary>
/// <c>struct drm_amdgpu_gem_op</c> as mainline has it. For AMDGPU_GEM_OP_GET_MAPPING_INFO, value points to an array of
/// <see cref="DrmAmdgpuGemVmEntry"/>; num_entries in: its length, out: the BO's mapping count (retry when larger).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuGemOp
{
    public uint handle;
    public uint op;
    public ulong value;
    public uint num_entries;
    public uint padding;
}
