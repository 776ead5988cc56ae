/*
 * gpuckpt_bridge.so: a CRIU plugin that hands each device hook to the gpuckpt engine over a Unix socket.
 * It holds no GPU logic. At each hook it sends the hook's arguments (and the fd CRIU gave it) to the engine, then
 * serves the engine's requests until the engine replies: open a file here, take a task's fd, issue a KFD CRIU op
 * here (KFD accepts them only from the target's ptrace parent, CRIU's main thread, or from inside a restored task).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/kfd_ioctl.h>

#include <criu-plugin.h>

#include "bridge_protocol.h"

/* CRIU's log (criu/include/criu-log.h): exported by the criu binary, which plugins run inside. */
extern void print_on_level(unsigned int loglevel, const char *format, ...) __attribute__((format(printf, 2, 3)));
#define BRIDGE_LOG_ERROR 1u
#define BRIDGE_LOG_INFO 3u
#define BRIDGE_LOG_DEBUG 4u

#define log_err(fmt, ...) print_on_level(BRIDGE_LOG_ERROR, "gpuckpt_bridge: " fmt "\n", ##__VA_ARGS__)
#define log_info(fmt, ...) print_on_level(BRIDGE_LOG_INFO, "gpuckpt_bridge: " fmt "\n", ##__VA_ARGS__)
#define log_debug(fmt, ...) print_on_level(BRIDGE_LOG_DEBUG, "gpuckpt_bridge: " fmt "\n", ##__VA_ARGS__)

_Static_assert(sizeof(struct kfd_ioctl_criu_args) == sizeof(((struct bridge_kfd_op *)0)->args),
	       "the wire carries struct kfd_ioctl_criu_args whole");

#define BRIDGE_SLOTS 256
#define KFD_NO_FD 0xffffffffu

static int engine = -1;
static pid_t engine_pid = -1;
static int engine_stage = -1;
static int slots[BRIDGE_SLOTS];
static bool slots_ready;
/* The slot whose KFD file a PROCESS_INFO paused and no UNPAUSE has released yet. */
static int paused_slot = -1;
static uint8_t packet[sizeof(struct bridge_packet_header) + BRIDGE_MAX_PAYLOAD];

struct message {
	uint16_t type;
	uint8_t *data;
	size_t length;
	int *fds;
	size_t nfds;
};

static void free_message(struct message *m)
{
	for (size_t i = 0; i < m->nfds; i++)
		close(m->fds[i]); /* the engine never sends fds: any that came are refused */
	free(m->data);
	free(m->fds);
	memset(m, 0, sizeof(*m));
}

static void init_slots(void)
{
	if (slots_ready)
		return;
	for (int i = 0; i < BRIDGE_SLOTS; i++)
		slots[i] = -1;
	slots_ready = true;
}

/*
 * In a task CRIU restores, CRIU puts the task's own fds at their old numbers and refuses a number already taken: the
 * bridge keeps its fds (socket, held files) at or above this floor, half the fd limit, below CRIU's service fds at its top.
 */
static int fd_floor;

static int above_floor(int fd)
{
	int moved;

	if (fd < 0 || fd >= fd_floor)
		return fd;
	moved = fcntl(fd, F_DUPFD_CLOEXEC, fd_floor);
	if (moved < 0) {
		log_err("moving fd %d to %d or above failed: errno %d (%s)", fd, fd_floor, errno, strerror(errno));
		return fd;
	}
	if (close(fd))
		log_err("close of fd %d after moving it to %d failed: errno %d (%s)", fd, moved, errno, strerror(errno));
	return moved;
}

static void set_fd_floor(void)
{
	struct rlimit r;

	fd_floor = 0;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY && r.rlim_cur >= 128)
		fd_floor = (int)(r.rlim_cur / 2);
}

static int add_slot(int fd)
{
	for (int i = 0; i < BRIDGE_SLOTS; i++) {
		if (slots[i] < 0) {
			slots[i] = fd;
			return i;
		}
	}
	return -1;
}

static bool valid_slot(int32_t slot)
{
	return slot >= 0 && slot < BRIDGE_SLOTS && slots[slot] >= 0;
}

