using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_criu_bo_info_args</c> (CRIU_BO_INFO, v9 of the series seed 003 belongs to).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuBoInfoArgs
{
    public ulong bo_buckets;
    public uint num_bos;
    public uint padding;
}
