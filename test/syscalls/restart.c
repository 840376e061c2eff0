//go:build ignore

/* restart.c: sleeping syscalls interrupted by a signal (kernel/signal.c
 * restart_syscall(2)). A child sleeping 900 ms that is stopped at ~350 ms
 * and continued at ~430 ms must wake at its original deadline: nanosleep,
 * clock_nanosleep (relative and TIMER_ABSTIME), poll, ppoll, select and
 * futex restart with the time left (a full restart would take >= 1330 ms);
 * epoll_wait fails with EINTR instead. With a handler, nanosleep, poll and
 * a timed futex wait fail with EINTR even under SA_RESTART, nanosleep
 * writing the time left to rem; restart_syscall without an interrupted call
 * fails with EINTR. Only booleans and errno names are printed. */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "kvtest.h"

#define FUTEX_WAIT_PRIVATE 128 /* FUTEX_WAIT | FUTEX_PRIVATE_FLAG */

/* Time left honoured: ~900 ms; full timeout again: >= 1330 ms; a child
 * stopped before it entered its call (a loaded machine): ~980 ms. The
 * limit sits ~170 ms from both. */
#define SLEEP_MS 900
#define STOP_MS 350 /* after every child is ready */
#define CONT_MS 430 /* after every child is ready */
#define LIMIT_MS 1150

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void msleep(long ms)
{
	struct timespec ts = {ms / 1000, ms % 1000 * 1000000};
	while (nanosleep(&ts, &ts) < 0)
		;
}

static void on_usr1(int sig) { (void)sig; }

/* ename is errname with ETIMEDOUT. */
static const char *ename(int e) { return e == ETIMEDOUT ? "ETIMEDOUT" : errname(e); }

static uint32_t futex_word;

/* call runs test case c once, returning the syscall's result (errno set). */
static long call(int c, char *extra, size_t extralen)
{
	struct timespec ts = {0, SLEEP_MS * 1000000L};
	switch (c) {
	case 0:
		return nanosleep(&ts, NULL);
	case 1:
		return syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
	case 2: {
		struct timespec abs;
		clock_gettime(CLOCK_MONOTONIC, &abs);
		abs.tv_nsec += SLEEP_MS * 1000000L;
		if (abs.tv_nsec >= 1000000000L) {
			abs.tv_sec++;
			abs.tv_nsec -= 1000000000L;
		}
		return syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL);
	}
	case 3: {
		int p[2];
		pipe(p);
		struct pollfd pf = {p[0], POLLIN, 0};
		return poll(&pf, 1, SLEEP_MS);
	}
	case 4: {
		int p[2];
		pipe(p);
		struct pollfd pf = {p[0], POLLIN, 0};
		long r = syscall(SYS_ppoll, &pf, 1, &ts, NULL, 8);
		snprintf(extra, extralen, " ts_left_zero=%d", ts.tv_sec == 0 && ts.tv_nsec == 0);
		return r;
	}
	case 5: {
		int p[2];
		pipe(p);
		fd_set rs;
		FD_ZERO(&rs);
		FD_SET(p[0], &rs);
		struct timeval tv = {0, SLEEP_MS * 1000};
		long r = syscall(SYS_select, p[0] + 1, &rs, NULL, NULL, &tv);
		snprintf(extra, extralen, " tv_left_zero=%d", tv.tv_sec == 0 && tv.tv_usec == 0);
		return r;
	}
	case 6:
		return syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
	case 7: {
		int ep = epoll_create1(0);
		struct epoll_event ev;
		return epoll_wait(ep, &ev, 1, SLEEP_MS);
	}
	}
	return -1;
}

static const char *names[] = {"nanosleep", "clock_nanosleep", "clock_nanosleep(ABSTIME)",
	"poll", "ppoll", "select", "futex(WAIT)", "epoll_wait"};
#define NCASES 8

/* child runs case c, after telling the parent it is about to block, and
 * writes one line of results to out. */