/* Sends one message: its bytes gathered from parts, split into packets; fds at most BRIDGE_MAX_FDS a packet. */
static int send_message(uint16_t type, const struct iovec *parts, int nparts, const int *fds, size_t nfds)
{
	size_t total = 0, sent = 0, fds_sent = 0;
	int part = 0;
	size_t part_offset = 0;

	for (int i = 0; i < nparts; i++)
		total += parts[i].iov_len;
	do {
		struct bridge_packet_header h = { .magic = BRIDGE_MAGIC, .type = type };
		size_t n = total - sent < BRIDGE_MAX_PAYLOAD ? total - sent : BRIDGE_MAX_PAYLOAD;
		size_t k = nfds - fds_sent < BRIDGE_MAX_FDS ? nfds - fds_sent : BRIDGE_MAX_FDS;
		size_t filled = 0;
		union {
			char buf[CMSG_SPACE(sizeof(int) * BRIDGE_MAX_FDS)];
			struct cmsghdr align;
		} control;
		struct iovec iov;
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t rc;

		while (filled < n) {
			size_t take = parts[part].iov_len - part_offset;
			if (take > n - filled)
				take = n - filled;
			memcpy(packet + sizeof(h) + filled, (const uint8_t *)parts[part].iov_base + part_offset, take);
			filled += take;
			part_offset += take;
			if (part_offset == parts[part].iov_len) {
				part++;
				part_offset = 0;
			}
		}
		h.length = (uint32_t)n;
		h.nfds = (uint32_t)k;
		if (sent + n < total || fds_sent + k < nfds)
			h.flags = BRIDGE_FLAG_MORE;
		memcpy(packet, &h, sizeof(h));
		iov.iov_base = packet;
		iov.iov_len = sizeof(h) + n;
		if (k > 0) {
			struct cmsghdr *c;
			memset(&control, 0, sizeof(control));
			msg.msg_control = control.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * k);
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * k);
			memcpy(CMSG_DATA(c), fds + fds_sent, sizeof(int) * k);
		}
		do
			rc = sendmsg(engine, &msg, MSG_NOSIGNAL);
		while (rc < 0 && errno == EINTR);
		if (rc < 0) {
			log_err("sendmsg of message %u to the engine failed: errno %d (%s)", type, errno, strerror(errno));
			return -1;
		}
		sent += n;
		fds_sent += k;
	} while (sent < total || fds_sent < nfds);
	return 0;
}

/* Receives one message, packet by packet, until one without BRIDGE_FLAG_MORE. */
static int recv_message(struct message *m)
{
	memset(m, 0, sizeof(*m));
	for (;;) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * BRIDGE_MAX_FDS)];
			struct cmsghdr align;
		} control;
		struct iovec iov = { .iov_base = packet, .iov_len = sizeof(packet) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
				      .msg_controllen = sizeof(control.buf) };
		struct bridge_packet_header h;
		ssize_t rc;
		size_t got_fds = 0;
		uint8_t *grown;

		do
			rc = recvmsg(engine, &msg, MSG_CMSG_CLOEXEC);
		while (rc < 0 && errno == EINTR);
		if (rc <= 0) {
			if (rc == 0)
				log_err("the engine closed the bridge socket");
			else
				log_err("recvmsg from the engine failed: errno %d (%s)", errno, strerror(errno));
			goto fail;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				int *more = realloc(m->fds, (m->nfds + n) * sizeof(int));
				if (!more) {
					int *in = (int *)CMSG_DATA(c);
					for (size_t i = 0; i < n; i++)
						close(in[i]);
					log_err("out of memory for %zu received fds", n);
					goto fail;
				}
				m->fds = more;
				memcpy(m->fds + m->nfds, CMSG_DATA(c), n * sizeof(int));
				m->nfds += n;
				got_fds += n;
			}
		}
		if ((size_t)rc < sizeof(h) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
			log_err("a malformed packet from the engine (%zd bytes, flags 0x%x)", rc, (unsigned)msg.msg_flags);
			goto fail;
		}
		memcpy(&h, packet, sizeof(h));
		if (h.magic != BRIDGE_MAGIC || h.length != (size_t)rc - sizeof(h) || h.nfds != got_fds ||
		    (m->type && h.type != m->type)) {
			log_err("a packet from the engine that breaks the protocol (magic 0x%x type %u length %u fds %u/%zu)",
				h.magic, h.type, h.length, h.nfds, got_fds);
			goto fail;
		}
		m->type = h.type;
		grown = realloc(m->data, m->length + h.length + 1);
		if (!grown) {
			log_err("out of memory for a %u-byte packet", h.length);
			goto fail;
		}
		m->data = grown;
		memcpy(m->data + m->length, packet + sizeof(h), h.length);
		m->length += h.length;
		m->data[m->length] = 0;
		if (!(h.flags & BRIDGE_FLAG_MORE))
			return 0;
	}
