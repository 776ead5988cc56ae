/*
 * Design history: the render-node CRIU interfaces the seed documents proposed and Linux did not merge, declared
 * from the seed documents and the patch series. gpuckpt never issues them; the ABI catalog keeps their layouts.
 */
#ifndef GPUCKPT_AMDGPU_CRIU_PROPOSALS_H
#define GPUCKPT_AMDGPU_CRIU_PROPOSALS_H

#include <linux/types.h>
#include <drm/drm.h>

/* Seed 000: one CRIU op ioctl on the render node. */
#ifndef DRM_IOCTL_AMDGPU_CRIU_OP
enum drm_amdgpu_criu_op {
	AMDGPU_CRIU_OP_PROCESS_INFO,
	AMDGPU_CRIU_OP_CHECKPOINT,
	AMDGPU_CRIU_OP_UNPAUSE,
	AMDGPU_CRIU_OP_RESTORE,
	AMDGPU_CRIU_OP_RESTORE_RETRY,
	AMDGPU_CRIU_OP_RESUME,
};

struct drm_amdgpu_criu_args {
	__u64 bos;
	__u64 priv_data;
	__u64 priv_data_size;
	__u32 num_bos;
	__u32 num_objs;
	__u32 pid;
	__u32 op;
};

#define AMDGPU_CRIU_BO_FLAG_SKIP (1 << 1)

/* Seed 000's drm_amdgpu_criu_bo_bucket; renamed because the later series reuses the tag. */
struct drm_amdgpu_criu_op_bo_bucket {
	__u64 addr;
	__u64 size;
	__u64 offset;
	__u64 restored_offset;
	__u64 alloc_flags;
	__u32 preferred_domains;
	__u32 dmabuf_fd;
	__u32 flags;
};

struct drm_amdgpu_criu_bo_priv_data {
	__u32 idr_handle;
};

struct drm_amdgpu_criu_vm_mapping_priv_data {
	__u64 start;
	__u64 last;
	__u64 offset;
	__u64 flags;
	__u32 idr_handle;
};

#define DRM_AMDGPU_CRIU_OP 0x19
#define DRM_IOCTL_AMDGPU_CRIU_OP DRM_IOWR(DRM_COMMAND_BASE + DRM_AMDGPU_CRIU_OP, struct drm_amdgpu_criu_args)
#endif

/* The per-object series (v9): BO_INFO and MAPPING_INFO, restore through GEM_CREATE / PRIME_FD_TO_HANDLE / GEM_VA. */
#ifndef DRM_IOCTL_AMDGPU_CRIU_BO_INFO
#define AMDGPU_CRIU_BO_FLAG_IS_IMPORT (1 << 0)

struct drm_amdgpu_criu_bo_info_args {
	__u64 bo_buckets;
	__u32 num_bos;
	__u32 padding;
};

struct drm_amdgpu_criu_bo_bucket {
	__u64 size;
	__u64 alloc_flags;
	__u32 preferred_domains;
	__u32 flags;
	__u32 gem_handle;
	__u32 padding;
};

struct drm_amdgpu_criu_mapping_info_args {
	__u32 gem_handle;
	__u32 num_mappings;
	__u64 vm_buckets;
};

struct drm_amdgpu_criu_vm_bucket {
	__u64 start;
	__u64 last;
	__u64 offset;
	__u64 flags;
};

#define DRM_AMDGPU_CRIU_BO_INFO 0x19
#define DRM_AMDGPU_CRIU_MAPPING_INFO 0x20
#define DRM_IOCTL_AMDGPU_CRIU_BO_INFO DRM_IOWR(DRM_COMMAND_BASE + DRM_AMDGPU_CRIU_BO_INFO, struct drm_amdgpu_criu_bo_info_args)
#define DRM_IOCTL_AMDGPU_CRIU_MAPPING_INFO DRM_IOWR(DRM_COMMAND_BASE + DRM_AMDGPU_CRIU_MAPPING_INFO, struct drm_amdgpu_criu_mapping_info_args)
#endif

#endif
