/*
 * kfdemu: runs a command against an emulated /dev/kfd and /dev/dri/renderD* on a machine without an AMD GPU.
 *
 * In a private mount namespace it puts given files at /dev/kfd, /dev/dri/renderD<minor> and
 * /sys/class/kfd/kfd/topology (the rest of /dev is bound back), starts stand-in processes that hold the device files
 * open as GPU processes do, and runs the command under a seccomp filter that hands every KFD ('K') and DRM ('d')
 * ioctl to a supervisor through a user-notification listener. Everything else, mmap and pidfd_getfd included, is the
 * real kernel's.
 *
 * usage: kfdemu [--kfd FILE] --topology DIR [--render MINOR=FILE]... [--target NAME:MINOR[,MINOR...][+dup][+threads]]...
 *               [--counter NAME=FILE]... [--drop-caps] [--stdout FILE] [--stderr FILE] -- COMMAND [ARG]... [--then COMMAND [ARG]...]...
 * Without --kfd there is no /dev/kfd (a machine without the driver).
 * An ARG "@NAME" becomes the pid of stand-in NAME. "+dup" makes the stand-in hold a second fd of each render file;
 * "+threads" gives it two more threads that keep running. "--counter NAME=FILE" gives stand-in NAME a CPU counter: it
 * counts on from 1 and appends each value to FILE (one line each), opening and closing FILE at each tick.
 * Commands joined by "--then" run one after the other, against the same stand-ins (a killed checkpointer, then its
 * resume); the first writes to FILE, the n-th (from 0) to FILE.n.
 * "kfdemu --abi" prints the seccomp notification layouts and request numbers, for the supervisor's declarations.
 * Protocol on stdout, one line each: "target NAME PID KFD_FD MINOR=FD...", "listener PID FD"; then it waits for a
 * line on stdin before the commands run, and prints "exit CODE" for each once they have all ended.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "kfdemu knows x86_64 and aarch64"
#endif

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

#define MAX_ITEMS 32

struct render { unsigned minor; const char *file; };
struct target { char name[64]; unsigned minors[MAX_ITEMS]; int nminors; int dup; int threads; const char *counter; pid_t pid; };

static void die(const char *what)
{
	fprintf(stderr, "kfdemu: %s: %s\n", what, strerror(errno));
	exit(125);
}

static void make_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) die(path);
	close(fd);
}

static void bind(const char *from, const char *to, int recursive)
{
	if (mount(from, to, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) != 0) {
		fprintf(stderr, "kfdemu: bind %s on %s: %s\n", from, to, strerror(errno));
		exit(125);
	}
}

/* A private mount namespace: a fresh /dev with the real device nodes bound back, plus the emulated devices. */
static void build_namespace(const char *kfd, struct render *renders, int nrenders, const char *topology)
{
	char old[] = "/tmp/kfdemu-XXXXXX", path[512];
	static const char *nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *trees[] = { "shm", "pts", "mqueue", "hugepages" };

	if (unshare(CLONE_NEWNS) != 0) die("unshare(CLONE_NEWNS)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make / private");
	if (!mkdtemp(old)) die("mkdtemp");
	bind("/dev", old, 1);
	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=755") != 0) die("mount tmpfs on /dev");
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", old, nodes[i]);
		if (access(path, F_OK) != 0) continue;
		char to[64];
		snprintf(to, sizeof(to), "/dev/%s", nodes[i]);
		make_file(to);
		bind(path, to, 0);
	}
	for (size_t i = 0; i < sizeof(trees) / sizeof(trees[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", old, trees[i]);
		struct stat st;
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
		char to[64];
		snprintf(to, sizeof(to), "/dev/%s", trees[i]);
		if (mkdir(to, 0755) != 0) die(to);
		bind(path, to, 1);
	}
	if (symlink("/proc/self/fd", "/dev/fd") != 0 || symlink("/proc/self/fd/0", "/dev/stdin") != 0 ||
	    symlink("/proc/self/fd/1", "/dev/stdout") != 0 || symlink("/proc/self/fd/2", "/dev/stderr") != 0 ||
	    symlink("pts/ptmx", "/dev/ptmx") != 0)
		die("symlinks in /dev");
	if (umount2(old, MNT_DETACH) != 0) die("detach the old /dev");
	rmdir(old);

	if (kfd) {
		make_file("/dev/kfd");
		bind(kfd, "/dev/kfd", 0);
	}
	if (mkdir("/dev/dri", 0755) != 0) die("/dev/dri");
	for (int i = 0; i < nrenders; i++) {
		snprintf(path, sizeof(path), "/dev/dri/renderD%u", renders[i].minor);
		make_file(path);
		bind(renders[i].file, path, 0);
	}

	if (mount("tmpfs", "/sys/class", "tmpfs", MS_NOSUID, "mode=755") != 0) die("mount tmpfs on /sys/class");
	if (mkdir("/sys/class/kfd", 0755) != 0 || mkdir("/sys/class/kfd/kfd", 0755) != 0 ||
	    mkdir("/sys/class/kfd/kfd/topology", 0755) != 0)
		die("/sys/class/kfd/kfd/topology");
	bind(topology, "/sys/class/kfd/kfd/topology", 1);
}

/* A worker thread of a stand-in: it keeps running (as a training job's host threads do) until something stops it. */
static void *worker(void *arg)
{
	volatile unsigned long *ticks = arg;
	struct timespec ms = { 0, 1000000 };
	for (;;) {
		nanosleep(&ms, NULL);
		(*ticks)++;
	}
	return NULL;
}

/*
 * A stand-in's CPU work: a counter appended to file at every tick, the file opened and closed each time, so that no
 * open file of it needs carrying across a dump, and a restored process counts on from the value it was dumped with.
 */
static void count(const char *file)
{
	struct timespec tick = { 0, 20000000 };
	for (unsigned long long counter = 1;; counter++) {
		int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0) die(file);
		if (dprintf(fd, "%llu\n", counter) < 0) die(file);
		if (close(fd) != 0) die(file);
		nanosleep(&tick, NULL);
	}
}

