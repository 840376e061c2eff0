//go:build ignore

/* exec.c: execve(2) through fork+execve+wait4: a #! script (fs/binfmt_script.c),
 * a missing file (ENOENT), a non-ELF file without #! (ENOEXEC), a directory and a
 * file without x permission (EACCES), a script whose interpreter is missing. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "kvtest.h"

static void run(const char *label, const char *path, char *const argv[], char *const envp[])
{
	fflush(stdout);
	int pfd[2];
	pipe(pfd);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		execve(path, argv, envp);
		int e = errno;
		write(pfd[1], &e, sizeof e);
		_exit(127);
	}
	close(pfd[1]);
	int e = 0;
	long n = read(pfd[0], &e, sizeof e);
	close(pfd[0]);
	int st;
	wait4(pid, &st, 0, NULL);
	printf("%s: execve %s", label, n == sizeof e ? errname(e) : "OK");
	if (WIFEXITED(st))
		printf(", exited %d\n", WEXITSTATUS(st));
	else
		printf(", killed by signal %d\n", WTERMSIG(st));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char *env[] = {"KVTEST=1", "PATH=/bin:/usr/bin", NULL};
	char *noenv[] = {NULL};

	char *a1[] = {"script.sh", "one", "two words", NULL};
	run("#! script", "/opt/kvtest/script.sh", a1, env);
	char *a2[] = {"missing", NULL};
	run("missing file", "/opt/kvtest/missing", a2, env);
	char *a3[] = {"notelf.txt", NULL};
	run("non-ELF without #!", "/opt/kvtest/notelf.txt", a3, env);
	char *a4[] = {"etc", NULL};
	run("directory", "/etc", a4, env);
	char *a5[] = {"passwd", NULL};
	run("no x permission", "/etc/passwd", a5, env);
	char *a6[] = {"badinterp.sh", NULL};
	run("#! with missing interpreter", "/opt/kvtest/badinterp.sh", a6, env);
	char *a7[] = {"sh", "-c", "echo \"sh: $0 $# $KVTEST\"; exit 9", "zero", NULL};
	run("/bin/sh -c", "/bin/sh", a7, env);
	char *a8[] = {"echo", "via", "symlink", NULL};
	run("/bin/echo (symlink to busybox)", "/bin/echo", a8, noenv);
	char *a9[] = {"env", NULL};
	run("env with empty envp", "/usr/bin/env", a9, noenv);
	run("env with envp", "/usr/bin/env", a9, env);
	char *a10[] = {"x", NULL};
	run("path with trailing slash", "/bin/busybox/", a10, env);
	run("empty path", "", a10, env);
	run("missing directory component", "/no/such/dir/prog", a10, env);
	run("path through a file", "/etc/passwd/x", a10, env);
	char *a11[] = {"sh", "-c", "kill -KILL $$", NULL};
	run("child killed by SIGKILL", "/bin/sh", a11, env);

	/* Bad pointers are EFAULT; the child survives to report it. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		long r = syscall(SYS_execve, (char *)0x10, a10, env);
		printf("execve(path 0x10): ret=%ld %s\n", r, errname(errno));
		r = syscall(SYS_execve, "/bin/true", (char **)0x10, env);
		printf("execve(argv 0x10): ret=%ld %s\n", r, errname(errno));
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("bad pointer child exited %d\n", WEXITSTATUS(st));
	return 0;
}
