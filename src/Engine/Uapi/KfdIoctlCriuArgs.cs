using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

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