/* A stand-in GPU process: opens the devices as a ROCm process would and waits to be checkpointed. */
static void stand_in(struct target *t, int report)
{
	static volatile unsigned long ticks[2];
	for (int i = 0; t->threads && i < 2; i++) {
		pthread_t thread;
		if (pthread_create(&thread, NULL, worker, (void *)&ticks[i]) != 0) die("pthread_create");
	}
	char line[1024], path[64];
	int at;

	/*
	 * No parent-death signal, as a GPU job has none: CRIU restores one too, and the restored task's parent, criu restore
	 * -d, exits at once. kfdemu kills its stand-ins at its end instead.
	 */
	int kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	if (kfd < 0) die("open /dev/kfd");
	at = snprintf(line, sizeof(line), "target %s %d %d", t->name, (int)getpid(), kfd);
	for (int i = 0; i < t->nminors; i++) {
		snprintf(path, sizeof(path), "/dev/dri/renderD%u", t->minors[i]);
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) die(path);
		at += snprintf(line + at, sizeof(line) - at, " %u=%d", t->minors[i], fd);
		if (t->dup) {
			int again = fcntl(fd, F_DUPFD_CLOEXEC, 0);
			if (again < 0) die("dup");
			at += snprintf(line + at, sizeof(line) - at, " %u=%d", t->minors[i], again);
		}
	}
	at += snprintf(line + at, sizeof(line) - at, "\n");
	if (write(report, line, at) != at) die("report");
	close(report);
	if (t->counter) count(t->counter);
	for (;;) pause();
}

/*
 * A stand-in runs kfdemu anew, executed from inside the namespace: its executable mapping then lies on a mount of the
 * namespace it lives in (a mapping made before unshare names a mount of the old one, which CRIU cannot look up).
 */
