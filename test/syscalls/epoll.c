//go:build ignore

/* epoll.c: epoll_create(2), epoll_create1(2), epoll_ctl(2), epoll_wait(2),
 * epoll_pwait(2) and epoll_pwait2(2): errno rules, level- and edge-triggered
 * pipes, EPOLLONESHOT re-armed with EPOLL_CTL_MOD, EPOLLHUP/EPOLLERR, data
 * returned as given, nesting (ELOOP), entries dropped when their file is
 * closed, eventfd and timerfd members, wake-ups from another process and a
 * signal let in by epoll_pwait's mask. Prints only what is deterministic. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "kvtest.h"

static volatile sig_atomic_t got;

static void handler(int sig) { got = sig; }

/* ctl runs epoll_ctl with events and data and prints the outcome. */
static void ctl(const char *label, int ep, int op, int fd, unsigned events, unsigned long long data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	CHECK(label, epoll_ctl(ep, op, fd, &ev));
}

/* waitp waits on ep and prints every event as "events/data". */
static void waitp(const char *label, int ep, int max, int timeout)
{
	struct epoll_event evs[8];
	errno = 0;
	int n = epoll_wait(ep, evs, max, timeout);
	printf("%s: ret=%d %s", label, n, n < 0 ? errname(errno) : "OK");
	for (int i = 0; i < n; i++)
		printf(" [%#x/%#llx]", evs[i].events, (unsigned long long)evs[i].data.u64);
	printf("\n");
}

