//go:build ignore

/* pdeathsig.c: prctl(2) PR_SET_PDEATHSIG/PR_GET_PDEATHSIG. The signal is sent
 * when the parent *thread* exits (kernel/exit.c forget_original_parent), even
 * though its process lives on and stays the child's parent; it is sent when
 * the parent process exits; it is cleared in a forked child. Each child
 * reports through a pipe, and the reports are printed in a fixed order. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <sys/prctl.h>
#include "kvproc.h"

static volatile sig_atomic_t got_sig;

static void on_sig(int sig)
{
	got_sig = sig;
}

/* await_signal waits (at most 5 s) for the handler to run. */
static int await_signal(void)
{
	for (int i = 0; i < 5000 && !got_sig; i++)
		sleep_ms(1);
	return got_sig;
}

struct thread_args {
	int ready[2]; /* the child writes once its death signal is set */
	int report[2];
	pid_t child;
	pid_t process;
};

static void *forking_thread(void *arg)
{
	struct thread_args *a = arg;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGUSR1, on_sig);
		prctl(PR_SET_PDEATHSIG, SIGUSR1);
		int sig = 0;
		prctl(PR_GET_PDEATHSIG, &sig);
		int parent_ok = getppid() == a->process;
		write(a->ready[1], "x", 1);
		int got = await_signal();
		char buf[200];
		int n = snprintf(buf, sizeof buf,
				 "thread's child: PR_GET_PDEATHSIG=%d parent was the process=%d got signal %d after the thread exited; "
				 "parent still the process=%d\n",
				 sig, parent_ok, got, getppid() == a->process);
		write(a->report[1], buf, n);
		_exit(0);
	}
	a->child = pid;
	char c;
	read(a->ready[0], &c, 1);
	return NULL; /* the thread exits; the process stays */
}

static void thread_parent(void)
{
	struct thread_args a = {.process = getpid()};
	pipe(a.ready);
	pipe(a.report);
	pthread_t th;
	pthread_create(&th, NULL, forking_thread, &a);
	pthread_join(th, NULL);
	char buf[256];
	int n = read(a.report[0], buf, sizeof buf - 1);
	if (n > 0) {
		buf[n] = 0;
		fputs(buf, stdout);
	}
	printf("thread's child %s (reaped by the main thread)\n", reap(a.child));
}

static void process_parent(void)
{
	int report[2], ready[2];
	pipe(report);
	pipe(ready);
	fflush(stdout);
	pid_t mid = fork();
	if (mid == 0) {
		pid_t me = getpid();
		pid_t g = fork();
		if (g == 0) {
			signal(SIGUSR2, on_sig);
			prctl(PR_SET_PDEATHSIG, SIGUSR2);
			int parent_ok = getppid() == me;
			/* A child forked now does not inherit the setting. */
			int inherited = -1;
			int p[2];
			pipe(p);
			pid_t gg = fork();
			if (gg == 0) {
				int s = -1;
				prctl(PR_GET_PDEATHSIG, &s);
				write(p[1], &s, sizeof s);
				_exit(0);
			}
			read(p[0], &inherited, sizeof inherited);
			waitpid(gg, NULL, 0);
			write(ready[1], "x", 1);
			int got = await_signal();
			char buf[200];
			int n = snprintf(buf, sizeof buf,
					 "process's child: parent was the process=%d forked child's PR_GET_PDEATHSIG=%d "
					 "got signal %d after its parent exited; parent changed=%d\n",
					 parent_ok, inherited, got, getppid() != me);
			write(report[1], buf, n);
			_exit(0);
		}
		char c;
		read(ready[0], &c, 1);
		_exit(0);
	}
	close(report[1]);
	printf("middle process %s\n", reap(mid));
	char buf[256];
	int n = read(report[0], buf, sizeof buf - 1);
	if (n > 0) {
		buf[n] = 0;
		fputs(buf, stdout);
	}
	close(report[0]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int sig = -1;
	CHECK2("PR_GET_PDEATHSIG", prctl(PR_GET_PDEATHSIG, &sig));
	printf("  initial=%d\n", sig);
	CHECK2("PR_SET_PDEATHSIG(SIGTERM)", prctl(PR_SET_PDEATHSIG, SIGTERM));
	prctl(PR_GET_PDEATHSIG, &sig);
	printf("  now=%d\n", sig);
	CHECK2("PR_SET_PDEATHSIG(65)", prctl(PR_SET_PDEATHSIG, 65));
	CHECK2("PR_SET_PDEATHSIG(-1)", prctl(PR_SET_PDEATHSIG, -1));
	CHECK2("PR_GET_PDEATHSIG(0x10)", prctl(PR_GET_PDEATHSIG, (int *)0x10));
	CHECK2("PR_SET_PDEATHSIG(0)", prctl(PR_SET_PDEATHSIG, 0));
	thread_parent();
	process_parent();
	return 0;
}
