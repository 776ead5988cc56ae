/*
 * The part of mainline Linux's render-node interface (include/uapi/drm/amdgpu_drm.h and drm/drm.h) that gpuckpt
 * uses, declared here because Debian 12's headers (6.1, libdrm 2.4.114) predate GEM_LIST_HANDLES, GET_MAPPING_INFO,
 * GEM_CHANGE_HANDLE and the grown gem_va and gem_op. Layouts and numbers as mainline defines them; a spec checks
 * that every member the installed amdgpu_drm.h also has sits at the same offset.
 */
#ifndef GPUCKPT_AMDGPU_DRM_MAINLINE_H
#define GPUCKPT_AMDGPU_DRM_MAINLINE_H

#include <linux/types.h>
#include <drm/drm.h>

#ifdef __AMDGPU_DRM_H__
#error "include either the installed amdgpu_drm.h or this mainline declaration, not both"
#endif

/* drm/drm.h: move a GEM object to a chosen handle. */
#ifndef DRM_IOCTL_GEM_CHANGE_HANDLE
struct drm_gem_change_handle {
	__u32 handle;
	__u32 new_handle;
};
#define DRM_IOCTL_GEM_CHANGE_HANDLE DRM_IOWR(0xD2, struct drm_gem_change_handle)
#endif

#define DRM_AMDGPU_GEM_CREATE       0x00
#define DRM_AMDGPU_GEM_MMAP         0x01
#define DRM_AMDGPU_GEM_VA           0x08
#define DRM_AMDGPU_GEM_OP           0x10
#define DRM_AMDGPU_GEM_LIST_HANDLES 0x19

#define AMDGPU_GEM_DOMAIN_CPU  0x1
#define AMDGPU_GEM_DOMAIN_GTT  0x2
#define AMDGPU_GEM_DOMAIN_VRAM 0x4
#define AMDGPU_GEM_DOMAIN_GDS  0x8
#define AMDGPU_GEM_DOMAIN_GWS  0x10
#define AMDGPU_GEM_DOMAIN_OA   0x20

struct drm_amdgpu_gem_create_in {
	__u64 bo_size;
	__u64 alignment;
	__u64 domains;
	__u64 domain_flags;
};

struct drm_amdgpu_gem_create_out {
	__u32 handle;
	__u32 _pad;
};

union drm_amdgpu_gem_create {
	struct drm_amdgpu_gem_create_in in;
	struct drm_amdgpu_gem_create_out out;
};

struct drm_amdgpu_gem_mmap_in {
	__u32 handle;
	__u32 _pad;
};

struct drm_amdgpu_gem_mmap_out {
	__u64 addr_ptr;
};

union drm_amdgpu_gem_mmap {
	struct drm_amdgpu_gem_mmap_in in;
	struct drm_amdgpu_gem_mmap_out out;
};

#define AMDGPU_GEM_OP_GET_GEM_CREATE_INFO 0
#define AMDGPU_GEM_OP_SET_PLACEMENT       1
#define AMDGPU_GEM_OP_GET_MAPPING_INFO    2

/* One VM mapping; address and size in bytes (the proposal's vm bucket counted pages). */
struct drm_amdgpu_gem_vm_entry {
	__u64 addr;
	__u64 size;
	__u64 offset;
	__u64 flags;
};

/* Grown by num_entries for GET_MAPPING_INFO, where value points to the entries. */
struct drm_amdgpu_gem_op {
	__u32 handle;
	__u32 op;
	__u64 value;
	__u32 num_entries;
	__u32 padding;
};

#define AMDGPU_GEM_LIST_HANDLES_FLAG_IS_IMPORT (1 << 0)

struct drm_amdgpu_gem_list_handles {
	__u64 entries;
	__u32 num_entries;
	__u32 padding;
};

/* 40 bytes; the proposal's CRIU_BO_INFO under the same request number had 32-byte entries. */
struct drm_amdgpu_gem_list_handles_entry {
	__u32 gem_handle;
	__u32 flags;
	__u64 size;
	__u64 preferred_domains;
	__u64 alloc_flags;
	__u64 alignment;
};

#define AMDGPU_VA_OP_MAP     1
#define AMDGPU_VA_OP_UNMAP   2
#define AMDGPU_VA_OP_CLEAR   3
#define AMDGPU_VA_OP_REPLACE 4

#define AMDGPU_VM_PAGE_READABLE   (1 << 1)
#define AMDGPU_VM_PAGE_WRITEABLE  (1 << 2)
#define AMDGPU_VM_PAGE_EXECUTABLE (1 << 3)
#define AMDGPU_VM_PAGE_PRT        (1 << 4)

/* Grown by a VM timeline syncobj and input fence syncobjs after the 40 bytes older kernels know. */
struct drm_amdgpu_gem_va {
	__u32 handle;
	__u32 _pad;
	__u32 operation;
	__u32 flags;
	__u64 va_address;
	__u64 offset_in_bo;
	__u64 map_size;
	__u64 vm_timeline_point;
	__u32 vm_timeline_syncobj_out;
	__u32 num_syncobj_handles;
	__u64 input_fence_syncobj_handles;
};

