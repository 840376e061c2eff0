//go:build ignore

/* sigtimer.c: an interval timer (setitimer ITIMER_REAL, 200 us) fires
 * SIGALRM continuously while a slow SIGCHLD handler reaps 200 exiting
 * children and main computes a checksum in FP and integer registers.
 * Nothing may be corrupted, every child must be reaped exactly once with its
 * exit status, and interrupted syscalls restart (SA_RESTART). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 200

static volatile long alarms, reaped, statussum, handler_errors;
static volatile unsigned char seen[1 << 16];

static void on_alarm(int sig)
{
	int e = errno;
	volatile double x = 1.0;
	for (int i = 0; i < 20; i++)
		x = x * 1.0001 + 0.5;
	if (x < 10.0)
		handler_errors++;
	alarms++;
	errno = e;
}

static void on_chld(int sig)
{
	int e = errno;
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p <= 0)
			break;
		if (seen[p & 0xffff]++)
			handler_errors++;
		if (!WIFEXITED(st))
			handler_errors++;
		statussum += WEXITSTATUS(st);
		reaped++;
		/* Slow: let timer signals nest on top of this handler. */
		volatile double x = 0;
		for (int i = 0; i < 20000; i++)
			x += i * 0.5;
		if (x != 0.5 * 19999.0 * 20000.0 / 2)
			handler_errors++;
	}
	errno = e;
}

/* work computes a value in registers; signals arrive in the middle. */
static double work(int n)
{
	double a = 0, b = 1;
	long k = 0;
	for (int i = 1; i <= n; i++) {
		a += 1.0 / i;
		b *= 1.000001;
		k += i ^ (i >> 3);
	}
	return a + b + (double)(k % 1000003);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	double want = work(200000);

	struct itimerval it = {{0, 200}, {0, 200}};
	setitimer(ITIMER_REAL, &it, NULL);
	long expected = 0, forkfail = 0, bad = 0;
	for (int i = 0; i < CHILDREN; i++) {
		pid_t p = fork();
		if (p == 0) {
			struct itimerval off = {{0, 0}, {0, 0}}, cur;
			getitimer(ITIMER_REAL, &cur);
			if (cur.it_value.tv_sec || cur.it_value.tv_usec)
				_exit(255); /* timers are not inherited */
			_exit(i % 100);
			(void)off;
		}
		if (p < 0) {
			forkfail++;
			continue;
		}
		expected += i % 100;
		if (i % 20 == 0 && work(20000) != work(20000))
			bad++;
	}
	double got = work(200000);
	sigset_t none, chld;
	sigemptyset(&none);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	while (reaped < CHILDREN - forkfail)
		sigsuspend(&none);
	long reaped200 = reaped, sum200 = statussum;
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	/* A slow syscall interrupted by the timer restarts. */
	int fds[2];
	pipe(fds);
	if (fork() == 0) {
		usleep(20000);
		write(fds[1], "z", 1);
		_exit(0);
	}
	char c = 0;
	ssize_t n = read(fds[0], &c, 1);
	printf("read across timer signals: n=%ld c=%c\n", (long)n, c);
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	printf("children=%d fork failures=%ld reaped=%ld statussum ok=%d\n",
	       CHILDREN, forkfail, reaped200, sum200 == expected);
	printf("checksum ok=%d bad=%ld handler errors=%ld alarms>0=%d\n", got == want, bad, handler_errors, alarms > 0);
	return 0;
}
