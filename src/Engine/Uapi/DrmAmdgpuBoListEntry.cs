using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_bo_list_entry</c>: a GEM handle a submission uses, kept resident while it runs.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuBoListEntry
{
    public uint bo_handle;
    public uint bo_priority;
}