/* Command submission: a context, chunks (an IB on a ring, the BOs it uses), and the wait for its fence. */
#define DRM_AMDGPU_CTX     0x02
#define DRM_AMDGPU_CS      0x04
#define DRM_AMDGPU_WAIT_CS 0x09

#define AMDGPU_GEM_CREATE_CPU_ACCESS_REQUIRED (1 << 0)
#define AMDGPU_GEM_CREATE_NO_CPU_ACCESS       (1 << 1)

#define AMDGPU_CTX_OP_ALLOC_CTX 1
#define AMDGPU_CTX_OP_FREE_CTX  2

#define AMDGPU_HW_IP_DMA 2

#define AMDGPU_CHUNK_ID_IB         0x01
#define AMDGPU_CHUNK_ID_BO_HANDLES 0x06

struct drm_amdgpu_ctx_in {
	__u32 op;
	__u32 flags;
	__u32 ctx_id;
	__s32 priority;
};

union drm_amdgpu_ctx_out {
	struct {
		__u32 ctx_id;
		__u32 _pad;
	} alloc;
	struct {
		__u64 flags;
		__u32 hangs;
		__u32 reset_status;
	} state;
	struct {
		__u32 flags;
		__u32 _pad;
	} pstate;
};

union drm_amdgpu_ctx {
	struct drm_amdgpu_ctx_in in;
	union drm_amdgpu_ctx_out out;
};

struct drm_amdgpu_bo_list_entry {
	__u32 bo_handle;
	__u32 bo_priority;
};

struct drm_amdgpu_bo_list_in {
	__u32 operation;
	__u32 list_handle;
	__u32 bo_number;
	__u32 bo_info_size;
	__u64 bo_info_ptr;
};

struct drm_amdgpu_cs_chunk {
	__u32 chunk_id;
	__u32 length_dw;
	__u64 chunk_data;
};

struct drm_amdgpu_cs_in {
	__u32 ctx_id;
	__u32 bo_list_handle;
	__u32 num_chunks;
	__u32 flags;
	__u64 chunks;
};

struct drm_amdgpu_cs_out {
	__u64 handle;
};

union drm_amdgpu_cs {
	struct drm_amdgpu_cs_in in;
	struct drm_amdgpu_cs_out out;
};

struct drm_amdgpu_cs_chunk_ib {
	__u32 _pad;
	__u32 flags;
	__u64 va_start;
	__u32 ib_bytes;
	__u32 ip_type;
	__u32 ip_instance;
	__u32 ring;
};

struct drm_amdgpu_wait_cs_in {
	__u64 handle;
	__u64 timeout;
	__u32 ip_type;
	__u32 ip_instance;
	__u32 ring;
	__u32 ctx_id;
};

struct drm_amdgpu_wait_cs_out {
	__u64 status;
};

union drm_amdgpu_wait_cs {
	struct drm_amdgpu_wait_cs_in in;
	struct drm_amdgpu_wait_cs_out out;
};

#define DRM_IOCTL_AMDGPU_CTX              DRM_IOWR(DRM_COMMAND_BASE + DRM_AMDGPU_CTX, union drm_amdgpu_ctx)
#define DRM_IOCTL_AMDGPU_CS               DRM_IOWR(DRM_COMMAND_BASE + DRM_AMDGPU_CS, union drm_amdgpu_cs)
#define DRM_IOCTL_AMDGPU_WAIT_CS          DRM_IOWR(DRM_COMMAND_BASE + DRM_AMDGPU_WAIT_CS, union drm_amdgpu_wait_cs)

#define DRM_IOCTL_AMDGPU_GEM_CREATE       DRM_IOWR(DRM_COMMAND_BASE + DRM_AMDGPU_GEM_CREATE, union drm_amdgpu_gem_create)
#define DRM_IOCTL_AMDGPU_GEM_MMAP         DRM_IOWR(DRM_COMMAND_BASE + DRM_AMDGPU_GEM_MMAP, union drm_amdgpu_gem_mmap)
#define DRM_IOCTL_AMDGPU_GEM_VA           DRM_IOW(DRM_COMMAND_BASE + DRM_AMDGPU_GEM_VA, struct drm_amdgpu_gem_va)
#define DRM_IOCTL_AMDGPU_GEM_OP           DRM_IOWR(DRM_COMMAND_BASE + DRM_AMDGPU_GEM_OP, struct drm_amdgpu_gem_op)
#define DRM_IOCTL_AMDGPU_GEM_LIST_HANDLES DRM_IOWR(DRM_COMMAND_BASE + DRM_AMDGPU_GEM_LIST_HANDLES, struct drm_amdgpu_gem_list_handles)

#endif
