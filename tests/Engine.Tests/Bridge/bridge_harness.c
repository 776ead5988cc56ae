/*
 * Plays CRIU for gpuckpt_bridge.so: dlopens it, calls its init, hooks and exit in CRIU's order, and plays the kernel
 * for the KFD CRIU op on a stand-in KFD file (this program's ioctl() interposes the bridge's). Prints each hook's
 * return and, at the end, the KFD op counts and whether any fd leaked.
 *   bridge_harness BRIDGE.so KFD-FILE SCENARIO NBOS
 * Scenarios: dump, dump-fail (CRIU fails after the device files), engine-dies (the engine vanishes after the pause),
 * restore, init, and restore-gpu: a forked child plays the restored task (RESTORE_EXT_FILE of /dev/kfd, id 7, and of
 * the render file $HARNESS_RENDER, id 9, then UPDATE_VMA_MAP of each restored BO), the parent CRIU's main process
 * (POST_FORKING, then RESUME_DEVICES_LATE once the child succeeded); the played kernel keeps its state in shared memory.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kfd_ioctl.h>

#include <criu-plugin.h>

#define KFD_NO_FD_VALUE 0xffffffffu

static struct stat kfd_stat;
static unsigned nbos = 0;
static int paused, process_info, checkpoints, unpauses, refused;
static const uint64_t priv_size = 96;

/* The played kernel's restore state, shared by CRIU's main process and the restored task it forks. */
#define MAX_RESTORED 4096
struct restore_state {
	int restores, restorer, resumes, resume_refused, restore_refused, nbos;
	uint64_t old_offset[MAX_RESTORED], new_offset[MAX_RESTORED], size[MAX_RESTORED];
	uint32_t flags[MAX_RESTORED];
};
static struct restore_state *rs;
static struct stat render_stat;

void print_on_level(unsigned int loglevel, const char *format, ...)
{
	va_list ap;
	fprintf(stderr, "criu-log[%u] ", loglevel);
	va_start(ap, format);
	vfprintf(stderr, format, ap);
	va_end(ap);
}

int criu_get_image_dir(void)
{
	return AT_FDCWD;
}

