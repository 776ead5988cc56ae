using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_amdgpu_bo_list_in</c>: the data of a BO_HANDLES chunk, <c>bo_number</c> entries at <c>bo_info_ptr</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuBoListIn
{
    public uint operation;
    public uint list_handle;
    public uint bo_number;
    public uint bo_info_size;
    public ulong bo_info_ptr;
}
