using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

// Design history: the amdgpu render-node CRIU interfaces proposed in the seed documents, which Linux did not merge.
// Mainline has GEM_LIST_HANDLES, GEM_OP(GET_MAPPING_INFO) and GEM_CHANGE_HANDLE instead (AmdgpuGem.cs). The ABI
// catalog keeps these layouts, proven against their declarations, so the difference stays visible: BO_INFO has the
// request number of GEM_LIST_HANDLES but 32-byte entries. The engine never issues them.

/// <summary><c>enum drm_amdgpu_criu_op</c> (proposal of seed 000).</summary>
public enum DrmAmdgpuCriuOp : uint
{
    ProcessInfo = 0,
    Checkpoint = 1,
    Unpause = 2,
    Restore = 3,
    RestoreRetry = 4,
    Resume = 5,
}

/// <summary><c>struct drm_amdgpu_criu_args</c> (seed 000).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuArgs
{
    public ulong bos;
    public ulong priv_data;
    public ulong priv_data_size;
    public uint num_bos;
    public uint num_objs;
    public uint pid;
    public uint op;
}

/// <summary><c>struct drm_amdgpu_criu_bo_bucket</c> as declared in seed 000 (single restore ioctl design).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuOpBoBucket
{
    public ulong addr;
    public ulong size;
    public ulong offset;
    public ulong restored_offset;
    public ulong alloc_flags;
    public uint preferred_domains;
    public uint dmabuf_fd;
    public uint flags;
}

/// <summary><c>struct drm_amdgpu_criu_bo_priv_data</c> (seed 000).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuBoPrivData
{
    public uint idr_handle;
}

/// <summary><c>struct drm_amdgpu_criu_vm_mapping_priv_data</c> (seed 000).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuVmMappingPrivData
{
    public ulong start;
    public ulong last;
    public ulong offset;
    public ulong flags;
    public uint idr_handle;
}

/// <summary><c>struct drm_amdgpu_criu_bo_info_args</c> (CRIU_BO_INFO, v9 of the series seed 003 belongs to).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuBoInfoArgs
{
    public ulong bo_buckets;
    public uint num_bos;
    public uint padding;
}

/// <summary><c>struct drm_amdgpu_criu_bo_bucket</c> (CRIU_BO_INFO v9): 32 bytes, where mainline's list entry has 40.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuBoBucket
{
    public ulong size;
    public ulong alloc_flags;
    public uint preferred_domains;
    public uint flags;
    public uint gem_handle;
    public uint padding;
}

/// <summary><c>struct drm_amdgpu_criu_mapping_info_args</c> (seed 003).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuMappingInfoArgs
{
    public uint gem_handle;
    public uint num_mappings;
    public ulong vm_buckets;
}

/// <summary><c>struct drm_amdgpu_criu_vm_bucket</c> (seed 003): start and last in GPU pages, where mainline reports bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuVmBucket
{
    public ulong start;
    public ulong last;
    public ulong offset;
    public ulong flags;
}

/// <summary>The proposals' flags and request numbers.</summary>
public static class AmdgpuCriuProposals
{
    public const uint BoFlagIsImport = 1u << 0;
    public const uint BoFlagSkip = 1u << 1;

    /// <summary>Seed 000's single CRIU op.</summary>
    public static readonly uint CriuOp = IoctlNumber.Iowr<DrmAmdgpuCriuArgs>(DrmIoctls.Base, DrmIoctls.CommandBase + 0x19);

    /// <summary>The v9 series' BO_INFO: the same number as mainline's GEM_LIST_HANDLES (equal 16-byte argument struct).</summary>
    public static readonly uint CriuBoInfo = IoctlNumber.Iowr<DrmAmdgpuCriuBoInfoArgs>(DrmIoctls.Base, DrmIoctls.CommandBase + 0x19);

    public static readonly uint CriuMappingInfo = IoctlNumber.Iowr<DrmAmdgpuCriuMappingInfoArgs>(DrmIoctls.Base, DrmIoctls.CommandBase + 0x20);
}