fail:
	free_message(m);
	return -1;
}

static int send_result(int32_t error, int32_t slot, const struct iovec *body, int nbody, const int *fds, size_t nfds)
{
	struct bridge_result r = { .error = error, .slot = slot };
	struct iovec parts[5] = { { .iov_base = &r, .iov_len = sizeof(r) } };
	for (int i = 0; i < nbody; i++) {
		parts[1 + i] = body[i];
		r.body_length += body[i].iov_len;
	}
	return send_message(BRIDGE_RESULT, parts, 1 + nbody, fds, nfds);
}

static int serve_open(const struct message *m)
{
	struct bridge_open o;
	const char *path;
	int fd, slot;
	int32_t number;
	struct iovec body;

	if (m->length < sizeof(o))
		return send_result(EPROTO, -1, NULL, 0, NULL, 0);
	memcpy(&o, m->data, sizeof(o));
	if (o.path_length != m->length - sizeof(o) || o.path_length == 0)
		return send_result(EPROTO, -1, NULL, 0, NULL, 0);
	path = (const char *)m->data + sizeof(o);
	fd = above_floor(open(path, o.flags | O_CLOEXEC));
	if (fd < 0) {
		int e = errno;
		log_err("open %s (flags 0x%x) failed: errno %d (%s)", path, (unsigned)o.flags, e, strerror(e));
		return send_result(e, -1, NULL, 0, NULL, 0);
	}
	slot = add_slot(fd);
	if (slot < 0) {
		log_err("open %s: all %d slots hold fds", path, BRIDGE_SLOTS);
		close(fd);
		return send_result(EMFILE, -1, NULL, 0, NULL, 0);
	}
	/* The fd's number here: KFD RESTORE names each GPU's render file by it (kfd_criu_device_bucket.drm_fd). */
	number = fd;
	body = (struct iovec){ .iov_base = &number, .iov_len = sizeof(number) };
	return send_result(0, slot, &body, 1, &fd, 1);
}

static int serve_take(const struct message *m)
{
	struct bridge_take t;
	int pidfd, fd, slot, e;

	if (m->length != sizeof(t))
		return send_result(EPROTO, -1, NULL, 0, NULL, 0);
	memcpy(&t, m->data, sizeof(t));
	pidfd = (int)syscall(SYS_pidfd_open, t.pid, 0);
	if (pidfd < 0) {
		e = errno;
		log_err("pidfd_open of pid %d failed: errno %d (%s)", t.pid, e, strerror(e));
		return send_result(e, -1, NULL, 0, NULL, 0);
	}
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, t.fd, 0);
	e = errno;
	fd = above_floor(fd);
	if (close(pidfd))
		log_err("close of the pidfd of pid %d failed: errno %d (%s)", t.pid, errno, strerror(errno));
	if (fd < 0) {
		log_err("pidfd_getfd of fd %d of pid %d failed: errno %d (%s)", t.fd, t.pid, e, strerror(e));
		return send_result(e, -1, NULL, 0, NULL, 0);
	}
	slot = add_slot(fd);
	if (slot < 0) {
		log_err("fd %d of pid %d: all %d slots hold fds", t.fd, t.pid, BRIDGE_SLOTS);
		close(fd);
		return send_result(EMFILE, -1, NULL, 0, NULL, 0);
	}
	return send_result(0, slot, NULL, 0, &fd, 1);
}

