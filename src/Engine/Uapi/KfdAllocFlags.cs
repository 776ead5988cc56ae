namespace Gpuckpt.Engine.Uapi;

/// <summary>KFD_IOC_ALLOC_MEM_FLAGS_* from kfd_ioctl.h.</summary>
[Flags]
public enum KfdAllocFlags : uint
{
    None = 0,
    Vram = 1u << 0,
    Gtt = 1u << 1,
    Userptr = 1u << 2,
    Doorbell = 1u << 3,
    MmioRemap = 1u << 4,
    Uncached = 1u << 25,
    Coherent = 1u << 26,
    AqlQueueMem = 1u << 27,
    NoSubstitute = 1u << 28,
    Public = 1u << 29,
    Executable = 1u << 30,
    Writable = 1u << 31,
}
