namespace Gpuckpt.Engine.Uapi;

/// <summary>Values of the KFD topology files in sysfs (linux/kfd_sysfs.h) the engine reads.</summary>
public static class KfdSysfs
{
    /// <summary>HSA_CAP_* bits of a node's capability property.</summary>
    public const uint CapDoorbellTypeMask = 0x00003000, CapAqlQueueDoubleMap = 0x00004000, CapSvmApiSupported = 0x08000000;

    /// <summary>HSA_MEM_HEAP_TYPE_* of a mem_banks entry: the frame buffer, CPU visible (public) or not.</summary>
    public const uint HeapTypeFrameBufferPublic = 1, HeapTypeFrameBufferPrivate = 2;
}