static void child(int c, int ready, int out)
{
	char extra[64] = "";
	write(ready, "r", 1);
	long t0 = now_ms();
	errno = 0;
	long r = call(c, extra, sizeof extra);
	int e = r < 0 ? errno : 0;
	long el = now_ms() - t0;
	char line[200];
	int n;
	if (c == 7)
		n = snprintf(line, sizeof line, "%s stopped and continued: ret=%ld %s\n", names[c], r, ename(e));
	else
		n = snprintf(line, sizeof line, "%s stopped and continued: ret=%ld %s full_sleep=%d time_left_honoured=%d%s\n",
			names[c], r, ename(e), el >= SLEEP_MS - 10, el < LIMIT_MS, extra);
	write(out, line, n);
	_exit(0);
}

/* handler_child runs the interrupted-by-a-handler cases. */
static void handler_child(int c, int ready, int out)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = c == 0 ? 0 : SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	char line[200];
	int n = 0;
	struct timespec ts = {0, SLEEP_MS * 1000000L}, rem = {-1, -1};
	write(ready, "r", 1);
	long t0 = now_ms();
	errno = 0;
	long r;
	const char *what;
	switch (c) {
	case 0:
		what = "nanosleep";
		r = nanosleep(&ts, &rem);
		break;
	case 1: {
		what = "poll (SA_RESTART)";
		int p[2];
		pipe(p);
		struct pollfd pf = {p[0], POLLIN, 0};
		r = poll(&pf, 1, SLEEP_MS);
		break;
	}
	default:
		what = "futex(WAIT, timeout) (SA_RESTART)";
		r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
		break;
	}
	int e = r < 0 ? errno : 0;
	long el = now_ms() - t0;
	n = snprintf(line, sizeof line, "%s with a handler: ret=%ld %s early=%d", what, r, errname(e), el < SLEEP_MS - 50);
	if (c == 0) {
		long remms = rem.tv_sec * 1000 + rem.tv_nsec / 1000000;
		n += snprintf(line + n, sizeof line - n, " rem_ok=%d", rem.tv_sec == 0 && remms > 0 && remms <= SLEEP_MS - 50 && remms + el >= SLEEP_MS - 20);
	}
	/* The handler's rt_sigreturn voided the restart. */
	errno = 0;
	r = syscall(SYS_restart_syscall);
	n += snprintf(line + n, sizeof line - n, "; restart_syscall after: ret=%ld %s\n", r, errname(r < 0 ? errno : 0));
	write(out, line, n);
	_exit(0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	/* nanosleep's entry clears the restart block, as in Linux. */
	struct timespec zero = {0, 0};
	nanosleep(&zero, NULL);
	CHECK("restart_syscall without an interrupted call", syscall(SYS_restart_syscall));

	enum { NH = 3 };
	pid_t pids[NCASES + NH];
	int outs[NCASES + NH];
	int ready[2];
	pipe(ready);
	for (int i = 0; i < NCASES + NH; i++) {
		int o[2];
		pipe(o);
		pids[i] = fork();
		if (pids[i] == 0) {
			close(o[0]);
			if (i < NCASES)
				child(i, ready[1], o[1]);
			handler_child(i - NCASES, ready[1], o[1]);
		}
		close(o[1]);
		outs[i] = o[0];
	}
	for (int i = 0; i < NCASES + NH; i++) {
		char c;
		read(ready[0], &c, 1);
	}
	msleep(STOP_MS);
	for (int i = 0; i < NCASES; i++)
		kill(pids[i], SIGSTOP);
	for (int i = NCASES; i < NCASES + NH; i++)
		kill(pids[i], SIGUSR1);
	msleep(CONT_MS - STOP_MS);
	for (int i = 0; i < NCASES; i++)
		kill(pids[i], SIGCONT);
	for (int i = 0; i < NCASES + NH; i++) {
		char buf[256];
		ssize_t n = read(outs[i], buf, sizeof buf - 1);
		if (n > 0)
			fwrite(buf, 1, n, stdout);
		int st;
		waitpid(pids[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			printf("case %d: status %#x\n", i, st);
	}
	return 0;
}