static int fake_kfd(struct kfd_ioctl_criu_args *a)
{
	switch (a->op) {
	case KFD_CRIU_OP_PROCESS_INFO:
		paused++;
		process_info++;
		a->num_devices = 1;
		a->num_bos = nbos;
		a->num_objects = 0;
		a->priv_data_size = priv_size;
		a->pid = (uint32_t)getpid();
		return 0;
	case KFD_CRIU_OP_CHECKPOINT: {
		struct kfd_criu_device_bucket *d = (void *)(uintptr_t)a->devices;
		struct kfd_criu_bo_bucket *b = (void *)(uintptr_t)a->bos;
		uint8_t *p = (void *)(uintptr_t)a->priv_data;
		if (!paused || a->num_devices != 1 || a->num_bos != nbos || a->priv_data_size != priv_size)
			return -EINVAL;
		if (!d || (nbos && !b) || !p)
			return -EFAULT;
		checkpoints++;
		d[0] = (struct kfd_criu_device_bucket){ .user_gpu_id = 0x1234, .actual_gpu_id = 0x1234 };
		for (unsigned i = 0; i < nbos; i++) {
			uint8_t page[4096];
			int fd = memfd_create("bo", MFD_CLOEXEC);
			if (fd < 0)
				return -errno;
			memset(page, (int)(i * 7 + 1), sizeof(page));
			if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page))
				return -EIO;
			b[i] = (struct kfd_criu_bo_bucket){ .addr = 0x100000ull * (i + 1), .size = sizeof(page), .gpu_id = 0x1234,
							    .alloc_flags = KFD_IOC_ALLOC_MEM_FLAGS_VRAM, .dmabuf_fd = (uint32_t)fd };
		}
		for (uint64_t i = 0; i < priv_size; i++)
			p[i] = (uint8_t)(i % 251);
		return 0;
	}
	case KFD_CRIU_OP_RESTORE: {
		/* KFD binds the restored process to the caller; each GPU's drm_fd must be a render file open in the caller. */
		struct kfd_criu_device_bucket *d = (void *)(uintptr_t)a->devices;
		struct kfd_criu_bo_bucket *b = (void *)(uintptr_t)a->bos;
		uint64_t next = 1ull << 20;
		/* As kfd_chardev.c: no NULL array and no zero count. */
		if (!rs || rs->restores || a->num_bos > MAX_RESTORED || !a->num_devices || !d || !a->num_bos || !b ||
		    !a->priv_data || !a->priv_data_size) {
			if (rs)
				rs->restore_refused++;
			return -EINVAL;
		}
		for (uint32_t i = 0; i < a->num_devices; i++) {
			struct stat st;
			if (fstat((int)d[i].drm_fd, &st) || st.st_ino != render_stat.st_ino || st.st_dev != render_stat.st_dev) {
				rs->restore_refused++;
				return -EBADF;
			}
		}
		for (uint32_t i = 0; i < a->num_bos; i++) {
			b[i].restored_offset = next;
			b[i].dmabuf_fd = KFD_NO_FD_VALUE;
			if (b[i].alloc_flags & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)) {
				int fd = memfd_create("restored-bo", MFD_CLOEXEC);
				if (fd < 0)
					return -errno;
				b[i].dmabuf_fd = (uint32_t)fd;
			}
			rs->old_offset[i] = b[i].offset;
			rs->new_offset[i] = next;
			rs->size[i] = b[i].size;
			rs->flags[i] = b[i].alloc_flags;
			next += (b[i].size + 4095) & ~4095ull;
		}
		rs->nbos = (int)a->num_bos;
		rs->restorer = getpid();
		rs->restores++;
		return 0;
	}
	case KFD_CRIU_OP_RESUME:
		/* By pid, from any process; only a restored process, and only once. */
		if (!rs || !rs->restores || a->pid != (uint32_t)rs->restorer) {
			if (rs)
				rs->resume_refused++;
			return -ESRCH;
		}
		if (rs->resumes) {
			rs->resume_refused++;
			return -EINVAL;
		}
		rs->resumes++;
		return 0;
	case KFD_CRIU_OP_UNPAUSE:
		if (!paused)
			return -EINVAL;
		paused = 0;
		unpauses++;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Interposes libc's ioctl for the bridge: the stand-in KFD file gets the fake kernel, everything else the real one. */
int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	struct stat st;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (request == AMDKFD_IOC_CRIU_OP && !fstat(fd, &st) && st.st_ino == kfd_stat.st_ino && st.st_dev == kfd_stat.st_dev) {
		int rc = fake_kfd(arg);
		if (rc < 0) {
			errno = -rc;
			return -1;
		}
		return 0;
	}
	return (int)syscall(SYS_ioctl, fd, request, arg);
}

/* Marks the fds open below the limit's half (the numbers a restored task's own files take); counts those not in before. */
#define LOW_FDS 4096
static int low_fds(unsigned char *open_now, const unsigned char *before)
{
	struct rlimit r;
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d || getrlimit(RLIMIT_NOFILE, &r))
		return -1;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == dirfd(d) || fd >= (int)(r.rlim_cur / 2) || fd >= LOW_FDS)
			continue;
		open_now[fd] = 1;
		if (before && !before[fd])
			n++;
	}
	closedir(d);
	return n;
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static cr_plugin_desc_t *desc;

static int same_file(int fd, const struct stat *want)
{
	struct stat st;
	return fd >= 0 && !fstat(fd, &st) && st.st_ino == want->st_ino && st.st_dev == want->st_dev;
}

#define HOOK(h) (desc->hooks[CR_PLUGIN_HOOK__##h])
#define CALL(h, type, ...) report(#h, HOOK(h) ? ((CR_PLUGIN_HOOK__##h##_t *)HOOK(h))(__VA_ARGS__) : -1000)

static int report(const char *hook, int rc)
{
	printf("hook %s rc=%d\n", hook, rc);
	fflush(stdout);
	return rc;
}

/*
 * After its hooks the restored task runs on, its end of the bridge still open: it waits until the engine hangs up (a
 * peek that returns 0), as CRIU's restore ends. An engine that never did would leave it, and this harness, waiting.
 */