/* link prints what /proc/self/fd/FD points to. */
static void fdlink(const char *label, int fd)
{
	char path[64], buf[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("%s: %s\n", label, buf);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char buf[64];
	CHECK("epoll_create(0)", epoll_create(0));
	CHECK("epoll_create1(EPOLL_NONBLOCK-ish 1)", epoll_create1(1));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	printf("epoll_create1(EPOLL_CLOEXEC) ok=%d FD_CLOEXEC=%d\n", ep >= 0, fcntl(ep, F_GETFD) & FD_CLOEXEC);
	fdlink("  link", ep);
	struct stat st;
	fstat(ep, &st);
	printf("  fstat mode=%o\n", st.st_mode);

	int p[2];
	pipe(p);
	int file = open("/etc/passwd", O_RDONLY);
	ctl("ctl(ADD, regular file)", ep, EPOLL_CTL_ADD, file, EPOLLIN, 0);
	ctl("ctl(ADD, itself)", ep, EPOLL_CTL_ADD, ep, EPOLLIN, 0);
	ctl("ctl(pipe as epfd)", p[0], EPOLL_CTL_ADD, p[1], EPOLLIN, 0);
	ctl("ctl(ADD, closed fd)", ep, EPOLL_CTL_ADD, 99, EPOLLIN, 0);
	ctl("ctl(bad epfd)", 99, EPOLL_CTL_ADD, p[0], EPOLLIN, 0);
	ctl("ctl(DEL, not added)", ep, EPOLL_CTL_DEL, p[0], 0, 0);
	ctl("ctl(MOD, not added)", ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 0);
	ctl("ctl(op 7)", ep, 7, p[0], EPOLLIN, 0);
	CHECK("ctl(ADD, event NULL)", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], NULL));
	CHECK("ctl(DEL, event NULL, not added)", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	ctl("ctl(ADD, EXCLUSIVE|ONESHOT)", ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 0);
	int opath = open("/etc/passwd", O_PATH);
	ctl("ctl(ADD, O_PATH fd)", ep, EPOLL_CTL_ADD, opath, EPOLLIN, 0);
	close(opath);
	close(file);
	struct epoll_event evs[4];
	CHECK("epoll_wait(maxevents 0)", epoll_wait(ep, evs, 0, 0));
	CHECK("epoll_wait(on a pipe)", epoll_wait(p[0], evs, 4, 0));
	CHECK("epoll_wait(bad fd)", epoll_wait(99, evs, 4, 0));

	/* Level-triggered. */
	ctl("ctl(ADD, r, IN)", ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0x1122334455667788ULL);
	ctl("ctl(ADD, r again)", ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0);
	waitp("LT wait, empty", ep, 4, 0);
	write(p[1], "ab", 2);
	waitp("LT wait, data", ep, 4, 0);
	waitp("LT wait, data again", ep, 4, 0);
	struct pollfd pe = {ep, POLLIN, 0};
	poll(&pe, 1, 0);
	printf("poll(epfd) revents=%#x\n", pe.revents);
	read(p[0], buf, sizeof buf);
	waitp("LT wait, drained", ep, 4, 0);
	pe.revents = 0;
	poll(&pe, 1, 0);
	printf("poll(epfd) drained revents=%#x\n", pe.revents);

	/* Edge-triggered: one event per burst, none until new data. */
	ctl("ctl(MOD, r, IN|ET)", ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLET, 0xe7);
	waitp("ET wait, empty", ep, 4, 0);
	write(p[1], "1", 1);
	write(p[1], "2", 1);
	write(p[1], "3", 1);
	waitp("ET wait after a burst of 3 writes", ep, 4, 0);
	waitp("ET wait again", ep, 4, 0);
	read(p[0], buf, 1);
	waitp("ET wait after a partial read", ep, 4, 0);
	write(p[1], "4", 1);
	waitp("ET wait after new data", ep, 4, 0);
	read(p[0], buf, sizeof buf);
	waitp("ET wait after draining", ep, 4, 0);
	write(p[1], "5", 1);
	waitp("ET wait after more data", ep, 4, 0);
	read(p[0], buf, sizeof buf);

	/* One-shot, re-armed with MOD. */
	ctl("ctl(MOD, r, IN|ONESHOT)", ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLONESHOT, 0x05);
	write(p[1], "a", 1);
	waitp("ONESHOT wait", ep, 4, 0);
	write(p[1], "b", 1);
	waitp("ONESHOT wait, disarmed", ep, 4, 0);
	ctl("ctl(MOD, rearm)", ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLONESHOT, 0x06);
	waitp("ONESHOT wait, rearmed", ep, 4, 0);
	ctl("ctl(MOD, EXCLUSIVE)", ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLEXCLUSIVE, 0);
	read(p[0], buf, sizeof buf);

	/* The write end, then hang-ups. */
	ctl("ctl(ADD, w, OUT)", ep, EPOLL_CTL_ADD, p[1], EPOLLOUT, 0x77);
	ctl("ctl(MOD, r, IN)", ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 0x66);
	waitp("wait, w writable", ep, 4, 0);
	ctl("ctl(DEL, w)", ep, EPOLL_CTL_DEL, p[1], 0, 0);
	write(p[1], "q", 1);
	close(p[1]);
	waitp("wait, data and writer closed", ep, 4, 0);
	read(p[0], buf, sizeof buf);
	waitp("wait, writer closed, drained", ep, 4, 0);
	ctl("ctl(MOD, r, events 0)", ep, EPOLL_CTL_MOD, p[0], 0, 0x67);
	waitp("wait, events 0 still gets HUP", ep, 4, 0);
	close(p[0]);
	waitp("wait, read end closed (entry dropped)", ep, 4, 0);
	pipe(p);
	ctl("ctl(ADD, w, OUT)", ep, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLET, 0x78);
	close(p[0]);
	waitp("wait, reader closed", ep, 4, 0);
	close(p[1]);

	/* maxevents smaller than the ready set. */
	int e1 = eventfd(1, 0), e2 = eventfd(1, 0), e3 = eventfd(1, 0);
	ctl("ctl(ADD, e1)", ep, EPOLL_CTL_ADD, e1, EPOLLIN, 1);
	ctl("ctl(ADD, e2)", ep, EPOLL_CTL_ADD, e2, EPOLLIN, 2);
	ctl("ctl(ADD, e3)", ep, EPOLL_CTL_ADD, e3, EPOLLIN, 3);
	waitp("wait max 2", ep, 2, 0);
	waitp("wait max 2 again", ep, 2, 0);
	waitp("wait max 4", ep, 4, 0);
	/* An entry lives as long as its file, not its fd. */
	int e1dup = dup(e1);
	close(e1);
	waitp("wait, e1 closed but dup'd", ep, 4, 0);
	ctl("ctl(DEL, closed fd e1)", ep, EPOLL_CTL_DEL, e1, 0, 0);
	close(e1dup);
	close(e2);
	close(e3);
	waitp("wait, all closed", ep, 4, 0);

	/* eventfd, edge-triggered: every write is an event. */
	int efd = eventfd(0, EFD_NONBLOCK);
	ctl("ctl(ADD, eventfd, IN|ET)", ep, EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLET, 0xef);
	waitp("eventfd ET, zero", ep, 4, 0);
	eventfd_write(efd, 1);
	waitp("eventfd ET, after write", ep, 4, 0);
	waitp("eventfd ET, again", ep, 4, 0);
	eventfd_write(efd, 1);
	waitp("eventfd ET, after a second write", ep, 4, 0);
	eventfd_t v;
	eventfd_read(efd, &v);
	waitp("eventfd ET, after read", ep, 4, 0);
	close(efd);

	/* timerfd member. */
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	ctl("ctl(ADD, timerfd)", ep, EPOLL_CTL_ADD, tfd, EPOLLIN, 0x7f);
	struct itimerspec its = {{0, 0}, {0, 20000000}};
	timerfd_settime(tfd, 0, &its, NULL);
	waitp("timerfd, armed 20ms, wait 0", ep, 4, 0);
	waitp("timerfd, wait 2s", ep, 4, 2000);
	close(tfd);

	/* Nesting. */
	int a = epoll_create1(0), b = epoll_create1(0);
	ctl("ctl(a ADD b)", a, EPOLL_CTL_ADD, b, EPOLLIN, 0xb);
	ctl("ctl(b ADD a)", b, EPOLL_CTL_ADD, a, EPOLLIN, 0xa);
	ctl("ctl(a ADD b, EXCLUSIVE)", a, EPOLL_CTL_ADD, epoll_create1(0), EPOLLIN | EPOLLEXCLUSIVE, 0);
	pipe(p);
	ctl("ctl(b ADD r)", b, EPOLL_CTL_ADD, p[0], EPOLLIN, 0x99);
	waitp("a, empty", a, 4, 0);
	write(p[1], "n", 1);
	waitp("a, after write to b's pipe", a, 4, 0);
	waitp("b", b, 4, 0);
	int chain[8], depth = 0;
	chain[0] = epoll_create1(0);
	for (int i = 1; i < 8; i++) {
		chain[i] = epoll_create1(0);
		errno = 0;
		if (epoll_ctl(chain[i], EPOLL_CTL_ADD, chain[i - 1], &(struct epoll_event){.events = EPOLLIN}) < 0) {
			printf("nesting chain: link %d failed %s\n", i, errname(errno));
			break;
		}
		depth = i;
	}
	printf("nesting chain: %d links\n", depth);
	read(p[0], buf, sizeof buf);

	/* Timeouts and wake-ups. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	waitp("wait 30ms, nothing", a, 4, 30);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("  waited>=30ms=%d\n", (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 30);
	pid_t child = fork();
	if (child == 0) {
		usleep(30000);
		write(p[1], "w", 1);
		_exit(0);
	}
	waitp("b, wait forever, woken by a child's write", b, 4, -1);
	waitpid(child, NULL, 0);
	read(p[0], buf, sizeof buf);
	struct timespec ts = {0, 20000000};
	CHECK("epoll_pwait2(20ms)", syscall(SYS_epoll_pwait2, b, evs, 4, &ts, NULL, 8));
	ts.tv_nsec = -1;
	CHECK("epoll_pwait2(tv_nsec=-1)", syscall(SYS_epoll_pwait2, b, evs, 4, &ts, NULL, 8));

	/* epoll_pwait letting a pending signal in. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t block, empty, cur;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);
	kill(getpid(), SIGUSR1);
	CHECK("epoll_pwait(0ms, mask lets USR1 in)", epoll_pwait(b, evs, 4, 0, &empty));
	printf("  handled=%d\n", (int)got);
	CHECK("epoll_pwait(forever, mask lets USR1 in)", epoll_pwait(b, evs, 4, -1, &empty));
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("  handled=%d blocked after=%d\n", (int)got, sigismember(&cur, SIGUSR1));
	CHECK("epoll_pwait(sigsetsize 4)", syscall(SYS_epoll_pwait, b, evs, 4, 0, &empty, 4));
	return 0;
}
