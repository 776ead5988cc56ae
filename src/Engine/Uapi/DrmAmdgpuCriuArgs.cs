using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_criu_args</c> (seed 000).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuArgs
{
    public ulong bos;
    public ulong priv_data;
    public ulong priv_data_size;
    public uint num_bos;
    public uint num_objs;
    public uint pid;
    public uint op;
}
