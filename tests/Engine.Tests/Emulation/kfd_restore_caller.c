/* Issues KFD CRIU ops on /dev/kfd files as a restore would, from the process that opened the file and from one that
 * only inherited it, and prints each op's errno (0: done): "NAME ERRNO". */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/kfd_ioctl.h>

static int criu_op(int kfd, uint32_t op, uint32_t pid, int arrays, int drm_fd)
{
	struct kfd_criu_device_bucket dev = { .user_gpu_id = 1, .actual_gpu_id = 1, .drm_fd = (uint32_t)drm_fd };
	struct kfd_criu_bo_bucket bo = { .size = 4096 };
	char priv[16] = { 0 };
	struct kfd_ioctl_criu_args a = { .op = op, .pid = pid };
	if (arrays) {
		a.devices = (uintptr_t)&dev;
		a.bos = (uintptr_t)&bo;
		a.priv_data = (uintptr_t)priv;
		a.priv_data_size = sizeof priv;
		a.num_devices = 1;
		a.num_bos = 1;
	}
	return ioctl(kfd, AMDKFD_IOC_CRIU_OP, &a) == 0 ? 0 : errno;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s RENDER_NODE\n", argv[0]);
		return 2;
	}
	int kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
	int render = open(argv[1], O_RDWR | O_CLOEXEC);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (kfd < 0 || render < 0 || null < 0) {
		perror("open");
		return 2;
	}
	struct kfd_ioctl_get_version_args version = { 0 };
	printf("pid %d\n", getpid());
	printf("get-version %d\n", ioctl(kfd, AMDKFD_IOC_GET_VERSION, &version) == 0 ? 0 : errno);
	fflush(stdout);

	pid_t child = fork();
	if (child < 0) {
		perror("fork");
		return 2;
	}
	if (child == 0) {
		/* The file's KFD process is the parent's: its child may not restore into it. */
		printf("inherited-restore %d\n", criu_op(kfd, KFD_CRIU_OP_RESTORE, 0, 1, render));
		printf("inherited-get-version %d\n", ioctl(kfd, AMDKFD_IOC_GET_VERSION, &version) == 0 ? 0 : errno);
		fflush(stdout);
		_exit(0);
	}
	int status;
	if (waitpid(child, &status, 0) != child) {
		perror("waitpid");
		return 2;
	}
	printf("child %d\n", child);
	printf("zero-counts-restore %d\n", criu_op(kfd, KFD_CRIU_OP_RESTORE, 0, 0, render));
	printf("not-a-render-fd-restore %d\n", criu_op(kfd, KFD_CRIU_OP_RESTORE, 0, 1, null));
	printf("resume-of-no-kfd-process %d\n", criu_op(kfd, KFD_CRIU_OP_RESUME, (uint32_t)child, 0, 0));
	printf("own-restore %d\n", criu_op(kfd, KFD_CRIU_OP_RESTORE, 0, 1, render));
	printf("own-process-info %d\n", criu_op(kfd, KFD_CRIU_OP_PROCESS_INFO, 0, 0, 0));
	return 0;
}
