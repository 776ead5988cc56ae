/*
 * gpuapp: the process the CRIU specs checkpoint. It keeps a CPU counter and takes one step per SIGUSR1, printing
 * one line per step on stdout, so that a restored copy can be compared with an uninterrupted twin.
 *
 * usage: gpuapp plain SEED            the counter only
 *        gpuapp kfd SEED              also opens /dev/kfd and asks its version (AMDKFD_IOC_GET_VERSION) at every step
 *        gpuapp gpu SEED MINOR        as kfd, and holds /dev/dri/renderD<MINOR> open, as a ROCm process does
 * Lines: "ready pid=P counter=C [kfd=MAJ.MIN]", then "step=N counter=C [kfd=MAJ.MIN|kfd=errno:E]".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kfd_ioctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static volatile sig_atomic_t pending;

static void on_step(int sig)
{
	(void)sig;
	pending++;
}

static void kfd_version(int kfd, char *out, size_t size)
{
	struct kfd_ioctl_get_version_args v = { 0 };
	if (kfd < 0) { out[0] = 0; return; }
	if (ioctl(kfd, AMDKFD_IOC_GET_VERSION, &v) != 0) snprintf(out, size, " kfd=errno:%d", errno);
	else snprintf(out, size, " kfd=%u.%u", v.major_version, v.minor_version);
}

int main(int argc, char **argv)
{
	int gpu = argc == 4 && !strcmp(argv[1], "gpu");
	if (!gpu && (argc != 3 || (strcmp(argv[1], "plain") && strcmp(argv[1], "kfd")))) {
		fprintf(stderr, "usage: gpuapp plain|kfd SEED, or gpuapp gpu SEED RENDER_MINOR\n");
		return 2;
	}
	uint64_t counter = strtoull(argv[2], NULL, 0), step = 0;
	int kfd = -1;
	char version[64], render[64];
	if (strcmp(argv[1], "plain") && (kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, "gpuapp: open /dev/kfd: %s\n", strerror(errno));
		return 1;
	}
	if (gpu) {
		snprintf(render, sizeof(render), "/dev/dri/renderD%s", argv[3]);
		if (open(render, O_RDWR | O_CLOEXEC) < 0) {
			fprintf(stderr, "gpuapp: open %s: %s\n", render, strerror(errno));
			return 1;
		}
	}
	sigset_t block, wait;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &block, &wait) != 0 || signal(SIGUSR1, on_step) == SIG_ERR) {
		perror("gpuapp: SIGUSR1");
		return 1;
	}
	sigdelset(&wait, SIGUSR1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	kfd_version(kfd, version, sizeof(version));
	printf("ready pid=%d counter=%" PRIu64 "%s\n", (int)getpid(), counter, version);
	for (;;) {
		while (!pending) sigsuspend(&wait);
		pending--;
		step++;
		/* Knuth's MMIX LCG: each value depends on every step before it. */
		counter = counter * 6364136223846793005ULL + 1442695040888963407ULL;
		kfd_version(kfd, version, sizeof(version));
		printf("step=%" PRIu64 " counter=%" PRIu64 "%s\n", step, counter, version);
	}
}