static int wait_for_hangup(void)
{
	struct rlimit r;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int hung_up = 0;
	if (!d || getrlimit(RLIMIT_NOFILE, &r))
		return 0;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		struct stat st;
		char c;
		if (e->d_name[0] == '.' || fd == dirfd(d) || fd < (int)(r.rlim_cur / 2) || fstat(fd, &st) || !S_ISSOCK(st.st_mode))
			continue;
		if (recv(fd, &c, 1, MSG_PEEK) == 0)
			hung_up++;
	}
	closedir(d);
	return hung_up;
}

/* The restored task: its GPU files come back from RESTORE_EXT_FILE, each mapping of a restored BO from UPDATE_VMA_MAP. */
static int restored_task(const char *render)
{
	int kfd_fd, render_fd, moved = 0, wrong = 0, rc;
	uint64_t new_offset = 0;
	int plugin_fd = -1;
	static unsigned char low_before[LOW_FDS], low_after[LOW_FDS];
	low_fds(low_before, NULL);

#if defined(BRIDGE_RESTORE_EXT_FILE_RETRY)
	bool retry = false;
	kfd_fd = CALL(RESTORE_EXT_FILE, int, 7, &retry);
	render_fd = kfd_fd < 0 ? -1 : CALL(RESTORE_EXT_FILE, int, 9, &retry);
#else
	kfd_fd = CALL(RESTORE_EXT_FILE, int, 7);
	render_fd = kfd_fd < 0 ? -1 : CALL(RESTORE_EXT_FILE, int, 9);
#endif
	printf("ext kfd_is_kfd=%d render_is_render=%d\n", same_file(kfd_fd, &kfd_stat), same_file(render_fd, &render_stat));
	if (kfd_fd < 0 || render_fd < 0)
		return 1;
	for (int i = 0; i < rs->nbos; i++) {
		if (!(rs->flags[i] & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)))
			continue;
		plugin_fd = -1;
		rc = CALL(UPDATE_VMA_MAP, const char *, render, 0x7f0000000000ull + ((uint64_t)i << 32), rs->old_offset[i], &new_offset, &plugin_fd);
		if (rc == 1 && new_offset == rs->new_offset[i] && same_file(plugin_fd, &render_stat))
			moved++;
		else
			wrong++;
		if (plugin_fd >= 0)
			close(plugin_fd);
	}
	/* A mapping of another file is not the bridge's; an offset no BO had is no mapping of the GPU's. */
	CALL(UPDATE_VMA_MAP, const char *, "/usr/lib/not-a-gpu-file", 0x1000, 0, &new_offset, &plugin_fd);
	CALL(UPDATE_VMA_MAP, const char *, render, 0x2000, 0xdead0000ull, &new_offset, &plugin_fd);
	close(kfd_fd);
	close(render_fd);
	/* What the bridge keeps open in the task (its socket, the files it holds) stays clear of the task's fd numbers. */
	printf("vma moved=%d wrong=%d\ntask low_fds_added=%d\n", moved, wrong, low_fds(low_after, low_before));
	fflush(stdout);
	return wrong ? 1 : 0;
}

