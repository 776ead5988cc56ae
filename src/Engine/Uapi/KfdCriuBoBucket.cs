using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

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