static int serve_close(const struct message *m)
{
	struct bridge_close c;

	if (m->length != sizeof(c))
		return send_result(EPROTO, -1, NULL, 0, NULL, 0);
	memcpy(&c, m->data, sizeof(c));
	if (!valid_slot(c.slot))
		return send_result(EBADF, -1, NULL, 0, NULL, 0);
	if (c.slot == paused_slot) {
		log_err("the engine closes slot %d, whose KFD file is still paused", c.slot);
		return send_result(EBUSY, -1, NULL, 0, NULL, 0);
	}
	if (close(slots[c.slot])) {
		int e = errno;
		log_err("close of slot %d (fd %d) failed: errno %d (%s)", c.slot, slots[c.slot], e, strerror(e));
		slots[c.slot] = -1;
		return send_result(e, -1, NULL, 0, NULL, 0);
	}
	slots[c.slot] = -1;
	return send_result(0, -1, NULL, 0, NULL, 0);
}

/* AMDKFD_IOC_CRIU_OP on a slot's KFD file, from this thread; the dmabuf fds it returns go to the engine and are closed here. */
static int serve_kfd_op(const struct message *m)
{
	struct bridge_kfd_op op;
	struct kfd_ioctl_criu_args args;
	uint8_t *devices, *bos, *priv;
	struct iovec body[4];
	int *fds = NULL;
	size_t nfds = 0, nbos;
	int rc, error = 0, sent;

	if (m->length < sizeof(op))
		return send_result(EPROTO, -1, NULL, 0, NULL, 0);
	memcpy(&op, m->data, sizeof(op));
	if (op.devices_length % sizeof(struct kfd_criu_device_bucket) || op.bos_length % sizeof(struct kfd_criu_bo_bucket) ||
	    op.devices_length > m->length || op.bos_length > m->length || op.priv_length > m->length ||
	    sizeof(op) + op.devices_length + op.bos_length + op.priv_length != m->length)
		return send_result(EPROTO, -1, NULL, 0, NULL, 0);
	if (!valid_slot(op.slot)) {
		log_err("KFD CRIU op on slot %d, which holds no file", op.slot);
		return send_result(EBADF, -1, NULL, 0, NULL, 0);
	}
	memcpy(&args, op.args, sizeof(args));
	devices = m->data + sizeof(op);
	bos = devices + op.devices_length;
	priv = bos + op.bos_length;
	nbos = op.bos_length / sizeof(struct kfd_criu_bo_bucket);
	/* The kernel reads and writes as many entries as the counts say: never past what the engine sent. */
	if ((args.op == KFD_CRIU_OP_CHECKPOINT || args.op == KFD_CRIU_OP_RESTORE) &&
	    (args.num_devices > op.devices_length / sizeof(struct kfd_criu_device_bucket) || args.num_bos > nbos ||
	     args.priv_data_size > op.priv_length))
		return send_result(EINVAL, -1, NULL, 0, NULL, 0);
	args.devices = op.devices_length ? (uint64_t)(uintptr_t)devices : 0;
	args.bos = op.bos_length ? (uint64_t)(uintptr_t)bos : 0;
	args.priv_data = op.priv_length ? (uint64_t)(uintptr_t)priv : 0;
	rc = ioctl(slots[op.slot], AMDKFD_IOC_CRIU_OP, &args);
	if (rc < 0) {
		error = errno;
		log_err("AMDKFD_IOC_CRIU_OP op %u on slot %d (fd %d) failed: errno %d (%s)", args.op, op.slot, slots[op.slot],
			error, strerror(error));
	}
	if (!error && args.op == KFD_CRIU_OP_PROCESS_INFO)
		paused_slot = op.slot;
	if (args.op == KFD_CRIU_OP_UNPAUSE && (!error || error == EINVAL) && paused_slot == op.slot)
		paused_slot = -1;
	if (!error && (args.op == KFD_CRIU_OP_CHECKPOINT || args.op == KFD_CRIU_OP_RESTORE) && args.num_bos > 0) {
		fds = malloc(sizeof(int) * args.num_bos);
		if (!fds) {
			log_err("out of memory for %u dmabuf fds", args.num_bos);
			error = ENOMEM;
		}
		for (size_t i = 0; i < args.num_bos; i++) {
			struct kfd_criu_bo_bucket b;
			memcpy(&b, bos + i * sizeof(b), sizeof(b));
			if (b.dmabuf_fd == KFD_NO_FD)
				continue;
			if (fds)
				fds[nfds++] = (int)b.dmabuf_fd;
			else
				close((int)b.dmabuf_fd);
		}
	}
	args.devices = args.bos = args.priv_data = 0; /* this process's addresses mean nothing to the engine */
	body[0] = (struct iovec){ .iov_base = &args, .iov_len = sizeof(args) };
	body[1] = (struct iovec){ .iov_base = devices, .iov_len = op.devices_length };
	body[2] = (struct iovec){ .iov_base = bos, .iov_len = op.bos_length };
	body[3] = (struct iovec){ .iov_base = priv, .iov_len = op.priv_length };
	sent = send_result(error, -1, body, 4, fds, nfds);
	for (size_t i = 0; i < nfds; i++)
		if (close(fds[i]))
			log_err("close of dmabuf fd %d failed: errno %d (%s)", fds[i], errno, strerror(errno));
	free(fds);
	return sent;
}