int main(int argc, char **argv)
{
	void *h;
	int kfd, other, before, rc;
	const char *scenario;
	struct stat other_stat;

	if (argc != 5) {
		fprintf(stderr, "usage: %s BRIDGE.so KFD-FILE SCENARIO NBOS\n", argv[0]);
		return 2;
	}
	scenario = argv[3];
	nbos = (unsigned)strtoul(argv[4], NULL, 10);
	kfd = open(argv[2], O_RDWR | O_CLOEXEC);
	other = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (kfd < 0 || other < 0 || fstat(kfd, &kfd_stat) || fstat(other, &other_stat)) {
		perror("open");
		return 2;
	}
	printf("kfd fd=%d\n", kfd);
	h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	desc = dlsym(h, "CR_PLUGIN_DESC");
	if (!desc) {
		fprintf(stderr, "no CR_PLUGIN_DESC\n");
		return 2;
	}
	printf("plugin %s version 0x%x max_hooks %u\n", desc->name, desc->version, desc->max_hooks);
	before = open_fds();

	if (!strcmp(scenario, "restore-gpu")) {
		const char *render = getenv("HARNESS_RENDER");
		pid_t child = -1;
		int status = 0, done[2];
		char restored = 1;
		rs = mmap(NULL, sizeof(*rs), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (rs == MAP_FAILED || !render || stat(render, &render_stat)) {
			fprintf(stderr, "restore-gpu needs $HARNESS_RENDER, an existing file\n");
			return 2;
		}
		rc = report("INIT", desc->init(CR_PLUGIN_STAGE__RESTORE));
		if (!rc) {
			CALL(POST_FORKING, void);
			fflush(stdout);
			if (pipe(done)) {
				perror("pipe");
				return 2;
			}
			child = fork();
			if (child == 0) {
				char ok = (char)restored_task(render);
				/* Restored (0) or failed: CRIU's main process hears it; a restored task then runs on until the engine hangs up. */
				if (write(done[1], &ok, 1) != 1 || ok)
					_exit(1);
				printf("task hung_up=%d\n", wait_for_hangup());
				fflush(stdout);
				_exit(0);
			}
			close(done[1]);
			if (child < 0 || read(done[0], &restored, 1) != 1)
				restored = 1;
			close(done[0]);
			/* CRIU goes on to RESUME_DEVICES_LATE only once every task was restored, the tasks still alive; else it kills them and fails. */
			if (!restored)
				CALL(RESUME_DEVICES_LATE, int, child);
			else
				rc = -1;
		}
		desc->exit(CR_PLUGIN_STAGE__RESTORE, rc);
		if (child > 0) {
			if (waitpid(child, &status, 0) != child) {
				perror("waitpid");
				return 2;
			}
			printf("task pid=%d exit=%d\n", (int)child, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
		printf("kfd restore=%d restorer_is_task=%d resume=%d resume_refused=%d restore_refused=%d\n", rs->restores,
		       rs->restores && rs->restorer != getpid(), rs->resumes, rs->resume_refused, rs->restore_refused);
		for (int i = 0; i < rs->nbos; i++)
			printf("bo %d old=%llu new=%llu size=%llu flags=%u\n", i, (unsigned long long)rs->old_offset[i],
			       (unsigned long long)rs->new_offset[i], (unsigned long long)rs->size[i], rs->flags[i]);
	} else if (!strcmp(scenario, "restore")) {
		rc = report("INIT", desc->init(CR_PLUGIN_STAGE__RESTORE));
		if (!rc) {
			CALL(POST_FORKING, void);
			CALL(RESUME_DEVICES_LATE, int, getpid());
#if defined(BRIDGE_RESTORE_EXT_FILE_RETRY)
			bool retry = false;
			CALL(RESTORE_EXT_FILE, int, 5, &retry);
#else
			CALL(RESTORE_EXT_FILE, int, 5);
#endif
		}
		desc->exit(CR_PLUGIN_STAGE__RESTORE, rc);
	} else {
		int failed = 0;
		rc = report("INIT", desc->init(CR_PLUGIN_STAGE__DUMP));
		if (!rc && strcmp(scenario, "init")) {
			failed |= CALL(PAUSE_DEVICES, int, getpid()) != 0;
			failed |= CALL(CHECKPOINT_DEVICES, int, getpid()) != 0;
			if (!failed) {
				failed |= CALL(DUMP_EXT_FILE, int, kfd, 7) != 0;
				/* A file that is not the GPU's: "not mine", as CRIU would hear it from a plugin. */
				CALL(DUMP_EXT_FILE, int, other, 8);
				CALL(HANDLE_DEVICE_VMA, int, other, &other_stat);
			}
		}
		if (!strcmp(scenario, "dump-fail"))
			failed = 1; /* CRIU fails later on (its pages, a socket): the exit hook hears it */
		desc->exit(CR_PLUGIN_STAGE__DUMP, rc ? rc : failed ? -1 : 0);
	}
	printf("kfd process_info=%d checkpoint=%d unpause=%d paused=%d refused=%d\n", process_info, checkpoints, unpauses, paused, refused);
	printf("fds leaked=%d\n", open_fds() - before);
	dlclose(h);
	close(kfd);
	close(other);
	return 0;
}
