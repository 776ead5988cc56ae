using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_criu_mapping_info_args</c> (seed 003).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuMappingInfoArgs
{
    public uint gem_handle;
    public uint num_mappings;
    public ulong vm_buckets;
}
