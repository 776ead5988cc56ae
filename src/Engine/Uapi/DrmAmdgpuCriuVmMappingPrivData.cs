using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_criu_vm_mapping_priv_data</c> (seed 000).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuVmMappingPrivData
{
    public ulong start;
    public ulong last;
    public ulong offset;
    public ulong flags;
    public uint idr_handle;
}
