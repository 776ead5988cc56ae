using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct kfd_ioctl_get_version_args</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KfdIoctlGetVersionArgs
{
    public uint major_version;
    public uint minor_version;
}
