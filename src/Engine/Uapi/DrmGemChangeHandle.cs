using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_gem_change_handle</c>: moves a GEM object to a chosen, unused handle (restore keeps original handles).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmGemChangeHandle
{
    public uint handle;
    public uint new_handle;
}
