/* kvproc.h: helpers shared by the process-and-thread test programs (threads.c,
 * futex.c, robust.c, waitid.c ...), on top of kvtest.h. Like kvtest.h, every
 * helper prints only what is the same on every run, natively or sandboxed. */
#ifndef KVPROC_H
#define KVPROC_H

#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "kvtest.h"

/* errname2 is errname plus the errno values of the thread and process tests. */
static inline const char *errname2(int e)
{
	switch (e) {
	case ETIMEDOUT: return "ETIMEDOUT";
	case EOWNERDEAD: return "EOWNERDEAD";
	case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
	case EDEADLK: return "EDEADLK";
	}
	return errname(e);
}

/* CHECK2 is CHECK with errname2. */
#define CHECK2(label, expr) do { \
	errno = 0; \
	long r2_ = (long)(expr); \
	printf("%s: ret=%ld %s\n", (label), r2_, r2_ < 0 ? errname2(errno) : "OK"); \
} while (0)

/* PTH prints "label: NAME" for a pthread_* call that returns an error number. */
#define PTH(label, expr) printf("%s: %s\n", (label), errname2(expr))

/* kv_gettid is gettid(2). */
static inline pid_t kv_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* status_str describes a wait status as "exited N", "killed by signal N",
 * "stopped by signal N" or "continued" (wait(2) macros). */
static inline const char *status_str(int st)
{
	static char buf[64];
	if (WIFEXITED(st))
		snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof buf, "killed by signal %d%s", WTERMSIG(st), WCOREDUMP(st) ? " (core)" : "");
	else if (WIFSTOPPED(st))
		snprintf(buf, sizeof buf, "stopped by signal %d", WSTOPSIG(st));
	else if (WIFCONTINUED(st))
		snprintf(buf, sizeof buf, "continued");
	else
		snprintf(buf, sizeof buf, "status %#x", st);
	return buf;
}

/* reap waits for pid and returns its status_str (or the wait error). */
static inline const char *reap(pid_t pid)
{
	int st;
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r != pid)
		return errname2(errno);
	return status_str(st);
}

/* count_tasks returns the number of entries of /proc/self/task (proc(5)), or -1. */
static inline int count_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* mono_ms returns CLOCK_MONOTONIC in milliseconds. */
static inline long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* sleep_ms sleeps for ms milliseconds (nanosleep(2)), restarting on EINTR. */
static inline void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

#endif
