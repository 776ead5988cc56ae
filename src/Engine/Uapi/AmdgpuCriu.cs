using System.Runtime.InteropServices;

namespace Gpuckpt.Engine.Uapi;

// The amdgpu render-node CRIU proposals, as declared in the seed documents (not yet in released headers).

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

/// <summary><c>struct drm_amdgpu_criu_bo_info_args</c> (CRIU_BO_INFO, v9 of the series seed 003 belongs to: explicit padding).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuBoInfoArgs
{
    /// <summary>User pointer to an array of drm_amdgpu_criu_bo_bucket.</summary>
    public ulong bo_buckets;
    /// <summary>In: size of the bo_buckets array. Out: BOs in the process (retry when larger).</summary>
    public uint num_bos;
    public uint padding;
}

/// <summary><c>struct drm_amdgpu_criu_bo_bucket</c> (CRIU_BO_INFO v9: one entry per GEM handle; the mmap offset comes from GEM_MMAP).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuBoBucket
{
    public ulong size;
    /// <summary>The GEM_CREATE flags to recreate the BO with.</summary>
    public ulong alloc_flags;
    public uint preferred_domains;
    /// <summary>AMDGPU_CRIU_BO_FLAG_IS_IMPORT.</summary>
    public uint flags;
    public uint gem_handle;
    public uint padding;
}

/// <summary><c>struct drm_amdgpu_criu_mapping_info_args</c> (seed 003).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuMappingInfoArgs
{
    public uint gem_handle;
    /// <summary>In: size of vm_buckets. Out: mappings of the BO (retry when larger).</summary>
    public uint num_mappings;
    public ulong vm_buckets;
}

/// <summary><c>struct drm_amdgpu_criu_vm_bucket</c> (seed 003): start and last in GPU pages.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DrmAmdgpuCriuVmBucket
{
    public ulong start;
    public ulong last;
    public ulong offset;
    public ulong flags;
}

public static class AmdgpuCriuFlags
{
    public const uint BoIsImport = 1u << 0;
    public const uint BoSkip = 1u << 1;
}
