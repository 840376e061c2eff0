//go:build ignore

/* sysemu.c: the ptrace platform's floor. Prints the mean cost in ns of one
 * bare PTRACE_SYSEMU round trip over N guest system calls: a child calls
 * getpid(2) in a loop; the tracer, pinned with the child to one CPU
 * (sched_setaffinity(2)), resumes it with PTRACE_SYSEMU, waits for the stop,
 * and does PTRACE_GETREGS + PTRACE_SETREGS (the result in rax) per call, as a
 * minimal sentry would (ptrace(2), "PTRACE_SYSEMU"). Runs on the host, never
 * inside a sandbox. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_SYSEMU
#define PTRACE_SYSEMU 31
#endif

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &set);
	if (sched_setaffinity(0, sizeof set, &set)) { /* the child inherits it */
		perror("sched_setaffinity");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0))
			_exit(1);
		raise(SIGSTOP);
		for (;;)
			syscall(SYS_getpid);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) {
		fprintf(stderr, "child did not stop (status %#x)\n", st);
		return 1;
	}
	ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)PTRACE_O_EXITKILL);
	struct user_regs_struct regs;
	struct timespec a, b;
	long warm = n / 10 + 1;
	for (long i = 0; i < warm + n; i++) {
		if (i == warm)
			clock_gettime(CLOCK_MONOTONIC, &a);
		if (ptrace(PTRACE_SYSEMU, pid, 0, 0) || waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) {
			fprintf(stderr, "round %ld: ptrace/wait failed (status %#x)\n", i, st);
			kill(pid, SIGKILL);
			return 1;
		}
		if (ptrace(PTRACE_GETREGS, pid, 0, &regs)) {
			perror("PTRACE_GETREGS");
			kill(pid, SIGKILL);
			return 1;
		}
		regs.rax = regs.orig_rax == SYS_getpid ? (unsigned long long)pid : (unsigned long long)-38;
		if (ptrace(PTRACE_SETREGS, pid, 0, &regs)) {
			perror("PTRACE_SETREGS");
			kill(pid, SIGKILL);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("%.1f\n", ns / n);
	return 0;
}
