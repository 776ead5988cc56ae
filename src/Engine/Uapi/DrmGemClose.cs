using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_gem_close</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmGemClose
{
    public uint handle;
    public uint pad;
}