static void exec_stand_in(const char *self, struct target *t, int report)
{
	char fd[16], minors[MAX_ITEMS * 11] = "";
	int at = 0;
	for (int i = 0; i < t->nminors; i++)
		at += snprintf(minors + at, sizeof(minors) - at, "%s%u", i ? "," : "", t->minors[i]);
	/*
	 * A session of its own, as a batch job's launcher gives it: CRIU dumps a task only with its session leader in the
	 * tree it dumps or in its pid namespace, and the test run's leader may be in an outer pid namespace (getsid gives 0).
	 */
	if (setsid() < 0) die("setsid");
	/* Only the report pipe beyond stdio: an fd inherited from the test run names a file on a mount of another namespace. */
	if (dup2(report, 3) != 3 || syscall(SYS_close_range, 4, ~0U, 0) != 0) die("report fd");
	snprintf(fd, sizeof(fd), "%d", 3);
	execl(self, self, "--stand-in", fd, t->name, minors, t->dup ? "dup" : "-", t->threads ? "threads" : "-",
	      t->counter ? t->counter : "-", (char *)NULL);
	die(self);
}

/* "kfdemu --stand-in REPORT_FD NAME MINORS dup|- threads|- COUNTER_FILE|-": the stand-in, executed by exec_stand_in. */
static int stand_in_main(char **argv)
{
	struct target t;
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", argv[3]);
	for (char *m = strtok(argv[4], ","); m && t.nminors < MAX_ITEMS; m = strtok(NULL, ","))
		t.minors[t.nminors++] = (unsigned)strtoul(m, NULL, 10);
	t.dup = !strcmp(argv[5], "dup");
	t.threads = !strcmp(argv[6], "threads");
	t.counter = strcmp(argv[7], "-") ? argv[7] : NULL;
	stand_in(&t, atoi(argv[2]));
	return 0;
}

/*
 * KFD ('K') and DRM ('d') ioctls, and mmap of a file (the supervisor checks a render file's offsets as drm_gem_mmap
 * does, then lets the call go on), go to the supervisor; every other call runs as usual.
 */
static int install_filter(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 2),
		/* mmap's fd, low 32 bits: -1 (anonymous memory) runs as usual. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[4])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffff, 6, 7),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* The request's low 32 bits (little endian): its type byte is bits 8-15. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff00),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'K' << 8, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'd' << 8, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("PR_SET_NO_NEW_PRIVS");
	/* Killable-only waits once the supervisor has the call: no signal makes the command repeat an ioctl it already did. */
	int fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			 SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (fd < 0) die("seccomp(SECCOMP_SET_MODE_FILTER)");
	return fd;
}

static void redirect(const char *file, int nth, int to)
{
	char path[4096];
	if (!file) return;
	if (nth == 0) snprintf(path, sizeof(path), "%s", file);
	else snprintf(path, sizeof(path), "%s.%d", file, nth);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || dup2(fd, to) < 0) die(path);
	close(fd);
}

/* Runs each command under the filter this process installed, one after the other; writes each exit code to codes. */
static void run_commands(char ***commands, int ncommands, const char *out, const char *err, int codes)
{
	for (int c = 0; c < ncommands; c++) {
		pid_t pid = fork();
		if (pid < 0) die("fork");
		if (pid == 0) {
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("PR_SET_PDEATHSIG");
			redirect(out, c, 1);
			redirect(err, c, 2);
			execvp(commands[c][0], commands[c]);
			die(commands[c][0]);
		}
		int status;
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR) die("waitpid");
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (write(codes, &code, sizeof(code)) != sizeof(code)) die("codes");
	}
}

