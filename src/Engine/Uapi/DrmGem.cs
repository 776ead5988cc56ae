using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_gem_close</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmGemClose
{
    public uint handle;
    public uint pad;
}

/// <summary><c>struct drm_gem_change_handle</c>: moves a GEM object to a chosen, unused handle (restore keeps original handles).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmGemChangeHandle
{
    public uint handle;
    public uint new_handle;
}

/// <summary><c>struct drm_prime_handle</c> (PRIME_HANDLE_TO_FD / PRIME_FD_TO_HANDLE).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmPrimeHandle
{
    public uint handle;
    public uint flags;
    public int fd;
}
