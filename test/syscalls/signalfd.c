//go:build ignore

/* signalfd.c: signalfd(2)/signalfd4(2) and rt_tgsigqueueinfo(2): records
 * read from blocked pending signals (kill, tkill, sigqueue values, real-time
 * queues, SIGCHLD), readiness for poll and epoll, O_NONBLOCK and EAGAIN, a
 * blocking read woken by another process, mask updates, errors; and
 * rt_sigtimedwait woken by a signal another process sends. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "kvtest.h"

static pid_t pid, tid;

static void pollbits(const char *label, int fd)
{
	struct pollfd p = {fd, POLLIN | POLLOUT, 0};
	int n = poll(&p, 1, 0);
	printf("%s: poll=%d revents=%#x\n", label, n, p.revents);
}

/* rd reads up to n records and prints them. */
static void rd(const char *label, int fd, int n)
{
	struct signalfd_siginfo si[8];
	errno = 0;
	ssize_t r = read(fd, si, n * sizeof si[0]);
	printf("%s: ret=%ld %s\n", label, (long)r, r < 0 ? errname(errno) : "OK");
	for (int i = 0; r > 0 && i < r / (ssize_t)sizeof si[0]; i++)
		printf("  signo=%u code=%d pid_ok=%d uid=%u int=%d ptr=%#llx status=%d tid=%u\n",
		       si[i].ssi_signo, si[i].ssi_code, si[i].ssi_pid == (uint32_t)pid, si[i].ssi_uid,
		       si[i].ssi_int, (unsigned long long)si[i].ssi_ptr, si[i].ssi_status, si[i].ssi_tid);
}

