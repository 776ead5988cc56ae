using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct drm_prime_handle</c> (PRIME_HANDLE_TO_FD / PRIME_FD_TO_HANDLE).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmPrimeHandle
{
    public uint handle;
    public uint flags;
    public int fd;
}
