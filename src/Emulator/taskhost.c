/*
 * taskhost: starts and reaps the processes a CRIU spec dumps and restores, on command.
 *
 * It is a child subreaper, so a task that `criu restore -d` leaves behind becomes its child, and a task that
 * `criu dump` killed stays its zombie until it is waited for (criu restore cannot take the pid before that).
 * Commands on stdin, one line each, fields separated by tabs; one answer line each on stdout:
 *   spawn OUT ARGV...   start ARGV in a session of its own, stdin /dev/null, stdout and stderr appended to OUT
 *                       -> "spawned PID"
 *   run OUT ARGV...     the same, then wait for it -> "exited PID CODE" (CODE: exit status, or 128 + signal)
 *   wait PID            wait for a child (one that was dumped, or adopted after a restore) -> "exited PID CODE"
 *   kill PID            SIGKILL a child and wait for it -> "exited PID CODE"
 * At the end of stdin it kills every process it spawned or adopted, reaps them and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 64
#define MAX_TASKS 256

static pid_t tasks[MAX_TASKS];
static int ntasks;

static void remember(pid_t pid)
{
	for (int i = 0; i < ntasks; i++)
		if (tasks[i] == pid) return;
	if (ntasks < MAX_TASKS) tasks[ntasks++] = pid;
}

static pid_t start(char **argv, const char *out)
{
	pid_t pid = fork();
	if (pid != 0) return pid;
	int in = open("/dev/null", O_RDONLY);
	int log = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (in < 0 || log < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) {
		dprintf(log >= 0 ? log : 2, "taskhost: %s: %s\n", out, strerror(errno));
		_exit(126);
	}
	/* Only what the program opens itself: an fd inherited from the test run would name a file of another namespace. */
	if (syscall(SYS_close_range, 3, ~0U, 0) != 0 || setsid() < 0) _exit(126);
	execvp(argv[0], argv);
	fprintf(stderr, "taskhost: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int reap(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, __WALL) < 0)
		if (errno != EINTR) return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(void)
{
	char line[8192];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
		perror("taskhost: PR_SET_CHILD_SUBREAPER");
		return 125;
	}
	printf("ready %d\n", (int)getpid());
	while (fgets(line, sizeof(line), stdin)) {
		char *args[MAX_ARGS + 1];
		int n = 0;
		line[strcspn(line, "\n")] = 0;
		for (char *f = strtok(line, "\t"); f && n < MAX_ARGS; f = strtok(NULL, "\t")) args[n++] = f;
		args[n] = NULL;
		if (n >= 3 && (!strcmp(args[0], "spawn") || !strcmp(args[0], "run"))) {
			pid_t pid = start(args + 2, args[1]);
			if (pid < 0) { printf("error fork: %s\n", strerror(errno)); continue; }
			if (!strcmp(args[0], "spawn")) {
				remember(pid);
				printf("spawned %d\n", (int)pid);
			} else {
				printf("exited %d %d\n", (int)pid, reap(pid));
			}
		} else if (n == 2 && (!strcmp(args[0], "wait") || !strcmp(args[0], "kill"))) {
			pid_t pid = (pid_t)atoi(args[1]);
			remember(pid);
			if (!strcmp(args[0], "kill") && kill(pid, SIGKILL) != 0) { printf("error kill %d: %s\n", (int)pid, strerror(errno)); continue; }
			int code = reap(pid);
			if (code < 0) printf("error wait %d: %s\n", (int)pid, strerror(-code));
			else printf("exited %d %d\n", (int)pid, code);
		} else {
			printf("error unknown command '%s'\n", n > 0 ? args[0] : "");
		}
	}
	for (int i = 0; i < ntasks; i++) kill(tasks[i], SIGKILL);
	while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR) {}
	return 0;
}
