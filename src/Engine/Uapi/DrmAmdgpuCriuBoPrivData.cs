using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_criu_bo_priv_data</c> (seed 000).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuBoPrivData
{
    public uint idr_handle;
}