static int print_abi(void)
{
	printf("{\"seccomp_notif\":[%zu,%zu,%zu,%zu],\"seccomp_notif_resp\":[%zu,%zu,%zu],\"seccomp_notif_addfd\":[%zu,%zu,%zu],"
	       "\"ioctls\":[%lu,%lu,%lu,%lu],\"continue\":%u}\n",
	       sizeof(struct seccomp_notif), offsetof(struct seccomp_notif, pid), offsetof(struct seccomp_notif, data.nr),
	       offsetof(struct seccomp_notif, data.args), sizeof(struct seccomp_notif_resp), offsetof(struct seccomp_notif_resp, error),
	       offsetof(struct seccomp_notif_resp, flags), sizeof(struct seccomp_notif_addfd), offsetof(struct seccomp_notif_addfd, srcfd),
	       offsetof(struct seccomp_notif_addfd, newfd_flags), (unsigned long)SECCOMP_IOCTL_NOTIF_RECV,
	       (unsigned long)SECCOMP_IOCTL_NOTIF_SEND, (unsigned long)SECCOMP_IOCTL_NOTIF_ID_VALID,
	       (unsigned long)SECCOMP_IOCTL_NOTIF_ADDFD, (unsigned)SECCOMP_USER_NOTIF_FLAG_CONTINUE);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--abi")) return print_abi();
	if (argc == 8 && !strcmp(argv[1], "--stand-in")) return stand_in_main(argv);
	const char *kfd = NULL, *topology = NULL, *out = NULL, *err = NULL;
	struct render renders[MAX_ITEMS];
	struct target targets[MAX_ITEMS];
	struct { const char *name; const char *file; } counters[MAX_ITEMS];
	int nrenders = 0, ntargets = 0, ncounters = 0, drop_caps = 0, i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--kfd") && next) kfd = argv[++i];
		else if (!strcmp(argv[i], "--topology") && next) topology = argv[++i];
		else if (!strcmp(argv[i], "--stdout") && next) out = argv[++i];
		else if (!strcmp(argv[i], "--stderr") && next) err = argv[++i];
		else if (!strcmp(argv[i], "--drop-caps")) drop_caps = 1;
		else if (!strcmp(argv[i], "--render") && next && nrenders < MAX_ITEMS) {
			char *eq = strchr(argv[++i], '=');
			if (!eq) break;
			*eq = 0;
			renders[nrenders].minor = (unsigned)strtoul(argv[i], NULL, 10);
			renders[nrenders++].file = eq + 1;
		} else if (!strcmp(argv[i], "--counter") && next && ncounters < MAX_ITEMS) {
			char *eq = strchr(argv[++i], '=');
			if (!eq || eq[1] != '/') break;
			*eq = 0;
			counters[ncounters].name = argv[i];
			counters[ncounters++].file = eq + 1;
		} else if (!strcmp(argv[i], "--target") && next && ntargets < MAX_ITEMS) {
			struct target *t = &targets[ntargets++];
			char *spec = argv[++i], *colon = strchr(spec, ':');
			memset(t, 0, sizeof(*t));
			if (!colon) break;
			*colon = 0;
			snprintf(t->name, sizeof(t->name), "%s", spec);
			char *plus = strchr(colon + 1, '+');
			if (plus) {
				t->dup = strstr(plus, "+dup") != NULL;
				t->threads = strstr(plus, "+threads") != NULL;
				*plus = 0;
			}
			for (char *m = strtok(colon + 1, ","); m && t->nminors < MAX_ITEMS; m = strtok(NULL, ","))
				t->minors[t->nminors++] = (unsigned)strtoul(m, NULL, 10);
		} else break;
	}
	if (i >= argc - 1 || strcmp(argv[i], "--") != 0 || !topology || (!kfd && ntargets > 0)) {
		fprintf(stderr, "usage: kfdemu [--kfd FILE] --topology DIR [--render MINOR=FILE]... "
				"[--target NAME:MINORS[+dup][+threads]]... [--counter NAME=/FILE]... [--drop-caps] [--stdout FILE] [--stderr FILE] "
				"-- COMMAND...\n");
		return 125;
	}
	for (int c = 0; c < ncounters; c++) {
		int t = 0;
		while (t < ntargets && strcmp(targets[t].name, counters[c].name) != 0) t++;
		if (t == ntargets) { fprintf(stderr, "kfdemu: --counter %s: no --target of that name\n", counters[c].name); return 125; }
		targets[t].counter = counters[c].file;
	}
	char **command = argv + i + 1;
	char **commands[MAX_ITEMS];
	int ncommands = 0;
	commands[ncommands++] = command;
	for (char **a = command; *a; a++)
		if (!strcmp(*a, "--then") && a[1] && ncommands < MAX_ITEMS) {
			*a = NULL;
			commands[ncommands++] = a + 1;
		}
	setvbuf(stdout, NULL, _IOLBF, 0);

	build_namespace(kfd, renders, nrenders, topology);

	for (int t = 0; t < ntargets; t++) {
		int report[2];
		if (pipe2(report, O_CLOEXEC) != 0) die("pipe");
		pid_t pid = fork();
		if (pid < 0) die("fork");
		if (pid == 0) { close(report[0]); exec_stand_in(argv[0], &targets[t], report[1]); }
		close(report[1]);
		targets[t].pid = pid;
		char line[1024];
		ssize_t n = read(report[0], line, sizeof(line) - 1);
		if (n <= 0) { fprintf(stderr, "kfdemu: stand-in %s did not start\n", targets[t].name); return 125; }
		line[n] = 0;
		fputs(line, stdout);
		close(report[0]);
	}
	for (char **a = command; a < argv + argc; a++)
		for (int t = 0; t < ntargets && *a; t++)
			if ((*a)[0] == '@' && !strcmp(*a + 1, targets[t].name)) {
				static char pids[MAX_ITEMS][16];
				snprintf(pids[t], sizeof(pids[t]), "%d", (int)targets[t].pid);
				*a = pids[t];
			}

	int ready[2], go[2], codes[2];
	if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0 || pipe2(codes, O_CLOEXEC) != 0) die("pipe");
	pid_t child = fork();
	if (child < 0) die("fork");
	if (child == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("PR_SET_PDEATHSIG");
		close(codes[0]);
		if (drop_caps && (prctl(PR_CAPBSET_DROP, 21, 0, 0, 0) != 0 || prctl(PR_CAPBSET_DROP, 40, 0, 0, 0) != 0))
			die("PR_CAPBSET_DROP");
		int listener = install_filter();
		if (write(ready[1], &listener, sizeof(listener)) != sizeof(listener)) die("ready");
		char c;
		if (read(go[0], &c, 1) != 1) _exit(125);
		close(listener);
		run_commands(commands, ncommands, out, err, codes[1]);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	close(codes[1]);
	int listener;
	if (read(ready[0], &listener, sizeof(listener)) != sizeof(listener)) { fprintf(stderr, "kfdemu: no listener\n"); return 125; }
	printf("listener %d %d\n", (int)child, listener);
	char answer[16];
	if (!fgets(answer, sizeof(answer), stdin)) {
		kill(child, SIGKILL);
		for (int t = 0; t < ntargets; t++) kill(targets[t].pid, SIGKILL);
		return 125;
	}
	if (write(go[1], "g", 1) != 1) die("go");

	/*
	 * A stand-in that ends meanwhile (CRIU ends it after its dump) is reaped at once: its pid is free for its restore
	 * even where this process's orphans would go to an init that never reaps them (a pid namespace's first process).
	 */
	int status;
	for (;;) {
		pid_t ended = waitpid(-1, &status, 0);
		if (ended < 0) {
			if (errno == EINTR) continue;
			die("waitpid");
		}
		if (ended == child) break;
		for (int t = 0; t < ntargets; t++)
			if (targets[t].pid == ended) targets[t].pid = 0;
	}
	for (int t = 0; t < ntargets; t++) {
		if (targets[t].pid <= 0) continue;
		kill(targets[t].pid, SIGKILL);
		while (waitpid(targets[t].pid, NULL, 0) < 0 && errno == EINTR) {}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "kfdemu: the command runner ended with status 0x%x\n", status);
		return 125;
	}
	int code = 0, ran = 0;
	while (read(codes[0], &code, sizeof(code)) == sizeof(code)) {
		printf("exit %d\n", code);
		ran++;
	}
	if (ran != ncommands) { fprintf(stderr, "kfdemu: %d of %d commands ran\n", ran, ncommands); return 125; }
	return code;
}