/*
 * Sends one hook to the engine and serves its requests until it replies. Returns the engine's rc, or -ENOTCONN when
 * the engine is unreachable (then the dump or restore fails: a missing engine never leaves a half image).
 */
static int connect_engine(int stage);

static int hook_call(uint32_t hook, const struct bridge_hook *args, const char *path, int fd, struct bridge_reply *reply)
{
	struct bridge_hook h = *args;
	struct iovec parts[2] = { { .iov_base = &h, .iov_len = sizeof(h) } };
	int nparts = 1;

	memset(reply, 0, sizeof(*reply));
	reply->slot = -1;
	if (engine >= 0 && engine_pid != getpid()) {
		/* A task CRIU forked inherited the socket: its hooks get a connection of their own. */
		if (close(engine))
			log_err("close of the inherited bridge socket failed: errno %d (%s)", errno, strerror(errno));
		engine = -1;
		paused_slot = -1;
		for (int i = 0; i < BRIDGE_SLOTS; i++) {
			/* The parent's held files: this task's copies are not its own to keep. */
			if (slots[i] >= 0 && close(slots[i]))
				log_err("close of inherited slot %d (fd %d) failed: errno %d (%s)", i, slots[i], errno, strerror(errno));
			slots[i] = -1;
		}
		set_fd_floor();
		if (connect_engine(engine_stage))
			return -ENOTCONN;
	}
	if (engine < 0) {
		log_err("hook %u (pid %d, id %d, fd %d): not connected to the gpuckpt engine", hook, args->pid, args->id, fd);
		return -ENOTCONN;
	}
	h.hook = hook;
	h.path_length = path ? (uint32_t)strlen(path) : 0;
	if (path) {
		parts[1] = (struct iovec){ .iov_base = (void *)path, .iov_len = h.path_length };
		nparts = 2;
	}
	if (send_message(BRIDGE_HOOK, parts, nparts, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0))
		goto lost;
	for (;;) {
		struct message m;
		int served;

		if (recv_message(&m))
			goto lost;
		if (m.nfds) {
			log_err("hook %u: the engine sent %zu fds, which it never does", hook, m.nfds);
			free_message(&m);
			goto lost;
		}
		switch (m.type) {
		case BRIDGE_REPLY:
			if (m.length < sizeof(*reply)) {
				log_err("hook %u: a short reply (%zu bytes)", hook, m.length);
				free_message(&m);
				goto lost;
			}
			memcpy(reply, m.data, sizeof(*reply));
			if (reply->message_length)
				print_on_level(reply->rc < 0 ? BRIDGE_LOG_ERROR : BRIDGE_LOG_INFO, "gpuckpt: %.*s\n",
					       (int)(m.length - sizeof(*reply)), (const char *)m.data + sizeof(*reply));
			free_message(&m);
			return reply->rc;
		case BRIDGE_OPEN:
			served = serve_open(&m);
			break;
		case BRIDGE_TAKE:
			served = serve_take(&m);
			break;
		case BRIDGE_KFD_OP:
			served = serve_kfd_op(&m);
			break;
		case BRIDGE_CLOSE:
			served = serve_close(&m);
			break;
		default:
			log_err("hook %u: unknown request %u from the engine", hook, m.type);
			served = -1;
		}
		free_message(&m);
		if (served)
			goto lost;
	}
lost:
	log_err("hook %u (pid %d, id %d, fd %d): lost the gpuckpt engine", hook, args->pid, args->id, fd);
	if (close(engine))
		log_err("close of the bridge socket failed: errno %d (%s)", errno, strerror(errno));
	engine = -1;
	return -ENOTCONN;
}

