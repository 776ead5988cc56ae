using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_gem_vm_entry</c>: one VM mapping of a BO, address and size in bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuGemVmEntry
{
    public ulong addr;
    public ulong size;
    public ulong offset;
    public ulong flags;
}
