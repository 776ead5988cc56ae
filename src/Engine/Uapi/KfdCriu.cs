using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

/// <summary><c>enum kfd_criu_op</c>.</summary>
public enum KfdCriuOp : uint
{
    ProcessInfo = 0,
    Checkpoint = 1,
    Unpause = 2,
    Restore = 3,
    Resume = 4,
}

/// <summary><c>struct kfd_ioctl_criu_args</c> (AMDKFD_IOC_CRIU_OP).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KfdIoctlCriuArgs
{
    public ulong devices;
    public ulong bos;
    public ulong priv_data;
    public ulong priv_data_size;
    public uint num_devices;
    public uint num_bos;
    public uint num_objects;
    public uint pid;
    public uint op;
}

/// <summary><c>struct kfd_criu_device_bucket</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KfdCriuDeviceBucket
{
    public uint user_gpu_id;
    public uint actual_gpu_id;
    public uint drm_fd;
    public uint pad;
}

/// <summary><c>struct kfd_criu_bo_bucket</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KfdCriuBoBucket
{
    public ulong addr;
    public ulong size;
    public ulong offset;
    public ulong restored_offset;
    public uint gpu_id;
    public uint alloc_flags;
    public uint dmabuf_fd;
    public uint pad;
}

/// <summary><c>struct kfd_ioctl_get_version_args</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KfdIoctlGetVersionArgs
{
    public uint major_version;
    public uint minor_version;
}
