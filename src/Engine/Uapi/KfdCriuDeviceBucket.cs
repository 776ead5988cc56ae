using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>struct kfd_criu_device_bucket</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KfdCriuDeviceBucket
{
    public uint user_gpu_id;
    public uint actual_gpu_id;
    public uint drm_fd;
    public uint pad;
}