static long tgsigqueue(pid_t tgid, pid_t t, int sig, siginfo_t *si)
{
	return syscall(SYS_rt_tgsigqueueinfo, tgid, t, sig, si);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pid = getpid();
	tid = syscall(SYS_gettid);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGRTMIN);
	sigaddset(&m, SIGCHLD);
	sigprocmask(SIG_BLOCK, &m, NULL);

	/* Errors. */
	CHECK("signalfd4(bad flags)", syscall(SYS_signalfd4, -1, &m, 8, 1));
	CHECK("signalfd4(size 4)", syscall(SYS_signalfd4, -1, &m, 4, 0));
	CHECK("signalfd4(mask 0x10)", syscall(SYS_signalfd4, -1, (void *)0x10, 8, 0));
	CHECK("signalfd(fd 99)", signalfd(99, &m, 0));
	CHECK("signalfd(fd 0, not a signalfd)", signalfd(0, &m, 0));

	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	int fd = signalfd(-1, &one, SFD_NONBLOCK | SFD_CLOEXEC);
	printf("signalfd: ok=%d F_GETFL=%#x F_GETFD=%d\n", fd >= 0, fcntl(fd, F_GETFL), fcntl(fd, F_GETFD));
	char path[64], link[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t ln = readlink(path, link, sizeof link - 1);
	link[ln < 0 ? 0 : ln] = 0;
	printf("  link: %s\n", link);
	struct stat st;
	fstat(fd, &st);
	printf("  fstat: mode=%#o nlink=%ld\n", st.st_mode, (long)st.st_nlink);
	pollbits("nothing pending", fd);
	rd("read(nothing pending)", fd, 1);
	char small[100];
	CHECK("read(100 bytes)", read(fd, small, sizeof small));
	CHECK("write", write(fd, small, 8));

	raise(SIGUSR1);
	pollbits("SIGUSR1 pending", fd);
	sigset_t pend;
	sigpending(&pend);
	printf("  sigpending has SIGUSR1=%d\n", sigismember(&pend, SIGUSR1));
	rd("read(SIGUSR1 raised)", fd, 2);
	sigpending(&pend);
	printf("  after read: sigpending has SIGUSR1=%d\n", sigismember(&pend, SIGUSR1));
	pollbits("after read", fd);

	/* A signal outside the mask stays pending; a new mask reports it. */
	kill(pid, SIGUSR2);
	pollbits("SIGUSR2 pending, mask {USR1}", fd);
	sigset_t both = one;
	sigaddset(&both, SIGUSR2);
	sigaddset(&both, SIGRTMIN);
	sigaddset(&both, SIGKILL);
	CHECK("signalfd(existing fd, {USR1,USR2,RTMIN,KILL})", signalfd(fd, &both, 0) == fd);
	pollbits("after mask update", fd);
	rd("read(kill SIGUSR2)", fd, 1);

	/* Real-time signals queue, with their values, and come out in order. */
	for (int i = 1; i <= 3; i++) {
		union sigval v = {.sival_int = 100 + i};
		sigqueue(pid, SIGRTMIN, v);
	}
	raise(SIGUSR1);
	rd("read(3 x sigqueue RTMIN + USR1, room for 8)", fd, 8);

	/* rt_tgsigqueueinfo. */
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_code = SI_QUEUE;
	si.si_pid = pid;
	si.si_uid = 0;
	si.si_value.sival_ptr = (void *)0x1234;
	CHECK("rt_tgsigqueueinfo(self, SIGUSR2)", tgsigqueue(pid, tid, SIGUSR2, &si));
	rd("read(tgsigqueueinfo)", fd, 1);
	CHECK("rt_tgsigqueueinfo(tid 0)", tgsigqueue(pid, 0, SIGUSR2, &si));
	CHECK("rt_tgsigqueueinfo(tgid -1)", tgsigqueue(-1, tid, SIGUSR2, &si));
	CHECK("rt_tgsigqueueinfo(wrong tgid)", tgsigqueue(pid + 100000, tid, SIGUSR2, &si));
	CHECK("rt_tgsigqueueinfo(sig 65)", tgsigqueue(pid, tid, 65, &si));
	CHECK("rt_tgsigqueueinfo(sig 0)", tgsigqueue(pid, tid, 0, &si));
	CHECK("rt_tgsigqueueinfo(bad info)", tgsigqueue(pid, tid, SIGUSR2, (void *)0x10));
	pid_t c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	si.si_code = SI_USER;
	CHECK("rt_tgsigqueueinfo(child, SI_USER)", tgsigqueue(c, c, SIGUSR2, &si));
	si.si_code = SI_QUEUE;
	CHECK("rt_tgsigqueueinfo(child, SI_QUEUE)", tgsigqueue(c, c, SIGTERM, &si));
	int ws;
	waitpid(c, &ws, 0);
	printf("  child killed by signal %d\n", WTERMSIG(ws));
	si.si_code = SI_USER;
	CHECK("rt_sigqueueinfo(self, SI_USER)", syscall(SYS_rt_sigqueueinfo, pid, SIGUSR2, &si));
	rd("read(sigqueueinfo SI_USER)", fd, 1);

	/* epoll readiness. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out[2];
	CHECK("epoll_ctl(ADD signalfd)", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	CHECK("epoll_wait(nothing pending)", epoll_wait(ep, out, 2, 0));
	raise(SIGUSR2);
	int n = epoll_wait(ep, out, 2, 1000);
	printf("epoll_wait(SIGUSR2 raised): n=%d events=%#x data=%u\n", n, n > 0 ? out[0].events : 0, n > 0 ? out[0].data.u32 : 0);
	rd("read", fd, 1);

	/* A blocking read woken by a signal from another process. */
	int bfd = signalfd(-1, &one, 0);
	c = fork();
	if (c == 0) {
		usleep(30000);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	rd("blocking read(child sends SIGUSR1)", bfd, 1);
	waitpid(c, NULL, 0);

	/* SIGCHLD through a signalfd. */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	int cfd = signalfd(-1, &chld, 0);
	c = fork();
	if (c == 0)
		_exit(42);
	struct signalfd_siginfo cs;
	ssize_t r = read(cfd, &cs, sizeof cs);
	printf("SIGCHLD record: ret=%ld signo=%u code=%d pid_ok=%d status=%d\n", (long)r, cs.ssi_signo, cs.ssi_code, cs.ssi_pid == (uint32_t)c, cs.ssi_status);
	waitpid(c, NULL, 0);

	/* rt_sigtimedwait for a blocked signal another process sends. */
	c = fork();
	if (c == 0) {
		usleep(30000);
		kill(getppid(), SIGUSR2);
		_exit(0);
	}
	sigset_t u2;
	sigemptyset(&u2);
	sigaddset(&u2, SIGUSR2);
	struct timespec ts = {5, 0};
	siginfo_t wi;
	int s = sigtimedwait(&u2, &wi, &ts);
	printf("sigtimedwait(child sends SIGUSR2): sig=%d code=%d pid_ok=%d\n", s, wi.si_code, wi.si_pid == c);
	waitpid(c, NULL, 0);
	ts.tv_sec = 0;
	ts.tv_nsec = 1000000;
	CHECK("sigtimedwait(nothing, 1ms)", sigtimedwait(&u2, &wi, &ts));
	return 0;
}