static int simple_hook(uint32_t hook, int pid, int id, int fd)
{
	struct bridge_hook h = { .pid = pid, .id = id, .stage = -1 };
	struct bridge_reply r;
	return hook_call(hook, &h, NULL, fd, &r);
}

static uint64_t registered_hooks(void);

/* Connects to the engine and says hello; a forked task (a restored one) connects anew, never sharing CRIU's socket. */
static int connect_engine(int stage)
{
	const char *path = getenv("GPUCKPT_BRIDGE_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct bridge_hello hello = { .protocol = BRIDGE_PROTOCOL_VERSION, .stage = (uint32_t)stage, .criu_pid = getpid(),
				      .hooks = registered_hooks() };
	struct iovec part = { .iov_base = &hello, .iov_len = sizeof(hello) };

	if (!path || !*path) {
		log_err("GPUCKPT_BRIDGE_SOCKET is not set: run this through `gpuckpt checkpoint --criu` or "
			"`gpuckpt restore --criu`, which serve the bridge");
		return -1;
	}
	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_err("GPUCKPT_BRIDGE_SOCKET is longer than a socket path may be (%zu bytes): %s", sizeof(addr.sun_path) - 1, path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	engine = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (engine < 0) {
		log_err("socket(AF_UNIX, SOCK_SEQPACKET) failed: errno %d (%s)", errno, strerror(errno));
		return -1;
	}
	if (connect(engine, (struct sockaddr *)&addr, sizeof(addr))) {
		int e = errno;
		log_err("no gpuckpt engine at %s (connect: errno %d, %s): run this through `gpuckpt checkpoint --criu` or "
			"`gpuckpt restore --criu`", path, e, strerror(e));
		close(engine);
		engine = -1;
		return -1;
	}
	engine = above_floor(engine);
	if (send_message(BRIDGE_HELLO, &part, 1, NULL, 0)) {
		close(engine);
		engine = -1;
		return -1;
	}
	engine_pid = getpid();
	engine_stage = stage;
	return 0;
}

static int bridge_init(int stage)
{
	struct bridge_hook h = { .pid = getpid(), .stage = stage };
	struct bridge_reply r;

	init_slots();
	if (connect_engine(stage))
		return -1;
	return hook_call(BRIDGE_HOOK_INIT, &h, NULL, -1, &r) ? -1 : 0;
}

static void bridge_exit(int stage, int ret)
{
	struct bridge_hook h = { .pid = getpid(), .stage = stage, .ret = ret };
	struct bridge_reply r;

	if (engine >= 0)
		hook_call(BRIDGE_HOOK_EXIT, &h, NULL, -1, &r);
	if (paused_slot >= 0) {
		/* The engine is gone, or left the pause it made: the process must not stay paused. */
		struct kfd_ioctl_criu_args args = { .op = KFD_CRIU_OP_UNPAUSE };
		if (ioctl(slots[paused_slot], AMDKFD_IOC_CRIU_OP, &args) < 0)
			log_err("UNPAUSE on slot %d (fd %d) failed: errno %d (%s)", paused_slot, slots[paused_slot], errno,
				strerror(errno));
		else
			log_info("issued UNPAUSE on slot %d: the engine did not", paused_slot);
		paused_slot = -1;
	}
	for (int i = 0; i < BRIDGE_SLOTS && slots_ready; i++) {
		if (slots[i] >= 0 && close(slots[i]))
			log_err("close of slot %d (fd %d) failed: errno %d (%s)", i, slots[i], errno, strerror(errno));
		slots[i] = -1;
	}
	if (engine >= 0 && close(engine))
		log_err("close of the bridge socket failed: errno %d (%s)", errno, strerror(errno));
	engine = -1;
}

#ifdef GPUCKPT_BRIDGE_FAULTS
/*
 * Fault injection, in the test build only (make faults): with GPUCKPT_BRIDGE_FAULT naming this hook, the hook fails
 * with -EIO once the engine has done its part, so that CRIU's failure path after that point can be tested.
 */
static int fault_after(const char *hook, int rc)
{
	const char *fault = getenv("GPUCKPT_BRIDGE_FAULT");
	if (rc != 0 || !fault || strcmp(fault, hook) != 0)
		return rc;
	log_err("%s: injected fault (GPUCKPT_BRIDGE_FAULT)", hook);
	return -EIO;
}
#else
/* The shipped bridge has no fault injection: a hook's result is the engine's. */
static int fault_after(const char *hook, int rc)
{
	(void)hook;
	return rc;
}
#endif

static int bridge_pause_devices(int pid)
{
	return simple_hook(CR_PLUGIN_HOOK__PAUSE_DEVICES, pid, 0, -1);
}

static int bridge_checkpoint_devices(int pid)
{
	return fault_after("CHECKPOINT_DEVICES", simple_hook(CR_PLUGIN_HOOK__CHECKPOINT_DEVICES, pid, 0, -1));
}

static int bridge_dump_ext_file(int fd, int id)
{
	if (fd < 0) {
		log_err("DUMP_EXT_FILE id %d: CRIU passed fd %d", id, fd);
		return -EBADF;
	}
	return fault_after("DUMP_EXT_FILE", simple_hook(CR_PLUGIN_HOOK__DUMP_EXT_FILE, 0, id, fd));
}

static int bridge_handle_device_vma(int fd, const struct stat *st)
{
	struct bridge_hook h = { .stage = -1, .addr = st ? (uint64_t)st->st_rdev : 0, .pgoff = st ? (uint64_t)st->st_ino : 0 };
	struct bridge_reply r;
	if (!st) {
		log_err("HANDLE_DEVICE_VMA fd %d: CRIU passed no stat", fd);
		return -EINVAL;
	}
	return hook_call(CR_PLUGIN_HOOK__HANDLE_DEVICE_VMA, &h, NULL, fd, &r);
}

/* Returns the restored file's fd to CRIU, which moves it to its place and closes what it was given: CRIU gets a dup. */
static int restore_ext_file(int id)
{
	struct bridge_hook h = { .pid = getpid(), .id = id, .stage = -1 };
	struct bridge_reply r;
	int rc, fd;

	rc = hook_call(CR_PLUGIN_HOOK__RESTORE_EXT_FILE, &h, NULL, -1, &r);
	if (rc < 0)
		return rc;
	if (!valid_slot(r.slot)) {
		log_err("RESTORE_EXT_FILE id %d: the engine named slot %d, which holds no file", id, r.slot);
		return -EBADF;
	}
	fd = fcntl(slots[r.slot], F_DUPFD, 0);
	if (fd < 0) {
		int e = errno;
		log_err("RESTORE_EXT_FILE id %d: dup of slot %d (fd %d) failed: errno %d (%s)", id, r.slot, slots[r.slot], e, strerror(e));
		return -e;
	}
	return fd;
}

#ifdef BRIDGE_RESTORE_EXT_FILE_RETRY
static int bridge_restore_ext_file(int id, bool *retry_needed)
{
	if (retry_needed)
		*retry_needed = false;
	return restore_ext_file(id);
}
#else
static int bridge_restore_ext_file(int id)
{
	return restore_ext_file(id);
}
#endif

static int bridge_update_vma_map(const char *path, const uint64_t addr, const uint64_t old_pgoff, uint64_t *new_pgoff,
				 int *plugin_fd)
{
	struct bridge_hook h = { .pid = getpid(), .stage = -1, .addr = addr, .pgoff = old_pgoff };
	struct bridge_reply r;
	int rc;

	if (!path || !new_pgoff || !plugin_fd) {
		log_err("UPDATE_VMA_MAP at 0x%llx: CRIU passed a null argument", (unsigned long long)addr);
		return -EINVAL;
	}
	/* CRIU takes 1 as "moved: map at *new_pgoff through *plugin_fd", 0 as "no such mapping", below 0 as a failure. */
	rc = hook_call(CR_PLUGIN_HOOK__UPDATE_VMA_MAP, &h, path, -1, &r);
	if (rc != 1)
		return rc;
	*new_pgoff = r.value;
	*plugin_fd = -1;
	if (r.slot >= 0) {
		int fd;
		if (!valid_slot(r.slot)) {
			log_err("UPDATE_VMA_MAP %s at 0x%llx: the engine named slot %d, which holds no file", path,
				(unsigned long long)addr, r.slot);
			return -EBADF;
		}
		/* CRIU closes the fd it is given once it has mapped it: it gets its own. */
		fd = fcntl(slots[r.slot], F_DUPFD_CLOEXEC, 0);
		if (fd < 0) {
			int e = errno;
			log_err("UPDATE_VMA_MAP %s: dup of slot %d (fd %d) failed: errno %d (%s)", path, r.slot, slots[r.slot], e,
				strerror(e));
			return -e;
		}
		*plugin_fd = fd;
	}
	return 1;
}

static int bridge_resume_devices_late(int pid)
{
	return simple_hook(CR_PLUGIN_HOOK__RESUME_DEVICES_LATE, pid, 0, -1);
}

static int bridge_post_forking(void)
{
	return simple_hook(CR_PLUGIN_HOOK__POST_FORKING, getpid(), 0, -1);
}

#ifdef BRIDGE_HAVE_DUMP_DEVICES_LATE
static int bridge_dump_devices_late(int pid)
{
	return simple_hook(CR_PLUGIN_HOOK__DUMP_DEVICES_LATE, pid, 0, -1);
}
#endif

#ifdef BRIDGE_HAVE_RESTORE_INIT
static int bridge_restore_init(void)
{
	return simple_hook(CR_PLUGIN_HOOK__RESTORE_INIT, getpid(), 0, -1);
}
#endif

/* Built with hidden visibility: the descriptor is the one symbol CRIU looks up. */
extern cr_plugin_desc_t CR_PLUGIN_DESC __attribute__((visibility("default")));
CR_PLUGIN_REGISTER("gpuckpt_bridge", bridge_init, bridge_exit)

CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__PAUSE_DEVICES, bridge_pause_devices)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__CHECKPOINT_DEVICES, bridge_checkpoint_devices)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__DUMP_EXT_FILE, bridge_dump_ext_file)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__HANDLE_DEVICE_VMA, bridge_handle_device_vma)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESTORE_EXT_FILE, bridge_restore_ext_file)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__UPDATE_VMA_MAP, bridge_update_vma_map)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESUME_DEVICES_LATE, bridge_resume_devices_late)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__POST_FORKING, bridge_post_forking)
#ifdef BRIDGE_HAVE_DUMP_DEVICES_LATE
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__DUMP_DEVICES_LATE, bridge_dump_devices_late)
#endif
#ifdef BRIDGE_HAVE_RESTORE_INIT
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESTORE_INIT, bridge_restore_init)
#endif

/* The hooks this build registers, as a bit mask: the engine refuses a CRIU that lacks one it needs. */
static uint64_t registered_hooks(void)
{
	uint64_t mask = 0;
	for (unsigned i = 0; i < CR_PLUGIN_HOOK__MAX && i < 64; i++)
		if (CR_PLUGIN_DESC.hooks[i])
			mask |= 1ull << i;
	return mask;
}
