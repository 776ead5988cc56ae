/* The wire between gpuckpt_bridge.so and the gpuckpt engine (src/Engine/Bridge/BridgeProtocol.cs mirrors it). */
#ifndef GPUCKPT_BRIDGE_PROTOCOL_H
#define GPUCKPT_BRIDGE_PROTOCOL_H

#include <stdint.h>

#define BRIDGE_PROTOCOL_VERSION 1u
#define BRIDGE_MAGIC 0x52424347u /* "GCBR" little-endian */

/* A SOCK_SEQPACKET packet: this header, then up to BRIDGE_MAX_PAYLOAD bytes; fds ride as SCM_RIGHTS. */
#define BRIDGE_MAX_PAYLOAD (32u * 1024u)
/* The kernel's SCM_MAX_FD: one sendmsg carries at most this many fds. */
#define BRIDGE_MAX_FDS 253u
/* A message longer than one packet continues in packets flagged MORE, fds spread over them. */
#define BRIDGE_FLAG_MORE 1u

struct bridge_packet_header {
	uint32_t magic;
	uint16_t type;
	uint16_t flags;
	uint32_t length;
	uint32_t nfds;
};

enum bridge_type {
	BRIDGE_HELLO = 1,   /* bridge -> engine: struct bridge_hello */
	BRIDGE_HOOK = 2,    /* bridge -> engine: struct bridge_hook, then a path; fd of DUMP_EXT_FILE */
	BRIDGE_REPLY = 3,   /* engine -> bridge: struct bridge_reply, then a message for CRIU's log */
	BRIDGE_OPEN = 4,    /* engine -> bridge: struct bridge_open, then a path */
	BRIDGE_TAKE = 5,    /* engine -> bridge: struct bridge_take */
	BRIDGE_KFD_OP = 6,  /* engine -> bridge: struct bridge_kfd_op, then devices, bos, priv data */
	BRIDGE_CLOSE = 7,   /* engine -> bridge: struct bridge_close */
	BRIDGE_RESULT = 8,  /* bridge -> engine: struct bridge_result, then the op's buffers (OPEN: the fd's int32 number there); fds */
};

/* The hook numbers on the wire: CRIU's, plus the plugin's init and exit. */
#define BRIDGE_HOOK_INIT 100u
#define BRIDGE_HOOK_EXIT 101u

struct bridge_hello {
	uint32_t protocol;
	uint32_t stage;
	int32_t criu_pid;
	uint32_t pad;
	uint64_t hooks; /* bit n: CRIU hook n is registered by this build */
};

struct bridge_hook {
	uint32_t hook;
	int32_t pid;
	int32_t id;
	int32_t stage;
	int32_t ret;
	uint32_t path_length;
	uint64_t addr;
	uint64_t pgoff;
};

struct bridge_reply {
	int32_t rc;   /* what the hook returns to CRIU */
	int32_t slot; /* UPDATE_VMA_MAP: the slot whose fd CRIU maps; else -1 */
	uint64_t value; /* UPDATE_VMA_MAP: the new page offset */
	uint32_t message_length;
	uint32_t pad;
};

struct bridge_open {
	int32_t flags;
	uint32_t path_length;
};

struct bridge_take {
	int32_t pid;
	int32_t fd;
};

struct bridge_kfd_op {
	int32_t slot;
	uint32_t pad;
	uint8_t args[56]; /* struct kfd_ioctl_criu_args; its pointers are set by the bridge */
	uint64_t devices_length;
	uint64_t bos_length;
	uint64_t priv_length;
};

struct bridge_close {
	int32_t slot;
	uint32_t pad;
};

struct bridge_result {
	int32_t error; /* 0 or an errno */
	int32_t slot;  /* OPEN and TAKE: the slot that holds the fd; else -1 */
	uint64_t body_length;
};

#endif
