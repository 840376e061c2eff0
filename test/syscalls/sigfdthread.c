//go:build ignore

/* sigfdthread.c: a signalfd reads and polls the signals of whoever uses it
 * (fs/signalfd.c uses current): thread B reading a signalfd thread A
 * created sees its own thread-directed signals and the process's, never
 * A's; poll and epoll readiness follow the polling thread; a blocking read
 * in B wakes for a signal sent to B; a forked child reading the parent's
 * signalfd sees only its own signals. */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "kvtest.h"

static int sfd, sfdblock, ep;
static pid_t pid, atid;

static int gettid_(void) { return syscall(SYS_gettid); }

static void tgkill_(pid_t tid, int sig) { syscall(SYS_tgkill, pid, tid, sig); }

static void pollsfd(const char *who)
{
	struct pollfd p = {sfd, POLLIN, 0};
	int n = poll(&p, 1, 0);
	printf("%s: poll=%d revents=%#x\n", who, n, p.revents);
}

static void epollsfd(const char *who)
{
	struct epoll_event ev;
	memset(&ev, 0, sizeof ev);
	int n = epoll_wait(ep, &ev, 1, 0);
	printf("%s: epoll_wait=%d events=%#x\n", who, n, n > 0 ? ev.events : 0);
}

static void rd(const char *who, int fd)
{
	struct signalfd_siginfo si[4];
	errno = 0;
	ssize_t r = read(fd, si, sizeof si);
	printf("%s: read ret=%ld %s\n", who, (long)r, r < 0 ? errname(errno) : "OK");
	for (int i = 0; r > 0 && i < r / (ssize_t)sizeof si[0]; i++)
		printf("  signo=%u code=%d pid_ok=%d\n", si[i].ssi_signo, si[i].ssi_code, (pid_t)si[i].ssi_pid == pid);
}

static void *sender(void *arg)
{
	pid_t btid = *(pid_t *)arg;
	struct timespec ts = {0, 50 * 1000000L};
	nanosleep(&ts, NULL);
	tgkill_(btid, SIGUSR1);
	return NULL;
}

static void *thread_b(void *arg)
{
	(void)arg;
	pid_t btid = gettid_();
	pollsfd("B, A's SIGUSR2 pending on A");
	epollsfd("B, A's SIGUSR2 pending on A");
	rd("B, A's SIGUSR2 pending on A", sfd);
	tgkill_(btid, SIGUSR1);
	kill(pid, SIGUSR2);
	pollsfd("B, SIGUSR1 to B and SIGUSR2 to the process");
	epollsfd("B, SIGUSR1 to B and SIGUSR2 to the process");
	rd("B, SIGUSR1 to B and SIGUSR2 to the process", sfd);
	rd("B, again", sfd);
	pthread_t s;
	pthread_create(&s, NULL, sender, &btid);
	rd("B, blocking read, SIGUSR1 to B in 50 ms", sfdblock);
	pthread_join(s, NULL);
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	alarm(20); /* a blocking read that never wakes ends the test */
	pid = getpid();
	atid = gettid_();
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	sfd = signalfd(-1, &m, SFD_NONBLOCK);
	sfdblock = signalfd(-1, &m, 0);
	ep = epoll_create1(0);
	tgkill_(atid, SIGUSR2);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
	CHECK("A: epoll_ctl(ADD signalfd)", epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev));
	pollsfd("A, SIGUSR2 pending on A");

	pthread_t b;
	pthread_create(&b, NULL, thread_b, NULL);
	pthread_join(b, NULL);

	pollsfd("A, after B");
	rd("A, after B", sfd);
	rd("A, again", sfd);

	/* A forked child reads the parent's signalfd: its own signals only. */
	kill(pid, SIGUSR2);
	pid_t c = fork();
	if (c == 0) {
		pid = getpid();
		pollsfd("child, parent's SIGUSR2 pending");
		rd("child, parent's SIGUSR2 pending", sfd);
		kill(pid, SIGUSR1);
		rd("child, SIGUSR1 to itself", sfd);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	printf("child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	rd("A, after the child", sfd);
	return 0;
}
