using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_criu_vm_bucket</c> (seed 003): start and last in GPU pages, where mainline reports bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuVmBucket
{
    public ulong start;
    public ulong last;
    public ulong offset;
    public ulong flags;
}
